"""The training page for force trainers (``/training``), served by ``hocr serve`` beside the API.

- ``/training``: the library of worked cases by section and category, each with its scenario;
- ``/training/case?id=...``: a case's incident as a form generated from the incident schema, with
  the explanation and the decision; changing a fact posts the form (htmx, on change) and the
  decision, explanation and "what would change this" come back as one server-rendered fragment;
- ``/training/quiz``: a scenario, the trainee's answer, then the rules' answer and a score (a
  plain form post; the score travels in the form, signed);
- ``/training/rules``: the rulebook by section, each rule with its citation, verification, dates
  and the worked cases that rely on it.

Everything is rendered on the server from Jinja2 templates; the only script is htmx, vendored
with its licence under ``static/``. Nothing is fetched from the internet. Bad input is answered
with a 4xx page whose messages name fields, never their values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import random
import secrets
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..catalogue import UnknownCode, find_code
from ..incident import InputProblem
from ..library import WorkedCase, cases_by_rule, find_case, load_library
from ..loader import Rulebook
from ..whynot import WhyNotError
from . import bodies, explaining, schema_form
from .app import Service, decide, parse_date, parse_incident, service_of, why_not_target
from .errors import ServiceError

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
HTMX = "htmx-2.0.10.min.js"  # release v2.0.10 of bigskysoftware/htmx, BSD Zero Clause (static/htmx-LICENSE.txt)
QUIZ_TRIES = 40  # random cases tried for a quiz question with a decided answer


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["case_url"] = case_url
    env.filters["answer"] = explaining.answer_text
    env.globals["htmx"] = HTMX
    return env


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(environment().get_template(f"training/{name}").render(**context), status)


def case_url(case_id: str) -> str:
    return "/training/case?id=" + quote(case_id, safe="")


def problem_page(exc: ServiceError, fragment: bool = False) -> HTMLResponse:
    """A refusal as a page (or, for htmx, a fragment): the problems by field, never a value."""
    heading = "Not found" if exc.status == 404 else "This cannot be decided as it stands"
    return page("problems_list.html" if fragment else "problems.html", exc.status, problems=exc.problems, heading=heading)


# ---------------------------------------------------------------------------------------------
# the library
# ---------------------------------------------------------------------------------------------


def sections(cases: Sequence[WorkedCase]) -> dict[str, dict[str, list[WorkedCase]]]:
    """The cases by section, then by category (library order)."""
    out: dict[str, dict[str, list[WorkedCase]]] = {}
    for case in cases:
        out.setdefault(case.section or "(top)", {}).setdefault(case.category, []).append(case)
    return out


async def library_index(request: Request) -> Response:
    return page("library.html", sections=sections(load_library()), book=service_of(request).book)


async def library_category(request: Request) -> Response:
    file = request.path_params["file"]
    cases = [c for c in load_library() if c.file == f"{file}.yaml"]
    if not cases:
        return problem_page(ServiceError(404, "no such category of worked cases", "/file"))
    return page("category.html", cases=cases, section=cases[0].section, category=cases[0].category)


# ---------------------------------------------------------------------------------------------
# a case: the form, the explanation, the decision
# ---------------------------------------------------------------------------------------------


async def evaluated(service: Service, incident: Any, as_of: dt.date | None) -> dict[str, Any]:
    """The decision (without its trace) with its explanation; ServiceError for bad input."""
    decision = await decide(service, incident, as_of, True)
    trace = decision.pop("trace")
    decision["explanation"] = await service.pool.run(lambda: explaining.explanation(service.book, incident, decision, trace))
    return decision


async def outcome_context(service: Service, incident: Any, as_of: dt.date | None) -> dict[str, Any]:
    """The decision part of a case page: the decision, or the problems that stopped it."""
    try:
        return {"decision": await evaluated(service, incident, as_of), "problems": ()}
    except ServiceError as exc:
        if exc.status >= 500:
            raise
        return {"decision": None, "problems": exc.problems}


async def case_page(request: Request) -> Response:
    case = find_case(request.query_params.get("id", ""))
    if case is None:
        return problem_page(ServiceError(404, "no such worked case (see the library)", "?id"))
    service = service_of(request)
    outcome = await outcome_context(service, case.incident, case.as_of)
    return page("case.html", case=case, form=schema_form.build_form(case.incident),
                base=json.dumps(case.incident), as_of=case.as_of.isoformat() if case.as_of else "",
                why_not={}, **outcome)


async def read_form(request: Request, service: Service) -> dict[str, list[str]]:
    """The posted form (application/x-www-form-urlencoded), read within the body limit."""
    body = await bodies.read_body(request, service.config)
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=5_000)
    except (UnicodeDecodeError, ValueError):
        raise ServiceError(400, "the form could not be read (expected URL-encoded UTF-8 fields)") from None


def form_as_of(form: Mapping[str, Sequence[str]]) -> dt.date | None:
    text = (form.get("_as_of") or [""])[-1].strip()
    return parse_date(text, "the date of the rules", "_as_of") if text else None


def form_incident(service: Service, form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The incident the form describes: its hidden base with every answer applied."""
    base = parse_incident(service, (form.get("_base") or ["{}"])[-1].encode("utf-8"), "/_base")
    if not isinstance(base, dict):
        raise ServiceError(400, "the form's incident is not a JSON object", "/_base")
    try:
        incident = schema_form.apply_answers(base, form)
        for pointer in form.get("_add", []):
            incident = schema_form.add_item(incident, pointer)
        for pointer in form.get("_remove", []):
            incident = schema_form.remove_item(incident, pointer)
    except schema_form.FormProblems as exc:
        raise ServiceError(400, "", problems=exc.problems) from None
    bodies.check_text(incident, service.config)
    return incident


