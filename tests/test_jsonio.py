"""hocr.jsonio: orjson where it can, the standard library where it cannot, the same values."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from hocr import jsonio

VALUES: list[Any] = [
    {"a": [], "b": {}, "c": [1, {"x": 2.5}], "d": None, "e": True, "f": "café ✓"},
    [1, -2, 3.25, 0.1, 10**15, "", "\u2028"],
    "text",
    0,
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_writes_what_json_writes(value: Any) -> None:
    assert jsonio.dumps(value, indent=True).decode() == json.dumps(value, indent=2, ensure_ascii=False)
    assert jsonio.dumps(value).decode() == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert jsonio.dumps(value, sort_keys=True, indent=True).decode() == json.dumps(
        value, sort_keys=True, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("value", VALUES)
def test_loads_reads_what_dumps_wrote(value: Any) -> None:
    text = jsonio.dumps(value)
    assert jsonio.loads(text) == value == jsonio.loads(text.decode())


def test_what_orjson_cannot_write_is_written_by_json() -> None:
    assert json.loads(jsonio.dumps({"big": 2**70})) == {"big": 2**70}
    assert json.loads(jsonio.dumps({1: "non-text key"})) == {"1": "non-text key"}


def test_what_json_refuses_to_write_is_refused() -> None:
    @dataclasses.dataclass
    class Point:
        x: int

    for value in (dt.date(2024, 1, 1), Point(1), {1, 2}):
        with pytest.raises(TypeError):
            jsonio.dumps(value)


def test_what_orjson_refuses_to_read_is_read_or_refused_by_json() -> None:
    assert jsonio.loads('"\\ud800"') == "\ud800"  # a lone surrogate escape: json reads it
    with pytest.raises(json.JSONDecodeError) as info:
        jsonio.loads("\ufeff{}")
    assert "BOM" in info.value.msg
    with pytest.raises(json.JSONDecodeError) as info:
        jsonio.loads(b'{"a": ')
    assert info.value.msg == "Expecting value"
