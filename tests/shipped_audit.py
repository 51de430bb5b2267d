"""The shipped rulebook's audit method, for tests: its report groups and discrepancy kinds, read
from the rulebook when asked for (hocr.audit itself holds none, and loads no rulebook at import)."""

from __future__ import annotations

from functools import cache

from hocr.audit import GroupSpec, discrepancy_kinds, headline_label, report_groups
from hocr.loader import load_rulebook


@cache
def shipped_groups() -> tuple[GroupSpec, ...]:
    """The report groups of rules/audit/report-groups.yaml, in its order."""
    return report_groups(load_rulebook())


def shipped_kinds() -> dict[str, tuple[str, str]]:
    """Every kind of discrepancy the shipped rulebook reports, in report order: (label, definition)."""
    return discrepancy_kinds(load_rulebook())


def shipped_headline() -> str:
    """The label of the shipped rulebook's headline group (it has one: tests/test_audit.py)."""
    label = headline_label(load_rulebook())
    assert label is not None, "the shipped audit section marks no headline group"
    return label
