"""Reports over a year: `oncall-bot report --weeks 52 --json` with 100,000 incidents in the store.

    python bench/report.py [--incidents 100000] [--runs 5]

Seeds a fresh store (SQLite, and PostgreSQL at 127.0.0.1:5432/test when it answers) with a year of
the repository runbook's pipelines: --incidents incidents (acknowledged and resolved, one in five
paged with a delivered direct message, one in fifty escalated) and a success report per pipeline
per day. Then times the command as a fresh process (what a person waits for) and the read and the
figures in process, --runs times each. Target: under 1 s. Prints figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from bot.domain.report import build  # noqa: E402
from bot.runbook import load  # noqa: E402
from bench.backends import each_backend  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store.report_reads import facts  # noqa: E402
from bot.store.schema import actions, alert_events, incidents, outbox  # noqa: E402

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
PIPELINES = ("growth", "engagement", "profit", "investors")
PEOPLE = ("Danny", "Anna", "Laura", "Jane")


def seed(store: Store, count: int) -> None:
    rng = random.Random(3)
    rows, pages, escalations = [], [], []
    for i in range(1, count + 1):
        opened = NOW - timedelta(minutes=rng.randint(60, 365 * 24 * 60))
        acked = opened + timedelta(minutes=rng.randint(1, 90))
        resolved = acked + timedelta(minutes=rng.randint(5, 600))
        rows.append(dict(id=i, pipeline=rng.choice(PIPELINES), pipeline_raw="p", known=True, dedup_key=f"k{i}",
                         status="resolved", opened_at=opened, last_alert_at=opened, alert_count=rng.randint(1, 3),
                         notify_mode="page", notify=[], acknowledged_by="U0DANNY", acknowledged_at=acked,
                         resolved_by="U0LAURA", resolved_at=resolved, fix_by=opened + timedelta(days=1),
                         escalation_level=0, error="x"))
        if i % 5 == 0:
            pages.append(dict(incident_id=i, kind="page", idempotency_key=f"incident:{i}:page", channel=None,
                              method="chat.postMessage", args={"person": rng.choice(PEOPLE)}, state="sent", attempts=1,
                              next_attempt_at=opened, created_at=opened, sent_at=opened + timedelta(seconds=2),
                              result={"channel": "D1", "ts": f"{i}.1"}, priority=0))
        if i % 50 == 0:
            escalations.append(dict(incident_id=i, kind="escalate", actor="bot", at=opened + timedelta(minutes=30),
                                    detail={}))
    days = [NOW - timedelta(days=d) for d in range(366)]
    successes = [dict(incident_id=None, source="generic", pipeline_raw=key, status="succeeded", dedup_key=None,
                      run_id=None, error=None, log_url=None, occurred_at=day.replace(hour=2), received_at=day,
                      payload={}) for day in days for key in PIPELINES]
    with store.transaction() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(incidents), rows[start:start + 5000])
        for table, batch in ((outbox, pages), (actions, escalations), (alert_events, successes)):
            conn.execute(insert(table), batch)
        if store.dialect == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('incidents', 'id'), :n)"), {"n": count})
    if store.dialect == "postgresql":
        with store.transaction() as conn:
            conn.execute(text("ANALYZE"))


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def run(url: str, label: str, args) -> None:
    store = Store(url)
    started = time.perf_counter()
    seed(store, args.incidents)
    print(f"{label}: {args.incidents:,} incidents over a year seeded in {time.perf_counter() - started:.0f} s")
    runbook = load(ROOT / "runbooks.yaml").runbook
    start = NOW - timedelta(weeks=52)
    read = timed(lambda: facts(store, runbook, start, NOW), args.runs)
    found = facts(store, runbook, start, NOW)
    figures = timed(lambda: build(runbook, found, start, NOW), args.runs)
    env = {**os.environ, "DATABASE_URL": url, "RUNBOOKS_PATH": str(ROOT / "runbooks.yaml")}
    command = [sys.executable, "-m", "bot", "report", "--weeks", "52", "--json", "--at", NOW.isoformat()]
    cli = timed(lambda: subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True), args.runs)
    for name, values in (("read (facts)", read), ("figures (build)", figures), ("`report --weeks 52 --json`", cli)):
        print(f"  {name:<28} median {statistics.median(values):.3f} s   slowest {max(values):.3f} s")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    each_backend("report", lambda url, label: run(url, label, args))


if __name__ == "__main__":
    main()
