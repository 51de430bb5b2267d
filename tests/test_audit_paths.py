"""The audit's fast paths write what the slow ones they replace wrote: CSV rows as csv.writer
writes them, lines read in blocks as read_lines reads them, and output lines as json.dumps
writes them."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hocr.audit import block_lines, csv_line, neutralise, read_blocks, read_lines

# Characters that matter to CSV, JSON, UTF-8 and line ends, among any others.
_TRICKY = st.sampled_from([",", '"', "\r", "\n", "\x00", "'", "=", "+", "-", "@", "\t", " ", "\u2028", "\x85",
                           "é", "\ud800", "\\"])
_CELL = st.text(st.one_of(_TRICKY, st.characters()), max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.lists(_CELL, min_size=2, max_size=14))
def test_a_csv_line_is_what_csv_writer_writes(cells: list[str]) -> None:
    out = io.StringIO()
    csv.writer(out).writerow([neutralise(c) for c in cells])
    assert csv_line(cells) == out.getvalue()


_LINE = st.one_of(st.binary(max_size=40), st.sampled_from([b"", b"\r", b"\r\r", b"  ", b"\xff\xfe", b"{}",
                                                           b"x" * 30, b"\xc3\xa9\r"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=12), st.booleans(), st.integers(1, 5), st.integers(1, 3))
def test_blocks_give_the_lines_read_lines_gives(lines: list[bytes], final_newline: bool, size: int,
                                                first: int) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    expected = [(n, text, type(text)) for n, text, _ in read_lines(io.BytesIO(data), max_bytes=20, first_line=first)]
    positions: list[int] = []
    blocks = list(read_blocks(io.BytesIO(data), size, positions.append, max_bytes=20, first_line=first))
    got = [(n, text, type(text)) for b in blocks for n, text in block_lines(b)]
    assert got == expected
    assert positions == [pos for _, _, pos in read_lines(io.BytesIO(data), max_bytes=20, first_line=first)]
    assert all(len(b.data.split(b"\n")) - 1 <= size for b in blocks)


def test_an_overlong_line_is_not_kept_in_its_block() -> None:
    data = b'{"a": 1}\n' + b"y" * 100 + b"\n" + b"z" * 100 + b"\n{}\n"
    (block,) = read_blocks(io.BytesIO(data), 10, max_bytes=50)
    assert block.overlong == (2, 3) and len(block.data) < 20
    assert [text for _, text in block_lines(block)][1:3] == ["the line is longer than 50 bytes"] * 2


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _CELL,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_CELL, inner, max_size=4),
                    max_leaves=12))
def test_an_output_line_is_what_json_dumps_writes(value: Any) -> None:
    from hocr.audit import json_line

    assert json_line(value) == json.dumps(value, ensure_ascii=False) + "\n"
