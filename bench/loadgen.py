"""A small closed-loop HTTP load generator shared by the benches (runs in its own process)."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    label: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else float("nan")

    def row(self) -> str:
        return (f"{self.label:<22} c={self.concurrency:<3} {self.rate:8.0f} req/s   p50 {self.pct(0.5):6.1f} ms   "
                f"p99 {self.pct(0.99):6.1f} ms   max {max(self.latencies, default=0) * 1000:6.0f} ms   errors {self.errors}")


async def _run(url: str, make: Callable[[], tuple[bytes, dict]], concurrency: int, seconds: float,
               expect: int) -> tuple[int, int, list[float], float]:
    import aiohttp  # faster than httpx as a client, so the servers are measured, not the client

    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:
        stop = time.perf_counter() + seconds

        async def worker():
            nonlocal errors
            while time.perf_counter() < stop:
                body, headers = make()
                started = time.perf_counter()
                try:
                    async with client.post(url, data=body, headers=headers) as response:
                        await response.read()
                        ok = response.status == expect
                except aiohttp.ClientError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return len(latencies), errors, latencies, elapsed


def load(label: str, url: str, make, concurrency: int, seconds: float, expect: int = 200) -> Result:
    asyncio.run(_run(url, make, concurrency, 1.0, expect))  # warm-up
    count, errors, latencies, elapsed = asyncio.run(_run(url, make, concurrency, seconds, expect))
    return Result(label, concurrency, count, errors, elapsed, latencies)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process; `ready` is seconds from spawn to the first /healthz answer."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, cwd: Path | None = None):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        self.proc = subprocess.Popen(argv, env={**os.environ, **env, "PORT": str(port)}, cwd=cwd or ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code < 600:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.perf_counter() - started > 30:
                raise SystemExit(f"server {argv} did not start")
            time.sleep(0.01)
        self.ready = time.perf_counter() - started

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


def python() -> str:
    return sys.executable


def median(values) -> float:
    return statistics.median(values)
