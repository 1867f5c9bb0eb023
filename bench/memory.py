"""Incident memory: the "seen before" look-up of a new incident with 100,000 past incidents in the store.

    python bench/memory.py [--incidents 100000] [--errors 2000] [--lookups 50]

Seeds a fresh store (SQLite, and PostgreSQL at 127.0.0.1:5432/test when it answers) with --errors
distinct error families (their shapes and near-duplicate bands, as intake stores them) and
--incidents resolved incidents over a year (a few families recur a lot, most rarely; one in ten has
a resolution note), then times `similar_incidents` for a new incident of a frequent family, of a rare
one, a close variant (one frame more) and an error never seen. Prints median, p99 and the slowest
look-up per case (target: under 50 ms); nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from bot.domain.fingerprint import fingerprint  # noqa: E402
from bench.backends import each_backend  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store.memory import remember_shapes, similar_incidents  # noqa: E402
from bot.store.schema import incidents, resolution_notes  # noqa: E402

WORDS = ("partition column table schema offset consumer writer reader shuffle broadcast join window merge "
         "snapshot manifest bucket credential token quota lease lock commit checkpoint watermark").split()
EXCEPTIONS = ("SparkException", "IllegalStateException", "AnalysisException", "KafkaException", "SQLException",
              "IOException", "TimeoutException", "ValueError", "KeyError", "OperationalError")
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def family(rng: random.Random, n: int, extra_frame: bool = False) -> str:
    """One error family: its exception, message words and frames are its own; ids vary per call."""
    own = random.Random(n)
    words = " ".join(own.sample(WORDS, 6))
    frames = [f"\tat com.acme.jobs.{own.choice(WORDS).title()}Job.{own.choice(WORDS)}(Job.scala:{rng.randint(1, 900)})"
              for _ in range(8 + extra_frame)]
    return "\n".join([f"{own.choice(EXCEPTIONS)}: failed to {words} for task {rng.randint(1, 999)} "
                      f"on 10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)} ({uuid.uuid4()})", *frames])


def seed(store: Store, incidents_n: int, errors_n: int) -> list[str]:
    rng = random.Random(1)
    samples = [family(rng, n) for n in range(errors_n)]
    prints = [fingerprint(s) for s in samples]
    with store.transaction() as conn:
        remember_shapes(conn, dict(zip(prints, samples)), NOW - timedelta(days=365))
    weights = [1 / (rank + 1) for rank in range(errors_n)]  # a few errors recur a lot, most rarely
    rows, notes = [], []
    for i in range(incidents_n):
        opened = NOW - timedelta(minutes=rng.randint(60, 365 * 24 * 60))
        fp = rng.choices(prints, weights)[0]
        rows.append(dict(id=i + 1, pipeline=f"p{rng.randint(1, 40)}", pipeline_raw="p", known=True, dedup_key=f"k{i}",
                         status="resolved", opened_at=opened, last_alert_at=opened, alert_count=1, notify_mode="quiet",
                         notify=[], resolved_by="U0LAURA", resolved_at=opened + timedelta(minutes=rng.randint(5, 600)),
                         error="…", fingerprint=fp, escalation_level=0, slack_channel="C1", slack_ts=f"{i}.0001"))
        if i % 10 == 0:
            notes.append(dict(incident_id=i + 1, fix="Reran after clearing the checkpoint.", remediation="none",
                              category=None, by_user="U0LAURA", by_name="Laura", at=opened + timedelta(hours=1)))
    with store.transaction() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(incidents), rows[start:start + 5000])
        conn.execute(insert(resolution_notes), notes)
        if store.dialect == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('incidents', 'id'), :n)"), {"n": incidents_n})
    if store.dialect == "postgresql":
        with store.transaction() as conn:
            conn.execute(text("ANALYZE"))
    return samples


def new_incident(store: Store, error: str) -> int:
    with store.transaction() as conn:
        return conn.execute(insert(incidents).returning(incidents.c.id), dict(
            pipeline="growth", pipeline_raw="growth", known=True, dedup_key=str(uuid.uuid4()), status="open",
            opened_at=NOW, last_alert_at=NOW, alert_count=1, notify_mode="quiet", notify=[], error=error,
            fingerprint=fingerprint(error), escalation_level=0)).scalar_one()


def measure(store: Store, label: str, error: str, lookups: int) -> None:
    with store.transaction() as conn:
        remember_shapes(conn, {fingerprint(error): error}, NOW)
    incident = new_incident(store, error)
    found, times = [], []
    for _ in range(lookups):
        started = time.perf_counter()
        found = similar_incidents(store, incident)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"  {label:<28} shows {len(found)}   median {statistics.median(times):6.1f} ms   p99 {p99:6.1f} ms   "
          f"slowest {times[-1]:6.1f} ms")


def run(url: str, label: str, args) -> None:
    store = Store(url)  # migrated on open
    started = time.perf_counter()
    samples = seed(store, args.incidents, args.errors)
    print(f"{label}: {args.incidents:,} past incidents of {args.errors:,} errors seeded in "
          f"{time.perf_counter() - started:.0f} s")
    rng = random.Random(7)
    measure(store, "a frequent error again", family(rng, 0), args.lookups)
    measure(store, "a rare error again", family(rng, args.errors - 1), args.lookups)
    measure(store, "a close variant (+1 frame)", family(rng, 3, extra_frame=True), args.lookups)
    measure(store, "an error never seen", "java.lang.UnsupportedOperationException: nothing like it", args.lookups)
    assert samples
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--errors", type=int, default=2_000)
    parser.add_argument("--lookups", type=int, default=50)
    args = parser.parse_args()
    each_backend("memory", lambda url, label: run(url, label, args))


if __name__ == "__main__":
    main()
