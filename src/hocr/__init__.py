"""hocr: the Home Office crime-recording rules (NCRS and HOCR) of England and Wales as code.

Library use::

    import hocr
    book = hocr.load_rulebook()                 # compiled once, cached; immutable and thread-safe
    decision = hocr.evaluate(book, incident)    # a dict, see schemas/decision.schema.json

The names below are imported when first used, so that importing one module of hocr (the
command line's entry point, say) does not import them all.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import DECISION_FORMAT, EvaluationError, evaluate
    from .incident import Incident, InvalidIncident, check_incident
    from .loader import Rulebook, RulebookError, load_rulebook

__version__ = "0.1.0"

_WHERE = {
    "DECISION_FORMAT": "engine",
    "EvaluationError": "engine",
    "evaluate": "engine",
    "Incident": "incident",
    "InvalidIncident": "incident",
    "check_incident": "incident",
    "Rulebook": "loader",
    "RulebookError": "loader",
    "load_rulebook": "loader",
}

__all__ = [
    "DECISION_FORMAT",
    "EvaluationError",
    "Incident",
    "InvalidIncident",
    "Rulebook",
    "RulebookError",
    "check_incident",
    "evaluate",
    "load_rulebook",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value  # once imported, an ordinary attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