async def posted_case(request: Request, service: Service) -> tuple[Mapping[str, Sequence[str]], Any, dt.date | None]:
    """The posted form, the incident it gives and the date of the rules asked for."""
    form = await read_form(request, service)
    return form, form_incident(service, form), form_as_of(form)


async def decide_fragment(request: Request) -> Response:
    """htmx: the decision, explanation and what would change it, for the form as it stands."""
    service = service_of(request)
    try:
        form, incident, as_of = await posted_case(request, service)
    except ServiceError as exc:
        return problem_page(exc, fragment=True)
    outcome = await outcome_context(service, incident, as_of)
    return page("outcome.html", 400 if outcome["problems"] else 200, **outcome)


async def case_post(request: Request) -> Response:
    """The whole page again for the posted form (without script, to add or remove an item, or
    to ask why not)."""
    service = service_of(request)
    try:
        form, incident, as_of = await posted_case(request, service)
    except ServiceError as exc:
        return problem_page(exc)
    case = find_case((form.get("_case") or [""])[-1])
    outcome = await outcome_context(service, incident, as_of)
    asked = await why_not_context(service, form, incident, as_of) if form.get("_ask") else {}
    status = 400 if outcome["problems"] or asked.get("problems") else 200
    return page("case.html", status, case=case, form=schema_form.build_form(incident),
                base=json.dumps(incident), as_of=as_of.isoformat() if as_of else "",
                why_not=asked, **outcome)


async def why_not_context(service: Service, form: Mapping[str, Sequence[str]], incident: Any,
                          as_of: dt.date | None) -> dict[str, Any]:
    """What blocks the target asked (``_why_not``), as text; or the problems that stop it."""
    try:
        target = why_not_target(service.book, (form.get("_why_not") or [""])[-1], "_why_not")
        await decide(service, incident, as_of, False)  # refuses an incident that cannot be decided
    except ServiceError as exc:
        if exc.status >= 500:
            raise
        return {"problems": exc.problems}
    try:
        text = await service.pool.run(lambda: explaining.why_not_text(service.book, incident, target, as_of))
    except WhyNotError as exc:
        return {"problems": (InputProblem("_why_not", str(exc)),)}
    return {"target": target, "text": text, "problems": ()}


