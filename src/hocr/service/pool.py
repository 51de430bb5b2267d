"""Evaluation off the event loop: a bounded pool of threads and a deadline for each answer.

The event loop only reads, writes and waits; each evaluation runs on one of ``eval_threads``
threads. A request whose evaluation is not done within ``eval_timeout`` seconds gets a 503. Python
cannot stop a running thread, so an evaluation past its deadline runs on to its end (the incident's
size limits bound how long that is) while its thread stays counted in the pool: the pool never grows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .errors import ServiceError

T = TypeVar("T")


class EvaluationPool:
    def __init__(self, threads: int, timeout: float, retry_after: int):
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hocr-eval")
        self.timeout = timeout
        self.retry_after = retry_after

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on a pool thread; 503 with Retry-After if it is not done in time."""
        future = self.executor.submit(work)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            future.cancel()  # still queued: never starts; running: finishes unobserved
            raise ServiceError(
                503, f"the evaluation took longer than {self.timeout:g} s (eval_timeout)",
                headers={"Retry-After": str(self.retry_after)},
            ) from None

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
