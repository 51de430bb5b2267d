"""Reading and writing JSON: orjson where it is installed (a dependency; several times faster
than the standard library), the standard ``json`` module otherwise or where orjson refuses.

The two agree on every document hocr reads or writes, with three differences kept on purpose:

* orjson reads an integer beyond 64 bits as a float (hocr refuses any number above 10^15 in an
  incident either way: docs/hardening.md);
* where orjson refuses a document (a lone surrogate in an escape, a byte-order mark, a number
  that overflows a double), :func:`loads` asks ``json`` again, so the document is read, or
  refused with ``json``'s own error, exactly as before;
* :func:`dumps` writes floats in orjson's shortest form (``1e16``, not ``1e+16``), and falls
  back to ``json`` for what orjson cannot write (integers beyond 64 bits, lone surrogates,
  non-text keys).
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; the standard library works too
    orjson = None  # type: ignore[assignment]


FAST = orjson is not None  # whether orjson is there


def fast_loads(data: bytes | str) -> Any:
    """orjson's reading alone (ValueError for what it refuses); for callers that word its
    refusals themselves. Only when :data:`FAST`."""
    return orjson.loads(data)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """The JSON value in ``data`` (UTF-8 bytes or text). Raises ``json.JSONDecodeError`` (a
    ValueError), with the standard library's message, for what is not JSON."""
    if orjson is not None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # let json word the error (or read what orjson is stricter about)
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data).decode("utf-8")
    return json.loads(data)


def dumps(value: Any, *, indent: bool = False, sort_keys: bool = False) -> bytes:
    """``value`` as UTF-8 JSON. With ``indent``, two spaces a level, as ``json.dumps(indent=2)``;
    without, compact (no spaces). Non-ASCII text is written as itself, not escaped."""
    if orjson is not None:
        # Date-times and dataclasses are passed through, so that they are refused as json does.
        option = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
        option |= (orjson.OPT_INDENT_2 if indent else 0) | (orjson.OPT_SORT_KEYS if sort_keys else 0)
        try:
            return orjson.dumps(value, option=option)
        except TypeError:
            pass  # orjson.JSONEncodeError is a TypeError: let json write it, or refuse it
    text = json.dumps(value, indent=2 if indent else None, separators=None if indent else (",", ":"),
                      sort_keys=sort_keys, ensure_ascii=False)
    return text.encode("utf-8")
