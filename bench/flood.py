"""Bench: a flood of distinct incidents, and a page that must not wait behind it (issue 11).

    python bench/flood.py [--incidents 50000] [--storm 10000] [--settle 75]

Against `oncall-bot serve` (SQLite) and a fake Slack, with the source runbook's people given Slack ids:
1. RSS at rest, then the peak while N distinct incidents of a work-hours pipeline (posted quietly, one
   post per second in the alerts channel) arrive at concurrency 16, and RSS after;
2. during that flood, a failure that pages the on-call person: seconds from its 202 to the DM;
3. the slowest alert of the flood, and of a trickle in the minute after it, while the scheduled passes
   look at 50,000 open incidents (they must not stall intake), and RSS then;
4. /healthz p50/p99 while a storm of M alerts for one incident arrives.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.alerts import HEADERS, TOKEN, start_fake_slack  # noqa: E402
from bench.loadgen import ROOT, Server, free_port, python  # noqa: E402


def serve(tmp: Path, slack_url: str, name: str) -> Server:
    text = (ROOT / "runbooks.yaml").read_text()
    text = re.sub(r"\{email: (\w+)@example\.com, placeholder: true\}", lambda m: f"{{slack_id: U0{m[1].upper()}}}", text)
    runbook = tmp / f"{name}.yaml"
    runbook.write_text(text)
    env = {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": slack_url,
           "ALERTS_TOKEN": TOKEN, "RUNBOOKS_PATH": str(runbook), "DATABASE_URL": f"sqlite:///{tmp / name}.db"}
    return Server([python(), "-m", "bot", "serve", "--host", "127.0.0.1"], env, free_port(), cwd=tmp)


async def send(url: str, bodies, concurrency: int) -> list[float]:
    import aiohttp

    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as client:
        async def worker():
            for body in bodies:
                started = time.perf_counter()
                async with client.post(url, data=body, headers=HEADERS) as response:
                    await response.read()
                    if response.status != 202:
                        raise SystemExit(f"alert refused: {response.status}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def sampled(server: Server, stop: threading.Event, found: list[float]) -> None:
    while not stop.is_set():
        found.append(server.rss_mb())
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--storm", type=int, default=10_000)
    parser.add_argument("--settle", type=float, default=75, help="seconds to watch after the flood")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oncall-flood-bench-"))
    slack, slack_url, slack_log = start_fake_slack(tmp)
    try:
        bot = serve(tmp, slack_url, "flood")
        try:
            time.sleep(2)
            at_rest = bot.rss_mb()
            emitted = [0]

            def flood():
                for n in range(args.incidents):
                    emitted[0] = n
                    yield json.dumps({"pipeline": "profit", "status": "failed", "dedup_key": f"flood-{n}",
                                      "error": "wrote 0 rows"}).encode()

            bodies = flood()
            rss: list[float] = []
            stop = threading.Event()
            watcher = threading.Thread(target=sampled, args=(bot, stop, rss), daemon=True)
            watcher.start()
            paged: dict[str, float] = {}

            def page_midway() -> None:
                while emitted[0] < args.incidents * 0.8:
                    time.sleep(0.05)
                paged["sent"] = time.time()
                httpx.post(bot.url + "/alerts", headers=HEADERS, timeout=30, json={
                    "pipeline": "growth", "status": "failed", "error": "java.lang.NullPointerException"})
                paged["accepted"] = time.time()

            pager = threading.Thread(target=page_midway, daemon=True)
            pager.start()
            started = time.perf_counter()
            latencies = asyncio.run(send(bot.url + "/alerts", bodies, 16))
            took = time.perf_counter() - started
            pager.join(60)
            deadline = time.time() + 120
            dm_at = None
            while time.time() < deadline and dm_at is None:
                for line in slack_log.read_text().splitlines():
                    call = json.loads(line)
                    if str(call["channel"]).startswith(("U", "D")) and call["text"].startswith("Growth failed"):
                        dm_at = call["at"]
                        break
                time.sleep(0.2)
            # Then a minute and more with 50,000 open incidents: the scheduled passes and the clocks look
            # at them all; a trickle of alerts shows whether they stall intake.
            trickle: list[float] = []
            settle_until = time.perf_counter() + args.settle
            with httpx.Client(timeout=30) as client:
                while time.perf_counter() < settle_until:
                    began = time.perf_counter()
                    client.post(bot.url + "/alerts", headers=HEADERS, json={
                        "pipeline": "profit", "status": "failed", "dedup_key": f"trickle-{began}", "error": "x"})
                    trickle.append(time.perf_counter() - began)
                    time.sleep(0.1)
            stop.set()
            after = bot.rss_mb()
            ordered = sorted(latencies)
            print(f"flood: {len(latencies)} distinct incidents in {took:.1f} s ({len(latencies) / took:.0f}/s); "
                  f"alert p50 {ordered[len(ordered) // 2] * 1000:.1f} ms, p99 {ordered[int(len(ordered) * 0.99)] * 1000:.1f} ms, "
                  f"slowest {ordered[-1] * 1000:.0f} ms")
            print(f"memory: {at_rest:.0f} MB at rest, peak {max(rss, default=after):.0f} MB during the flood and the "
                  f"{args.settle:.0f} s after it, {after:.0f} MB at the end")
            if trickle:
                print(f"intake after the flood ({len(trickle)} alerts while the passes ran): slowest "
                      f"{max(trickle) * 1000:.0f} ms")
            if dm_at is None:
                print("page: no DM within 120 s of the flood's end")
            else:
                print(f"page during the flood: DM {dm_at - paged['accepted']:.1f} s after its 202")
        finally:
            bot.stop()

        storm = serve(tmp, slack_url, "storm")
        try:
            body = json.dumps({"pipeline": "engagement", "status": "failed", "dedup_key": "storm",
                               "error": "java.lang.OutOfMemoryError"}).encode()
            health: list[float] = []
            stop = threading.Event()

            def poll() -> None:
                with httpx.Client(timeout=10) as client:
                    while not stop.is_set():
                        began = time.perf_counter()
                        client.get(storm.url + "/healthz")
                        health.append(time.perf_counter() - began)
                        time.sleep(0.05)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            asyncio.run(send(storm.url + "/alerts", [body] * (args.storm // 16), 16))
            stop.set()
            poller.join(15)
            health.sort()
            print(f"/healthz during a {args.storm}-alert storm: p50 {health[len(health) // 2] * 1000:.1f} ms, "
                  f"p99 {health[int(len(health) * 0.99)] * 1000:.1f} ms ({len(health)} probes)")
        finally:
            storm.stop()
    finally:
        slack.terminate()


if __name__ == "__main__":
    main()