async def why_not_fragment(request: Request) -> Response:
    """htmx: why not the classification or outcome asked, for the form as it stands."""
    service = service_of(request)
    try:
        form, incident, as_of = await posted_case(request, service)
    except ServiceError as exc:
        return problem_page(exc, fragment=True)
    asked = await why_not_context(service, form, incident, as_of)
    return page("why_not.html", 400 if asked["problems"] else 200, why_not=asked)


# ---------------------------------------------------------------------------------------------
# the quiz
# ---------------------------------------------------------------------------------------------


class Score:
    """Points out of questions asked, carried in the quiz form and signed, so a page cannot
    claim a score it was not given (the key lives as long as the process)."""

    KEY = secrets.token_bytes(32)

    def __init__(self, points: int = 0, possible: int = 0, asked: int = 0):
        self.points, self.possible, self.asked = points, possible, asked

    def token(self) -> str:
        text = f"{self.points}.{self.possible}.{self.asked}"
        return f"{text}.{self._sign(text)}"

    @classmethod
    def _sign(cls, text: str) -> str:
        return hmac.new(cls.KEY, text.encode(), hashlib.sha256).hexdigest()[:32]

    @classmethod
    def read(cls, token: str) -> Score:
        """The score a token carries; a fresh score for a missing or forged one."""
        text, _, sig = token.rpartition(".")
        parts = text.split(".")
        if len(parts) != 3 or not all(p.isdigit() and len(p) < 7 for p in parts):
            return cls()
        if not hmac.compare_digest(sig, cls._sign(text)):
            return cls()
        return cls(*(int(p) for p in parts))


def quiz_answer(decision: Mapping[str, Any]) -> dict[str, Any]:
    """The rules' answer to the quiz's three questions."""
    crimes = decision.get("crimes", [])
    codes = sorted({c["classification"]["code"] for c in crimes})
    if not codes:
        codes = sorted({n["classification"]["code"] for n in decision.get("not_recorded", []) if n.get("classification")})
    return {"record": bool(crimes), "codes": codes, "count": decision["crime_count"]}


def normalised_codes(book: Rulebook, text: str) -> list[str]:
    """The trainee's classification codes, as the catalogue writes them (4.1 is 4/1)."""
    out = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(find_code(book, part))
        except UnknownCode:
            out.append(part.upper())
    return sorted(set(out))


