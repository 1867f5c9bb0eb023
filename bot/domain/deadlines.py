"""Runbook clocks for one failed run: when its data was due, and when the fix is due.

- The run a failure belongs to is the latest scheduled run (cron, UTC) at or before the failure.
- data_ready_by: the first SLA time of day (UTC) at or after that run's scheduled start.
- fix_within: counted from midnight UTC that starts the run's day (a run at 01:00 on day D: fix by D+1 00:00).
- fix_by end_of_month: the first instant of the next month in the team zone (exclusive), taken from the failure.
Without a schedule, the run's day is the failure's UTC day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from functools import lru_cache

from dateutil.relativedelta import relativedelta

from bot.domain.timeutil import local_instant, utc
from bot.runbook.models import Runbook


@dataclass(frozen=True)
class Deadlines:
    run_at: datetime | None
    data_ready_by: datetime | None
    fix_by: datetime | None

    def left(self, now: datetime) -> dict[str, timedelta | None]:
        return {
            "data_ready_by": self.data_ready_by - now if self.data_ready_by else None,
            "fix_by": self.fix_by - now if self.fix_by else None,
        }


def scheduled_run(schedule: str, at: datetime) -> datetime:
    """The latest cron fire time at or before `at` (UTC)."""
    return _previous_fire(schedule, utc(at).replace(second=0, microsecond=0))


@lru_cache(maxsize=4096)  # alerts of one night ask about the same few runs again and again
def _previous_fire(schedule: str, minute: datetime) -> datetime:
    from croniter import croniter

    return croniter(schedule, minute + timedelta(minutes=1)).get_prev(datetime).astimezone(UTC)


def deadlines(runbook: Runbook, pipeline: str | None, failed_at: datetime) -> Deadlines:
    failed_at = utc(failed_at)
    spec = runbook.pipelines.get(pipeline) if pipeline else None
    if spec is None:
        return Deadlines(None, None, None)
    run_at = scheduled_run(spec.schedule, failed_at) if spec.schedule else None
    run_day = (run_at or failed_at).date()
    sla = spec.sla
    data_ready_by = fix_by = None
    if sla and sla.data_ready_by is not None:
        base = run_at or datetime.combine(run_day, time(0), UTC)
        data_ready_by = datetime.combine(base.date(), sla.data_ready_by, UTC)
        if data_ready_by < base:
            data_ready_by += timedelta(days=1)
    if sla and sla.fix_within is not None:
        fix_by = datetime.combine(run_day, time(0), UTC) + sla.fix_within
    elif sla and sla.fix_by == "end_of_month":
        local = failed_at.astimezone(runbook.tz)
        first_of_next = local.date() + relativedelta(months=1, day=1)
        fix_by = local_instant(first_of_next, time(0), runbook.tz)
    return Deadlines(run_at, data_ready_by, fix_by)


def sla_watch(runbook: Runbook, reported) -> dict[str, tuple[bool, str]]:
    """For each pipeline with a data-ready time: whether the SLA watch runs, and why (or why not).
    `reported` holds (or maps, to when) the keys of pipelines that have reported a success."""
    found = {}
    for key, spec in runbook.pipelines.items():
        if not spec.sla or spec.sla.data_ready_by is None:
            continue
        if not spec.schedule:
            found[key] = (False, "no schedule in the runbook, so no run to watch")
        elif spec.sla.watch == "always":
            found[key] = (True, "watched from the start (sla.watch: always)")
        elif key in reported:
            found[key] = (True, "watched since its first success report")
        else:
            found[key] = (False, "waiting for its first success report (sla.watch: always watches it from the start)")
    return found
