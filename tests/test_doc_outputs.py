"""The outputs README.md and docs/*.md show are what the commands print (tests/doc_outputs.py)."""

from __future__ import annotations

import doc_outputs as D
import pytest

BLOCKS = D.all_blocks()


def test_the_docs_mark_their_outputs() -> None:
    # The command outputs a newcomer copies first: README, the CLI, the incident and decision docs.
    marked = {b.path.name for b in BLOCKS}
    assert {"README.md", "cli.md", "incident.md", "decision.md"} <= marked


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_a_shown_output_is_the_commands_output(block: D.Block) -> None:
    got = D.output_of(block.command)
    assert D.matches(block.shown, got), (
        f"{block.where}: `{block.command}` prints otherwise; run `python tests/doc_outputs.py --write` "
        "(an excerpt with … is edited by hand)\n" + "\n".join(got))


def test_a_gap_stands_for_any_run_of_lines_and_nothing_else() -> None:
    out = ["a", "b", "c", "d"]
    assert D.matches(["a", "b", "c", "d"], out)
    assert D.matches(["a", "…"], out) and D.matches(["…", "d"], out) and D.matches(["a", "...", "c", "…"], out)
    assert D.matches(["a", "…", "b", "c", "d"], out)  # a gap may stand for no line
    assert not D.matches(["a", "b"], out)  # a whole block is the whole output
    assert not D.matches(["a", "…", "x", "…"], out) and not D.matches(["b", "…"], out)
    assert not D.matches(["a", "…", "c", "b", "…"], out)  # in order
