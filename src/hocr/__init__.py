"""hocr: the Home Office crime-recording rules (NCRS and HOCR) of England and Wales as code.

Library use::

    import hocr
    book = hocr.load_rulebook()                 # compiled once, cached; immutable and thread-safe
    decision = hocr.evaluate(book, incident)    # a dict, see schemas/decision.schema.json
"""

from .engine import DECISION_FORMAT, EvaluationError, evaluate
from .incident import Incident, InvalidIncident, check_incident
from .loader import Rulebook, RulebookError, load_rulebook

__version__ = "0.1.0"

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
