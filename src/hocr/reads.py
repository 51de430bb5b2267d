"""Which presumed facts a pass of the engine read: what lets it skip re-deciding an incident for
another answer to a presumed fact that no rule looked at.

The engine decides an incident on its presumed facts, then once more for each other answer to
each presumed fact, to list the presumptions that matter and mark provisional crimes
(``hocr.provisional``). Most of those passes change nothing: the other answer is to a fact no
rule of the first pass read (a burglary's presumed "not armed" is never read when the act turns
out to be recorded for another reason, a victim's role is read only by the assault tables). A
pass's result depends only on what its rules read, so when no rule read the fact (nor a fact
that another presumption fills on the strength of it), the other answer gives the same decision
and is not decided again. Only the reads of the decisions such a pass makes count (those that
say what is recorded, ``PassRecord.redecided``): what a finding or a flag read cannot change it.

How reads are known, per *field* (``act.elements.intent``, whichever act it is: coarser than a
JSON pointer, so never less safe):

- a fact path touches a presumed field when one is a prefix of the other (``act.elements`` reads
  every element; ``act.elements.intent`` the intent), on a root holding that entity (``act``;
  ``victim`` and ``act_victim`` for a victim), or when it reads the entity's list from the
  incident (``incident.acts``). A quantifier's ``item`` touches nothing of its own: its list was
  read first, and that read touched whatever lies beneath it. Roots the engine builds (decision
  outputs, ``classification``, ``offence``, ``allegation``) hold no presumed fact, except where a
  rule's conclusion copied one, and that rule's read was counted;
- generated code (``hocr.codegen``) logs a touching read where it reads (``runtime.touch``); the
  interpreter (``engine.decide``) logs, for each decision it decides, the fields its guards and
  its candidate rules could read (``Analysis.of_rule``, from the rule's YAML);
- another answer to field *f* can change the fields of presumptions whose condition reads *f*
  (presumptions fill in order, each on the facts filled so far): ``Analysis.changed_by`` is that
  closure, and an answer is decided again when any field of it was touched.

The log is a set kept in a pass's scope roots under :data:`TOUCHED` (not a name any rule can
read: rule roots are words). ``tests/test_reads.py`` checks that skipping never changes a decision,
on every worked case and on generated incidents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

TOUCHED = "(touched)"  # the key of a pass's read log in its scope roots

# The fields the engine's own Python reads from acts and victims (scopes, grouping, the decision
# JSON). A presumption of one of these (or of an object holding one) would change a pass in a
# way no rule read records, so such a field counts as read by every pass.
ENGINE_READS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("act", ("id",)), ("act", ("victims",)), ("act", ("suspects",)), ("act", ("offence",)),
    ("act", ("classification",)), ("victim", ("id",)), ("suspect", ("id",)),
)
# Roots whose value is an act, a victim or a suspect of the incident (None: the incident itself).
_ENTITY_ROOTS: Mapping[str, str | None] = {"act": "act", "victim": "victim", "act_victim": "victim",
                                           "suspect": "suspect", "incident": None}
_PATH_KEYS = frozenset(("fact", "some", "every", "count"))  # the keys whose text names a fact


def fact_paths(node: Any) -> Iterator[str]:
    """Every fact path a raw condition, expression or table names."""
    if type(node) is dict:
        for key, value in node.items():
            if key in _PATH_KEYS and type(value) is str:
                yield value
            elif type(value) is dict or type(value) is list:
                yield from fact_paths(value)
    elif type(node) is list:
        for item in node:
            yield from fact_paths(item)


def _related(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether one path is a prefix of the other (so reading one reads, or is, the other)."""
    n = min(len(a), len(b))
    return tuple(a[:n]) == tuple(b[:n])


