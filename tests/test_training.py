"""The training page in process (Starlette's test client): the library, the form generated from
the incident schema, the decision and explanation on change, the quiz, the rulebook, bad input;
and the check endpoint's ``?explain`` and ``?why_not``."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from starlette.testclient import TestClient  # noqa: E402

from hocr.library import WorkedCase, load_library  # noqa: E402
from hocr.loader import Rulebook, data_path  # noqa: E402
from hocr.service import ServiceConfig, create_app  # noqa: E402
from hocr.service import schema_form as sf  # noqa: E402
from hocr.service.explaining import STEPS  # noqa: E402
from hocr.service.training import Score, act_descriptions, quiz_pool, routes  # noqa: E402

PLANTED = "Jane Q Planted"  # a name: must never come back in a message


@pytest.fixture(scope="module")
def client(book: Rulebook) -> Iterator[TestClient]:
    with TestClient(create_app(book, ServiceConfig(max_body=200_000), routes=routes())) as c:
        yield c


def third_party_case() -> WorkedCase:
    """The shipped example of a third party's report the victim does not confirm."""
    return next(c for c in load_library() if c.source.startswith("examples/third-party-not-confirmed.json"))


class Controls(HTMLParser):
    """The form controls of a page: name -> the values a browser would send."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self.names: list[str] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("href", "src"):
            if key in a:
                self.hrefs.append(a[key])
        if tag == "input" and a.get("type") not in ("radio", "submit") and "name" in a:
            self._add(a["name"], a.get("value", ""))
        elif tag == "select":
            self._select = a["name"]
            self.names.append(a["name"])
            self.values.setdefault(a["name"], [])
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select].append(a.get("value", ""))
        elif tag == "textarea":
            self._textarea = a["name"]
            self._add(a["name"], "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea][-1] += data

    def _add(self, name: str, value: str) -> None:
        self.names.append(name)
        self.values.setdefault(name, []).append(value)


def controls(html: str) -> Controls:
    parsed = Controls()
    parsed.feed(html)
    return parsed


def case_url(case: WorkedCase) -> str:
    return "/training/case?id=" + quote(case.id, safe="")


def summary(html: str) -> str:
    found = re.search(r'id="decision-summary">([^<]*)<', html)
    assert found, html[:2000]
    return found.group(1)


def post_form(client: TestClient, path: str, values: Mapping[str, list[str]]) -> Any:
    return client.post(path, data={k: v for k, v in values.items()},
                       headers={"content-type": "application/x-www-form-urlencoded"})


# ---------------------------------------------------------------------------------------------
# the library
# ---------------------------------------------------------------------------------------------


def test_the_library_lists_every_worked_case_by_section_and_category(client: TestClient) -> None:
    cases = load_library()
    index = client.get("/training").text
    for file in sorted({c.file for c in cases}):
        assert f'href="/training/library/{file[:-5]}"' in index, file
    for file in sorted({c.file for c in cases}):
        page = client.get(f"/training/library/{file[:-5]}").text
        for case in (c for c in cases if c.file == file):
            assert quote(case.id, safe="") in page, case.id
            assert case.scenario.split(".")[0].replace("'", "&#39;").replace('"', "&#34;")[:30] in page, case.id


def test_an_unknown_category_or_case_is_a_404_page(client: TestClient) -> None:
    for path in ("/training/library/no/such", "/training/case?id=no%23such", "/training/case", "/training/rules/nowhere"):
        r = client.get(path)
        assert r.status_code == 404 and "text/html" in r.headers["content-type"], path


# ---------------------------------------------------------------------------------------------
# the form, generated from the incident schema
# ---------------------------------------------------------------------------------------------


def leaf_pointers(schema_node: Mapping[str, Any], pointer: str, value: Any) -> Iterator[str]:
    """The pointer of every property the schema gives a single control, for the incident given."""
    node = sf.resolve(schema_node)
    for name, sub in node.get("properties", {}).items():
        sub = sf.resolve(sub)
        child = value.get(name) if isinstance(value, Mapping) else None
        items = sf.resolve(sub.get("items", {}))
        if sub.get("type") == "object" and "properties" in sub:
            yield from leaf_pointers(sub, f"{pointer}/{name}", child)
        elif sub.get("type") == "array" and "properties" in items:
            for i, item in enumerate(child or []):
                yield from leaf_pointers(items, f"{pointer}/{name}/{i}", item)
        else:
            yield f"{pointer}/{name}"


def test_the_form_has_a_control_for_every_schema_field_named_by_its_pointer(client: TestClient) -> None:
    case = third_party_case()
    page = controls(client.get(case_url(case)).text)
    expected = set(leaf_pointers(sf.incident_schema(), "", case.incident))
    named = {n for n in page.names if n.startswith("/")}
    assert named == expected
    # a control's value is the incident's at its pointer, typed by the schema
    assert page.values["/victims/0/confirms_crime"] == ["false"]
    assert page.values["/acts/0/classification"] == ["105A"]
    assert page.values["/report/reporter/type"] == ["third_party"]


def test_every_worked_case_survives_the_form_unchanged() -> None:
    for case in load_library():
        form = sf.build_form(case.incident)
        answers = {f.pointer: (f.value.split(",") if f.multiple else [f.value]) for f in sf.walk_fields(form)}
        assert sf.apply_answers(case.incident, answers) == case.incident, case.id


def test_answers_are_typed_by_the_schema_and_empty_means_not_given() -> None:
    base = {"id": "X", "report": {"received_at": "2024-01-01T10:00", "reporter": {"type": "victim"}},
            "victims": [{"id": "V1", "kind": "person", "age": 30}], "acts": [{"id": "A1", "classification": "8N"}]}
    out = sf.apply_answers(base, {"/victims/0/age": [""], "/victims/0/confirms_crime": ["true"],
                                  "/acts/0/victims": ["V1, V2"], "/acts/0/school/serious": ["false"],
                                  "/acts/0/location/setting": [""]})
    assert "age" not in out["victims"][0] and out["victims"][0]["confirms_crime"] is True
    assert out["acts"][0]["victims"] == ["V1", "V2"] and out["acts"][0]["school"] == {"serious": False}
    assert "location" not in out["acts"][0]  # not created for an empty answer
    cleared = sf.apply_answers(out, {"/acts/0/school/serious": [""], "/acts/0/victims": [sf.NONE]})
    assert "school" not in cleared["acts"][0] and cleared["acts"][0]["victims"] == []
    with pytest.raises(sf.FormProblems) as caught:
        sf.apply_answers(base, {"/victims/0/age": [PLANTED], "/victims/0/kind": [PLANTED], "/nowhere": ["x"]})
    text = str(caught.value)
    assert PLANTED not in text
    assert {p.pointer for p in caught.value.problems} == {"/victims/0/age", "/victims/0/kind", "/nowhere"}


def test_items_can_be_added_and_removed() -> None:
    base = {"id": "X", "acts": [{"id": "A1", "classification": "8N"}]}
    added = sf.add_item(base, "/acts/0/contrary_evidence")
    assert added["acts"][0]["contrary_evidence"] == [{}]
    assert sf.remove_item(added, "/acts/0/contrary_evidence/0")["acts"][0]["contrary_evidence"] == []
    for bad in ("/acts/0/classification", "/nowhere"):
        with pytest.raises(sf.FormProblems):
            sf.add_item(base, bad)
    with pytest.raises(sf.FormProblems):
        sf.remove_item(base, "/acts/5")


# ---------------------------------------------------------------------------------------------
# the decision and its explanation, on change
# ---------------------------------------------------------------------------------------------


def test_changing_a_fact_changes_the_decision_explanation_and_what_would_change(client: TestClient) -> None:
    case = third_party_case()
    page = client.get(case_url(case)).text
    assert "not recorded" in summary(page)
    assert page.index('id="step-report"') < page.index('id="decision-summary"')  # the explanation above
    form = controls(page).values
    fragment = post_form(client, "/training/decide", {**form, "/victims/0/confirms_crime": ["true"]})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert summary(fragment.text).startswith("Record 1 crime: 105A")
    assert "ncrs.third-party.confirmed" in fragment.text or "confirmed" in fragment.text
    assert 'id="would-change"' in fragment.text and fragment.text != page
    # the same form posted whole (no script) gives the whole page, with the changed fact kept
    whole = post_form(client, "/training/case", {**form, "/victims/0/confirms_crime": ["true"]})
    assert whole.status_code == 200 and summary(whole.text).startswith("Record 1 crime")
    assert controls(whole.text).values["/victims/0/confirms_crime"] == ["true"]


def test_the_explanation_steps_keep_the_registrars_order(client: TestClient) -> None:
    page = client.get(case_url(third_party_case())).text
    shown = [m.group(1) for m in re.finditer(r'id="step-([a-z]+)"', page)]
    order = [key for key, _ in STEPS]
    assert shown and shown == sorted(shown, key=order.index)


def test_adding_an_item_without_script_gives_the_page_with_its_fields(client: TestClient) -> None:
    case = third_party_case()
    form = controls(client.get(case_url(case)).text).values
    r = post_form(client, "/training/case", {**form, "_add": ["/acts/0/hostility"]})
    # the new item's fields are on the page; until its required strand is given, the page says so
    assert "/acts/0/hostility/0/strand" in controls(r.text).names
    assert r.status_code == 400 and "<code>/acts/0/hostility/0</code>" in r.text
    filled = {**controls(r.text).values, "/acts/0/hostility/0/strand": ["race"], "/acts/0/hostility/0/perceived_by": ["victim"]}
    assert post_form(client, "/training/case", filled).status_code == 200


def test_the_rules_date_can_be_changed(client: TestClient) -> None:
    form = controls(client.get(case_url(third_party_case())).text).values
    r = post_form(client, "/training/decide", {**form, "_as_of": ["2014-06-01"]})
    assert r.status_code == 200 and "rules in force on 2014-06-01" in r.text
    bad = post_form(client, "/training/decide", {**form, "_as_of": ["the first of June"]})
    assert bad.status_code == 400 and "_as_of" in bad.text


# ---------------------------------------------------------------------------------------------
# bad input: a 4xx, a clear message, nothing of the input in it
# ---------------------------------------------------------------------------------------------


def test_bad_input_is_a_4xx_naming_the_field_never_the_value(client: TestClient) -> None:
    form = controls(client.get(case_url(third_party_case())).text).values
    attempts = {
        "wrong type": {**form, "/victims/0/age": [PLANTED]},
        "not an option": {**form, "/victims/0/kind": [PLANTED]},
        "invalid incident": {**form, "/report/received_at": [PLANTED]},
        "missing required": {**form, "/acts/0/id": [""], "/acts/0/description": [PLANTED]},
        "base not JSON": {**form, "_base": [PLANTED + "{"]},
        "base not an object": {**form, "_base": [json.dumps([PLANTED])]},
        "remove nothing": {**form, "_remove": ["/victims/9"]},
    }
    for what, values in attempts.items():
        for path in ("/training/decide", "/training/case"):
            r = post_form(client, path, values)
            assert 400 <= r.status_code < 500, (what, path, r.status_code)
            problems = r.text[r.text.index('class="problems"'):]
            problems = problems[: problems.index("</div>")]
            assert PLANTED not in problems, (what, path)
            assert "<code>" in problems, (what, path)  # names where
            if path == "/training/decide":
                assert PLANTED not in r.text, (what, path)  # the fragment holds no form


def test_a_body_over_the_limit_and_garbage_are_refused(client: TestClient) -> None:
    r = client.post("/training/decide", content=b"_base=" + b"x" * 300_000,
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    r = client.post("/training/decide", content=b"\xff\xfe%%%", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400


# ---------------------------------------------------------------------------------------------
# the quiz
# ---------------------------------------------------------------------------------------------


def test_the_quiz_marks_an_answer_against_the_rules_and_keeps_the_score(client: TestClient, book: Rulebook) -> None:
    case = third_party_case()
    question = client.get("/training/quiz?case=" + quote(case.id, safe="")).text
    assert case.incident["acts"][0]["description"][:40] in question.replace("&#39;", "'")
    assert case.name not in question  # the name states the answer: shown with it, not before
    assert "<code>/victims/0/confirms_crime</code></dt><dd>false</dd>" in question
    token = controls(question).values["score"][0]
    right = client.post("/training/quiz", data={"case": case.id, "score": token, "record": "no",
                                                "classification": "105a", "count": "0"})
    assert right.status_code == 200 and "Score: 3 of 3 (1 question answered)" in right.text
    assert case.name in right.text
    assert 'id="step-confirmation"' in right.text and "ncrs.third-party.not-confirmed" in right.text
    token = controls(right.text).values["score"][0]
    wrong = client.post("/training/quiz", data={"case": case.id, "score": token, "record": "yes",
                                                "classification": "8N", "count": "1"})
    assert "Score: 3 of 6 (2 questions answered)" in wrong.text and wrong.text.count('class="wrong"') == 3
    # the score is carried to the next question, and a forged one is not believed
    nxt = client.get("/training/quiz?score=" + quote(controls(wrong.text).values["score"][0])).text
    assert "Score: 3 of 6" in nxt
    forged = client.post("/training/quiz", data={"case": case.id, "score": "99.99.9.0000", "record": "no",
                                                 "classification": "105A", "count": "0"})
    assert "Score: 3 of 3 (1 question answered)" in forged.text


def test_a_random_quiz_question_is_a_scenario_with_a_decided_answer(client: TestClient) -> None:
    page = client.get("/training/quiz")
    assert page.status_code == 200
    case_id = controls(page.text).values["case"][0]
    assert case_id in {c.id for c in quiz_pool()}
    assert len(quiz_pool()) > 100 and all(all(act_descriptions(c)) for c in quiz_pool())


def test_a_quiz_answer_for_no_such_case_is_a_4xx(client: TestClient) -> None:
    assert client.post("/training/quiz", data={"case": PLANTED}).status_code == 400
    assert client.get("/training/quiz?case=" + quote(PLANTED)).status_code == 404


def test_score_tokens_are_signed() -> None:
    token = Score(2, 3, 1).token()
    assert vars(Score.read(token)) == {"points": 2, "possible": 3, "asked": 1}
    assert vars(Score.read(token.replace("2.3.1", "3.3.1"))) == {"points": 0, "possible": 0, "asked": 0}


# ---------------------------------------------------------------------------------------------
# the rulebook
# ---------------------------------------------------------------------------------------------


def test_the_rulebook_by_section_gives_each_rule_its_citation_badge_dates_and_cases(client: TestClient, book: Rulebook) -> None:
    from hocr.library import cases_by_rule

    index = client.get("/training/rules").text
    sections = {r.file.rsplit("/", 1)[0] for r in book.rules.values()}
    for name in sections:
        assert f'href="/training/rules/{name}"' in index, name
    name = "general/section-d"
    page = client.get(f"/training/rules/{name}").text
    relied = cases_by_rule(book)
    rules = [r for r in book.rules.values() if r.file.startswith(name + "/")]
    assert rules
    for rule in rules:
        section = page[page.index(f'id="{rule.id}"'):]
        section = section[: section.index("</section>")]
        assert rule.citation.replace("'", "&#39;") in section, rule.id
        assert f"badge-{rule.verification}" in section and f"in force from {rule.in_force_from}" in section
        for case_id in relied.get(rule.id, ()):
            assert quote(case_id, safe="") in section, (rule.id, case_id)


# ---------------------------------------------------------------------------------------------
# offline: nothing fetched from elsewhere
# ---------------------------------------------------------------------------------------------


def test_the_pages_load_nothing_from_elsewhere_and_htmx_is_served_with_its_licence(client: TestClient) -> None:
    case = third_party_case()
    for path in ("/training", case_url(case), "/training/quiz", "/training/rules", "/training/rules/ncrs"):
        page = client.get(path)
        assert page.status_code == 200, path
        for ref in controls(page.text).hrefs:
            assert ref.startswith(("/", "#")), (path, ref)
    htmx = client.get("/training/static/htmx-2.0.10.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:100]
    assert "Zero-Clause BSD" in client.get("/training/static/htmx-LICENSE.txt").text


# ---------------------------------------------------------------------------------------------
# the check endpoint: ?explain and ?why_not
# ---------------------------------------------------------------------------------------------


def example() -> bytes:
    return (data_path("examples") / "third-party-not-confirmed.json").read_bytes()


def test_check_with_explain_gives_the_explanation_in_the_decision_schema(client: TestClient) -> None:
    schema = json.loads((data_path("schemas") / "decision.schema.json").read_text())
    for query in ("explain=true", "explain=1&trace=1"):
        d = client.post(f"/v1/check?{query}", content=example()).json()
        jsonschema.validate(d, schema)
        keys = [s["key"] for s in d["explanation"]["steps"]]
        assert keys[0] == "report" and "confirmation" in keys
        assert ("trace" in d) == ("trace=1" in query)
    plain = client.post("/v1/check", content=example()).json()
    assert "explanation" not in plain
    assert client.post("/v1/check?explain=perhaps", content=example()).status_code == 400


def test_check_why_not_refuses_what_is_no_classification_or_outcome(client: TestClient) -> None:
    for bad in (quote(PLANTED), "", "X" * 40):
        r = client.post(f"/v1/check?why_not={bad}", content=example())
        assert r.status_code == 400 and PLANTED not in r.text
        assert r.json()["errors"][0]["pointer"] == "?why_not"


def test_check_why_not_gives_what_blocks_it(client: TestClient) -> None:
    for target in ("8N", "record"):
        d = client.post(f"/v1/check?why_not={target}", content=example()).json()
        assert isinstance(d["why_not"], dict) and d["why_not"]


def test_why_not_on_the_page_names_the_field_of_a_bad_target_and_says_when_it_is_missing(client: TestClient) -> None:
    form = controls(client.get(case_url(third_party_case())).text).values
    bad = post_form(client, "/training/why-not", {**form, "_why_not": [PLANTED]})
    assert bad.status_code == 400 and "<code>_why_not</code>" in bad.text and PLANTED not in bad.text
    asked = post_form(client, "/training/why-not", {**form, "_why_not": ["8n"]})
    assert asked.status_code == 200 and "<html" not in asked.text
    whole = post_form(client, "/training/case", {**form, "_why_not": ["record"], "_ask": ["why-not"]})
    assert whole.status_code == 200 and 'id="why-not-answer"' in whole.text
    assert "Why not 8N" in asked.text and "Why not record" in whole.text
