"""Scheduled messages at scale: jobs registered, catch-up pass time and memory for 200 pipelines.

Usage: python bench/jobs.py [--pipelines 200] [--database sqlite|URL]
A generated runbook (one weekly rotation with a transition meeting; daily pipelines with SLA and
fix deadlines; every tenth one weekly-checked with a month-end fix deadline) is run against a fresh
store: a first pass (the install), a catch-up pass after 48 h down (every SLA breach of two nights
opens an incident), then a steady pass with nothing due, and one 12 days after the install (the pass
then looks back over its whole 8-day window). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.runbook import loads  # noqa: E402

PEOPLE = ["Danny", "Anna", "Laura", "Jane", "Omar", "Mei"]


def generated(pipelines: int) -> str:
    lines = ["team:", "  name: Bench", "  timezone: Europe/Berlin", "  holidays: {country: DE}",
             "  channels: {oncall: '#oncall', alerts: '#alerts'}", "people:"]
    lines += [f"  {p}: {{email: {p.lower()}@bench.test}}" for p in PEOPLE]
    lines += ["rotations:", "  main:", f"    members: [{', '.join(PEOPLE)}]", "    start: 2026-01-05",
              "    handoff: {day: mon, time: '09:00'}", "    turn: 1w",
              "    transition_meeting: {duration: 30m, offset: 0m, remind: [1d, 15m]}", "pipelines:"]
    for i in range(pipelines):
        owner, second = PEOPLE[i % 6], PEOPLE[(i + 1) % 6]
        lines += [f"  p{i:03d}:", f"    name: Pipeline {i}", f"    owners: {{primary: {owner}, secondary: {second}}}",
                  f"    schedule: '{i % 60} {i % 4} * * *'", "    downstream: [Analysts]"]
        if i % 10 == 0:
            lines += ["    sla: {fix_by: end_of_month}",
                      "    on_call: {outside_work_hours: defer, weekly_check: {day: mon, time: '10:00'}}"]
        else:
            lines += [f"    sla: {{data_ready_by: '0{4 + i % 3}:00', fix_within: 24h, watch: always}}",
                      "    on_call: {rotation: main, page: [weekdays, weekends]}"]
    return "\n".join(lines) + "\n"


def timed(label: str, fn, memory: bool = False):
    gc.collect()
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    peak = 0
    if memory:  # traced separately: tracemalloc slows Python down several times
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    shown = f"peak {peak / 2**20:5.1f} MiB" if memory else " " * 14
    print(f"{label:<34} {elapsed * 1000:8.1f} ms   {shown}   "
          f"{result.occurrences:5d} occurrences, {len(result.sent):4d} sent, {len(result.skipped):4d} skipped")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=200)
    parser.add_argument("--database", default="sqlite")
    args = parser.parse_args()

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.jobs import JOB_DEFAULTS, add_jobs
    from bot.jobs.catchup import run_pass
    from bot.store import Store

    runbook = loads(generated(args.pipelines), "<bench>").runbook
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db" if args.database == "sqlite" else args.database
    store = Store(url)

    class Rt:  # add_jobs only reads the clock when it registers jobs
        clock = staticmethod(lambda: datetime.now(UTC))

    scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
    add_jobs(scheduler, Rt)
    jobs = scheduler.get_jobs()
    print(f"pipelines {args.pipelines}, database {store.dialect}")
    print(f"scheduled jobs: {len(jobs) + 1} ({', '.join(j.id for j in jobs)}, scheduled-alarm); "
          f"none per pipeline: occurrences are derived on each pass")

    install = datetime(2026, 11, 29, 12, tzinfo=UTC)          # Sunday noon
    timed("first pass (install)", lambda: run_pass(store, runbook, install))
    back = install + timedelta(hours=48)
    caught = timed("catch-up pass after 48 h down", lambda: run_pass(store, runbook, back))
    timed("steady pass, nothing due", lambda: run_pass(store, runbook, back + timedelta(seconds=30)), memory=True)
    print(f"next alarm after the catch-up: {caught.next_due:%Y-%m-%d %H:%M} UTC")
    # Ten days on (a pass a day in between), the pass looks back over its whole window.
    later = back
    for _ in range(10):
        later += timedelta(days=1)
        run_pass(store, runbook, later)
    timed("steady pass after 12 days", lambda: run_pass(store, runbook, later + timedelta(seconds=30)), memory=True)
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    store.close()


if __name__ == "__main__":
    main()
