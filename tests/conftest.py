"""Collect worked cases (tests/cases/**/*.yaml) as pytest items, one per case, named after it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from hocr.cases import CaseFailure, load_case_file, run_case
from hocr.loader import Rulebook, load_rulebook

# Every test run starts from an empty cache (and subprocesses inherit it), so a cache written by
# another version of the code can never hide a loading problem.
os.environ["HOCR_CACHE_DIR"] = tempfile.mkdtemp(prefix="hocr-test-cache-")

HERE = Path(__file__).parent
REPO = HERE.parent


@pytest.fixture(scope="session")
def book() -> Rulebook:
    return load_rulebook(REPO / "rules")


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".yaml" and (HERE / "cases") in file_path.parents:
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFile(pytest.File):
    def collect(self) -> Any:
        for case in load_case_file(self.path):
            yield CaseItem.from_parent(self, name=str(case["name"]), case=case)


class CaseItem(pytest.Item):
    def __init__(self, *, case: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        run_case(load_rulebook(REPO / "rules"), self.case, self.path.parent)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailure):
            source = self.case.get("source", "")
            return f"case {self.name!r} ({self.path.name})\n  source: {source}\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"case: {self.name}"