class Analysis:
    """The presumed fields of one rulebook and what touches them."""

    def __init__(self, presumptions: Sequence[Any]):
        # field ("act.elements.intent") -> (entity, path within it)
        self.fields: dict[str, tuple[str, tuple[str, ...]]] = {p.fact: (p.entity, tuple(p.path)) for p in presumptions}
        self.lists: dict[str, str] = {p.entity + "s": p.entity for p in presumptions}  # "acts" -> "act"
        self.always = frozenset(f for f, (e, path) in self.fields.items()
                                if any(e == ee and _related(path, pp) for ee, pp in ENGINE_READS))
        self._paths: dict[str, frozenset[str]] = {}
        self._rules: dict[str, frozenset[str]] = {}
        self._guards: dict[int, tuple[Sequence[Any], frozenset[str]]] = {}
        self._changed = {f: self._closure(f, presumptions) for f in self.fields}

    def of_path(self, path: str) -> frozenset[str]:
        """The presumed fields a read of the fact path ``path`` touches."""
        hit = self._paths.get(path)
        if hit is None:
            hit = self._paths[path] = frozenset(self._touched_by(path))
        return hit

    def _touched_by(self, path: str) -> Iterator[str]:
        root, *rest = path.split(".")
        if root not in _ENTITY_ROOTS:
            return
        entity = _ENTITY_ROOTS[root]
        if entity is None:  # the incident: its lists of acts, victims, suspects (or all of it)
            if rest and rest[0] not in self.lists:
                return
            entity = self.lists[rest[0]] if rest else None
            rest = []
        for f, (e, fpath) in self.fields.items():
            if (entity is None or e == entity) and _related(rest, fpath):
                yield f

    def of_node(self, node: Any) -> frozenset[str]:
        """The presumed fields any read of a raw condition, expression or table touches."""
        out: set[str] = set()
        for path in fact_paths(node):
            out |= self.of_path(path)
        return frozenset(out)

    def of_rule(self, rule: Any) -> frozenset[str]:
        """The presumed fields a rule's condition, conclusion or table could read."""
        hit = self._rules.get(rule.id)
        if hit is None:
            raw = rule.raw
            hit = self._rules[rule.id] = self.of_node([raw.get("when"), raw.get("then"), raw.get("table")])
        return hit

    def of_guards(self, groups: Sequence[Any]) -> frozenset[str]:
        """The presumed fields the guards of a decision's rule groups (``Decision.index``) read."""
        hit = self._guards.get(id(groups))
        if hit is None:
            paths = [g.presence[0] for g in groups if g.presence is not None] + [path for g in groups for path, *_ in g.guarded]
            # Kept with the groups themselves, so that their id cannot be reused while kept.
            hit = self._guards[id(groups)] = (groups, frozenset().union(*(self.of_path(p) for p in paths)))
        return hit[1]

    def _closure(self, start: str, presumptions: Sequence[Any]) -> frozenset[str]:
        """``start`` and every field a presumption fills on a condition that reads a field in the
        set, repeatedly: what can differ when ``start`` is answered otherwise."""
        changed = {start}
        grew = True
        while grew:
            grew = False
            for p in presumptions:
                if p.fact not in changed and self._reads_any(p, changed):
                    changed.add(p.fact)
                    grew = True
        return frozenset(changed)

    def _reads_any(self, p: Any, fields: Iterable[str]) -> bool:
        # A presumption's condition reads the incident, the report and its own entity by name.
        wanted = set(fields)
        return any(self.of_path(path) & wanted for path in fact_paths(p.raw.get("when")))

    def changed_by(self, field: str) -> frozenset[str]:
        """The presumed fields that can differ when ``field`` is answered otherwise."""
        return self._changed.get(field, frozenset((field,)))

    def could_matter(self, field: str, touched: set[str] | frozenset[str]) -> bool:
        """Whether another answer to ``field`` could change a pass that read ``touched``."""
        changed = self.changed_by(field)
        return bool(changed & self.always) or not changed.isdisjoint(touched)


class ReadLog(set[str]):
    """The presumed fields one pass read, with the analysis that tells which a read touches."""

    def __init__(self, analysis: Analysis):
        super().__init__()
        self.analysis = analysis


class PassRecord:
    """What the pass on the presumed facts decided and read, decision by decision and scope by
    scope (by the scope's label: "incident", "act A1", "act A1, victim V1"...). A pass for
    another answer reuses an outcome whose decision read none of the fields the answer changes
    and depends on no decision decided again (``engine._Run``). ``redecided`` names the
    decisions such a pass makes (None: all): what the others read cannot change what it gives."""

    def __init__(self, analysis: Analysis, redecided: frozenset[str] | None = None):
        self.analysis = analysis
        self.redecided = redecided
        self.log = ReadLog(analysis)
        self.reads: dict[tuple[str, str], frozenset[str]] = {}
        self.outcomes: dict[tuple[str, str], Any] = {}
        self.classification_roots: dict[str, Any] = {}  # by scope label: the classification's entry
        self._touched: frozenset[str] | None = None

    def touched(self) -> frozenset[str]:
        """Every presumed field the decisions a pass for another answer makes read."""
        if self._touched is None:
            made = self.redecided
            self._touched = frozenset().union(*(read for (_, name), read in self.reads.items()
                                                if made is None or name in made))
        return self._touched

    def could_matter(self, field: str) -> bool:
        """Whether another answer to ``field`` could change what a pass for it gives."""
        return self.analysis.could_matter(field, self.touched())

    def field_of(self, pointer: str) -> str:
        """The field a presumed fact's pointer names: /acts/0/elements/intent -> act.elements.intent."""
        _, plural, _, *path = pointer.split("/")
        return ".".join((self.analysis.lists[plural], *path))


def analysis(book: Any) -> Analysis:
    """The analysis of ``book``'s presumptions, made once per rulebook object."""
    found: Analysis | None = book.__dict__.get("_hocr_reads")
    if found is None:
        found = book.__dict__["_hocr_reads"] = Analysis(book.presumptions)
    return found
