"""The one place the service and the training page get a decision's explanation and a why-not.

The explanation is :func:`hocr.explain.explanation` (``hocr.explanation.v1``, docs/explain.md),
given the incident so that each change it proposes is confirmed by deciding again; the why-not
is :func:`hocr.whynot.why_not`. Both run on the service's evaluation pool.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from .. import explain, whynot
from ..loader import Rulebook

# The steps in the order a registrar reasons, each with its title (the page lists them).
STEPS = explain.STEPS


def explanation(book: Rulebook, incident: Mapping[str, Any], decision: Mapping[str, Any],
                trace: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The explanation of ``decision`` (evaluated with its ``trace``) of ``incident``."""
    return explain.explanation(book, decision, trace, incident)


def why_not(book: Rulebook, incident: Any, target: str, as_of: dt.date | None = None) -> dict[str, Any]:
    """What blocks ``target`` (a classification code, "record" or "not recorded").

    Raises :class:`hocr.whynot.WhyNotError` for a target that is neither."""
    return whynot.why_not(book, incident, target, as_of)


def why_not_text(book: Rulebook, incident: Any, target: str, as_of: dt.date | None = None) -> str:
    """The why-not as :func:`hocr.whynot.render_text` words it."""
    return whynot.render_text(why_not(book, incident, target, as_of))


def answer_text(value: Any) -> str:
    """A fact's value in words: yes or no, not given, the text, or its JSON."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "not given"
    if isinstance(value, list) and not value:
        return "none"
    return value if isinstance(value, str) else json.dumps(value)