def marks(book: Rulebook, answer: Mapping[str, Any], form: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """Each question with the trainee's answer, the rules' answer and whether they agree."""
    record = (form.get("record") or [""])[-1]
    codes = normalised_codes(book, (form.get("classification") or [""])[-1][:200])
    count_text = (form.get("count") or [""])[-1].strip()
    count = int(count_text) if count_text.isdigit() and len(count_text) < 5 else None
    return [
        {"question": "Record a crime?", "given": {"yes": "yes", "no": "no"}.get(record, "no answer"),
         "rules": "yes" if answer["record"] else "no", "right": (record == "yes") == answer["record"] and record in ("yes", "no")},
        {"question": "Classification", "given": ", ".join(codes) or "none",
         "rules": ", ".join(answer["codes"]) or "none", "right": codes == answer["codes"]},
        {"question": "Number of crimes", "given": "no answer" if count is None else str(count),
         "rules": str(answer["count"]), "right": count == answer["count"]},
    ]


def act_descriptions(case: WorkedCase) -> list[str]:
    """What each act's description says (the act's own, else its elements')."""
    out = []
    for act in case.incident.get("acts", []):
        if isinstance(act, Mapping):
            elements = act.get("elements")
            text = act.get("description") or (elements.get("description") if isinstance(elements, Mapping) else None)
            out.append(str(text) if text else "")
    return out


def given_facts(case: WorkedCase) -> list[schema_form.Field]:
    """The facts the case's incident gives, as the form names them (the quiz shows them)."""
    return [f for f in schema_form.walk_fields(schema_form.build_form(case.incident)) if f.value]


@cache
def quiz_pool() -> tuple[WorkedCase, ...]:
    """Cases a trainee can answer from the facts: every act described (the case's name, which
    states the answer, is shown only with the rules' answer), and no force record (those cases
    test audits, not the recording decision)."""
    return tuple(c for c in load_library() if c.incident.get("acts") and "force_record" not in c.incident
                 and all(act_descriptions(c)))


async def quiz_question(service: Service, case_id: str | None) -> tuple[WorkedCase, dict[str, Any]] | None:
    """The case asked (or a random one whose rules give a decided answer) with its decision."""
    if case_id:
        case = find_case(case_id)
        candidates = [case] if case is not None else []
    else:
        candidates = random.sample(quiz_pool(), k=min(QUIZ_TRIES, len(quiz_pool())))
    for case in candidates:
        try:
            decision = await evaluated(service, case.incident, case.as_of)
        except ServiceError:
            continue
        if decision["status"] == "decided":
            return case, decision
    return None


async def quiz_page(request: Request) -> Response:
    service = service_of(request)
    found = await quiz_question(service, request.query_params.get("case"))
    if found is None:
        return problem_page(ServiceError(404, "no such quiz question (a worked case with a decided answer)", "?case"))
    score = Score.read(request.query_params.get("score", ""))
    case = found[0]
    return page("quiz.html", case=case, score=score, descriptions=act_descriptions(case), facts=given_facts(case))


async def quiz_post(request: Request) -> Response:
    service = service_of(request)
    try:
        form = await read_form(request, service)
    except ServiceError as exc:
        return problem_page(exc)
    found = await quiz_question(service, (form.get("case") or [""])[-1] or "-")
    if found is None:
        return problem_page(ServiceError(400, "the quiz question is not a worked case with a decided answer", "case"))
    case, decision = found
    marked = marks(service.book, quiz_answer(decision), form)
    before = Score.read((form.get("score") or [""])[-1])
    score = Score(before.points + sum(m["right"] for m in marked), before.possible + len(marked), before.asked + 1)
    return page("quiz_result.html", case=case, decision=decision, marks=marked, score=score)


# ---------------------------------------------------------------------------------------------
# the rulebook
# ---------------------------------------------------------------------------------------------


def rule_sections(book: Rulebook) -> dict[str, list[Any]]:
    """The rules and presumptions by section (the folder of their file), in file and line order."""
    out: dict[str, list[Any]] = {}
    items: list[Any] = [*book.rules.values(), *book.presumptions]
    for item in sorted(items, key=lambda x: (x.file, x.line)):
        out.setdefault(item.file.rsplit("/", 1)[0] if "/" in item.file else item.file, []).append(item)
    return out


async def rules_index(request: Request) -> Response:
    book = service_of(request).book
    return page("rules.html", sections=rule_sections(book), book=book)


async def rules_section(request: Request) -> Response:
    book = service_of(request).book
    name = request.path_params["section"]
    items = rule_sections(book).get(name)
    if items is None:
        return problem_page(ServiceError(404, "no such section of the rulebook", "/section"))
    relied = await run_in_threadpool(cases_by_rule, book)  # seconds, once per rulebook
    names = {c.id: c.name for c in load_library()}
    return page("rules_section.html", section=name, items=items, relied=relied, names=names)


# ---------------------------------------------------------------------------------------------
# the routes
# ---------------------------------------------------------------------------------------------


def routes() -> list[BaseRoute]:
    """The training page's routes, for ``create_app(book, config, routes=routes())``."""
    return [
        Route("/training", library_index, methods=["GET"]),
        Route("/training/library/{file:path}", library_category, methods=["GET"]),
        Route("/training/case", case_page, methods=["GET"]),
        Route("/training/case", case_post, methods=["POST"]),
        Route("/training/decide", decide_fragment, methods=["POST"]),
        Route("/training/why-not", why_not_fragment, methods=["POST"]),
        Route("/training/quiz", quiz_page, methods=["GET"]),
        Route("/training/quiz", quiz_post, methods=["POST"]),
        Route("/training/rules", rules_index, methods=["GET"]),
        Route("/training/rules/{section:path}", rules_section, methods=["GET"]),
        Mount("/training/static", StaticFiles(directory=STATIC), name="training-static"),
    ]
