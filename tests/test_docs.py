"""The rulebook rendered for people (docs/rulebook.md) is the one the rule files give."""

from __future__ import annotations

from pathlib import Path

from hocr.explain import render_rulebook
from hocr.loader import Rulebook

REPO = Path(__file__).resolve().parent.parent


def test_rendered_rulebook_is_current(book: Rulebook) -> None:
    committed = (REPO / "docs" / "rulebook.md").read_text(encoding="utf-8")
    assert committed == render_rulebook(book), (
        "docs/rulebook.md is out of date: run `hocr rules render --out docs/rulebook.md`"
    )


def test_rendered_rulebook_names_every_rule(book: Rulebook) -> None:
    text = render_rulebook(book)
    for rule_id in book.rules:
        assert f"`{rule_id}`" in text
    for code in book.classifications:
        assert f"### {code} " in text
