"""Bench: alert intake through `oncall-bot serve` with a fake Slack, beside a bare Starlette endpoint.

    python bench/alerts.py [--seconds 10] [--storm 10000]

1. Intake of distinct incidents at concurrency 16: alerts/s, p50 and p99 of the 202 (SQLite).
2. A storm of N alerts for one incident: Slack calls made, the most calls to one channel in any
   one-second window, time until the outbox is drained, and alerts lost (N minus the stored count).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.loadgen import ROOT, Server, free_port, load, python  # noqa: E402

TOKEN = "bench-alerts"
HEADERS = {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}


def start_fake_slack(tmp: Path):
    import subprocess

    port, log = free_port(), tmp / f"slack-{time.time_ns()}.jsonl"
    proc = subprocess.Popen([python(), str(ROOT / "bench" / "fake_slack_server.py"), str(port), str(log)])
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/api/api.test", timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}/api/", log


def serve(tmp: Path, slack_url: str, name: str) -> Server:
    port = free_port()
    env = {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": slack_url,
           "ALERTS_TOKEN": TOKEN, "RUNBOOKS_PATH": str(ROOT / "runbooks.yaml"),
           "DATABASE_URL": f"sqlite:///{tmp / name}.db"}
    return Server([python(), "-m", "bot", "serve", "--host", "127.0.0.1"], env, port, cwd=tmp)


def metric(server: Server, name: str, label: str) -> float:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith(name) and label in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--storm", type=int, default=10_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oncall-alerts-bench-"))
    slack, slack_url, slack_log = start_fake_slack(tmp)
    try:
        counter = itertools.count()

        def distinct():
            n = next(counter)
            return json.dumps({"pipeline": "growth", "status": "failed", "dedup_key": f"bench-{n}",
                               "error": "Caused by: java.lang.NullPointerException"}).encode(), HEADERS

        ours = serve(tmp, slack_url, "intake")
        try:
            intake = load("serve /alerts", ours.url + "/alerts", distinct, 16, args.seconds, expect=202)
        finally:
            ours.stop()
        port = free_port()
        bare = Server([python(), str(ROOT / "bench" / "baselines.py"), "starlette", str(port)], {}, port)
        try:
            ceiling = load("bare Starlette /alerts", bare.url + "/alerts", distinct, 16, args.seconds, expect=202)
        finally:
            bare.stop()
        print(intake.row())
        print(ceiling.row())
        print(f"intake: {intake.rate / ceiling.rate:.0%} of the bare endpoint")

        slack_log.write_text("")
        storm_server = serve(tmp, slack_url, "storm")
        try:
            body = json.dumps({"pipeline": "engagement", "status": "failed", "dedup_key": "storm",
                               "error": "java.lang.OutOfMemoryError: Java heap space"}).encode()
            started = time.perf_counter()
            import asyncio

            total = args.storm
            accepted = 0
            while accepted < total:
                batch = min(2000, total - accepted)
                workers = min(16, batch)
                count, errors, _, _ = asyncio.run(_count_run(storm_server.url + "/alerts", body, workers,
                                                             batch // workers))
                accepted += count - errors
                if count == errors:
                    raise SystemExit(f"the storm is refused: {errors} errors in a row")
            intake_done = time.perf_counter()
            while metric(storm_server, "oncall_outbox_rows", 'state="due"') or \
                    metric(storm_server, "oncall_outbox_rows", 'state="pending"'):
                if time.perf_counter() - intake_done > 120:
                    break
                time.sleep(0.2)
            drained = time.perf_counter()
        finally:
            storm_server.stop()
        from bot.store import Store
        from bot.store.incidents import list_incidents

        stored = sum(i.alert_count for i in list_incidents(Store(f"sqlite:///{tmp / 'storm'}.db")))
        calls = [json.loads(line) for line in slack_log.read_text().splitlines()]
        # Only the storm's incident: scheduled messages (a handoff, say) may share the fake Slack.
        chat = [c for c in calls if c["method"].startswith("chat.") and c["channel"] != "#data-oncall"]
        tops = [c for c in chat if c["method"] == "chat.postMessage" and not c["thread"]
                and c["text"].startswith("Engagement failed")]
        per_second = defaultdict(int)
        for c in chat:
            per_second[int(c["at"])] += 1  # every call goes to the one alerts channel
        print(f"storm: {accepted} alerts accepted in {intake_done - started:.1f} s; {len(chat)} Slack calls "
              f"({len(tops)} top-level message); at most {max(per_second.values(), default=0)} call(s) in any "
              f"one-second window; outbox drained {drained - intake_done:.1f} s after the last alert; "
              f"alerts lost: {total - stored}")
    finally:
        slack.terminate()


async def _count_run(url: str, body: bytes, concurrency: int, per_worker: int):
    import aiohttp

    errors = 0
    count = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as client:
        async def worker():
            nonlocal errors, count
            for _ in range(per_worker):
                async with client.post(url, data=body, headers=HEADERS) as response:
                    await response.read()
                    count += 1
                    errors += response.status != 202

        import asyncio

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count, errors, [], 0


if __name__ == "__main__":
    main()
