"""Load benchmark: 1,000 concurrent requests to ``hocr serve`` on 127.0.0.1, with an anchor.

Run:  python bench/bench_service.py [--rounds 3] [--concurrency 1000] [--workers 1]

Starts ``hocr serve`` on a free loopback port (never another address), then in each round opens
``--concurrency`` connections at once and sends one ``POST /v1/check`` on each (the shipped example
``recorded-late.json``), then the same number of ``GET /v1/health`` at once: the anchor, the cost
of the HTTP stack alone on this machine at this moment. It reports per round the failures (any
answer but 200, or no answer within the time limit), p50 and p99 latency of both, their ratios
(check / anchor), and the server's resident memory before and after; then min / median / max of
the ratios over the rounds. Bounded: a fixed number of requests, a time limit on each round, and
the server stopped at the end. Figures are for docs/service.md; nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BODY = (REPO / "examples" / "recorded-late.json").read_bytes().replace(b"\n", b"")
ROUND_LIMIT = 300.0  # seconds: a round that takes longer counts the rest as failures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def one(port: int, data: bytes, start: asyncio.Event) -> float | None:
    """Open a connection, wait for the starting gun, send; the latency, or None for a failure."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    await start.wait()
    t0 = time.perf_counter()
    try:
        writer.write(data)
        await writer.drain()
        answer = await reader.read()
    except OSError:
        return None
    finally:
        writer.close()
    ok = answer.startswith(b"HTTP/1.1 200 ")
    return time.perf_counter() - t0 if ok else None


async def burst(port: int, data: bytes, n: int) -> list[float | None]:
    start = asyncio.Event()
    tasks = [asyncio.create_task(one(port, data, start)) for _ in range(n)]
    await asyncio.sleep(0.5)  # let the connections open
    start.set()
    done, pending = await asyncio.wait(tasks, timeout=ROUND_LIMIT)
    for t in pending:
        t.cancel()
    return [t.result() if t in done else None for t in tasks]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def summary(latencies: list[float | None]) -> tuple[int, float, float]:
    ok = [x for x in latencies if x is not None]
    return len(latencies) - len(ok), quantile(ok, 0.5) if ok else float("nan"), quantile(ok, 0.99) if ok else float("nan")


def start_server(port: int, workers: int, concurrency: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "hocr", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--max-in-flight", str(concurrency + 64), "--no-access-log"]
    server = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("the server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    port = free_port()
    server = start_server(port, args.workers, args.concurrency)
    try:
        run(port, server.pid, args)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def run(port: int, pid: int, args: argparse.Namespace) -> None:
    asyncio.run(burst(port, request("POST", "/v1/check", BODY), 20))  # warm up
    print(f"{args.concurrency} concurrent requests a burst, {args.rounds} rounds, {args.workers} worker(s), pid {pid}")
    print("round  check: fail  p50 ms  p99 ms | health: fail  p50 ms  p99 ms | p50 x  p99 x | RSS MiB before -> after")
    ratios50, ratios99, rss = [], [], []
    for r in range(1, args.rounds + 1):
        before = rss_mib(pid)
        checks = asyncio.run(burst(port, request("POST", "/v1/check", BODY), args.concurrency))
        health = asyncio.run(burst(port, request("GET", "/v1/health"), args.concurrency))
        after = rss_mib(pid)
        (cf, c50, c99), (hf, h50, h99) = summary(checks), summary(health)
        ratios50.append(c50 / h50)
        ratios99.append(c99 / h99)
        rss.append((before, after))
        print(f"{r:5}  {cf:11}  {c50:6.0f}  {c99:6.0f} | {hf:12}  {h50:6.0f}  {h99:6.0f} | {c50 / h50:5.1f}  {c99 / h99:5.1f} | {before:.0f} -> {after:.0f}")

    def mmm(xs: list[float]) -> str:
        return f"{min(xs):.1f} / {statistics.median(xs):.1f} / {max(xs):.1f}"

    print(f"check/health p50 ratio min/median/max: {mmm(ratios50)}; p99: {mmm(ratios99)}")
    print(f"server RSS: {rss[0][0]:.0f} MiB before the first round, {rss[-1][1]:.0f} MiB after the last")


if __name__ == "__main__":
    main()
