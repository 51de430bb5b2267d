"""The service's limits and options: one frozen value, from CLI flags or ``HOCR_SERVICE_*`` variables.

Every limit has a default chosen for one incident of a few kilobytes; each can be raised or
lowered without code. Worker processes started by uvicorn rebuild the same configuration from the
environment, so a flag given to ``hocr serve`` reaches every worker.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

ENV_PREFIX = "HOCR_SERVICE_"


@dataclass(frozen=True)
class ServiceConfig:
    """What the service accepts and how long it waits. Sizes in bytes, times in seconds."""

    max_body: int = 1_000_000  # one incident
    max_batch_body: int = 20_000_000  # a whole batch (JSON array or NDJSON stream)
    max_batch_items: int = 1_000
    max_depth: int = 24  # the incident schema nests 7 deep; the library's own bound is 24 too
    max_acts: int = 200
    max_victims: int = 200
    eval_timeout: float = 10.0  # answer 503 when one evaluation takes longer
    eval_threads: int = 4  # the bounded pool that evaluates off the event loop
    max_in_flight: int = 64  # requests being handled at once; beyond: 503 with Retry-After
    read_timeout: float = 10.0  # between two parts of a request body
    header_timeout: float = 10.0  # from a request's first byte to the end of its headers
    retry_after: int = 1  # seconds, in the Retry-After of a 503
    rules: str | None = None  # a rulebook folder (default: the shipped one)
    decision_log: str | None = None  # a JSONL file, appended to

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise ValueError(f"{f.name} must be positive (got {value})")

    def as_env(self) -> dict[str, str]:
        """The variables that rebuild this configuration in another process."""
        return {
            ENV_PREFIX + f.name.upper(): str(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    def replace(self, **changes: Any) -> ServiceConfig:
        return dataclasses.replace(self, **changes)


def _convert(kind: Any, name: str, text: str) -> Any:
    convert = {"int": int, "float": float}.get(str(kind).replace(" | None", ""), str)
    try:
        return convert(text)
    except ValueError:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}={text!r} is not a number") from None


def config_from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> ServiceConfig:
    """The configuration from ``HOCR_SERVICE_*`` variables, then ``overrides`` (flags) on top.

    Raises ValueError naming the variable when one is not a number or not positive."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(ServiceConfig):
        text = env.get(ENV_PREFIX + f.name.upper())
        if text is not None and text != "":
            values[f.name] = _convert(f.type, f.name, text)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ServiceConfig(**values)
