"""SLA watch: a scheduled run with no success report by its data-ready time is a breach.

For each day (in the pipeline's zone), the runs that must be ready by that day's `data_ready_by` are
the cron runs in the day before it; the first of them starts the watch. A pipeline is watched once it has reported a
success (`sla.watch: always`: from the start), so a team that has not wired success reports yet is
not told of a breach every day. At the deadline:
- a success reported since that run (or an incident of the run resolved in time by a success
  report; a resolve by hand says nothing about the data): nothing;
- an open incident of the run: a breach reply in its thread, naming the downstream teams to tell,
  mentioning whom the policy names at that hour (postponed until the thread's parent is posted);
- nothing at all: an SLA-breach incident opened through intake like a failure (same policy);
  a later success resolves it and the incident records how late the data was;
- seen only after the data arrived late (the bot was down at the deadline): a note saying how late,
  paging nobody.
Breaches are never stale (within the catch-up window).
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from bot.alerts.intake import receive
from bot.alerts.model import Alert
from bot.domain import policy
from bot.domain.deadlines import DAY, first_run, next_run, ready_by, scheduled_run, sla_watch
from bot.domain.lookup import exact_pipeline
from bot.domain.timeutil import iso
from bot.domain.notices import audience_json, notice
from bot.jobs.core import Context, Occurrence, Postpone, SENT, SKIPPED
from bot.store.incidents import get_incident, tell

KIND = "sla_breach"


def occurrences(ctx: Context, start: datetime, end: datetime) -> Iterator[Occurrence]:
    watched = {key for key, (on, _) in sla_watch(ctx.runbook, ctx.first_success).items() if on}
    for key, spec in ctx.runbook.pipelines.items():
        if key not in watched:
            continue
        # A run before the bot's first pass may have reported unseen; one before the pipeline's first
        # success report was not watched (the first report must not set off a week of old breaches).
        since = ctx.epoch if spec.sla.watch == "always" else max(ctx.epoch, ctx.first_success[key])
        zone = ctx.runbook.clock_zone(key)
        day = start.astimezone(zone).date()
        while day <= end.astimezone(zone).date():
            deadline = ready_by(ctx.runbook, key, day)
            day += DAY
            run = first_run(spec.schedule, deadline, zone) if start <= deadline <= end else None
            if run and run >= since:
                yield Occurrence(KIND, key, deadline, None, run, {"depth": len(ctx.lineage.ancestors(key))})


def succeeded(ctx: Context, pipeline: str, run: datetime, deadline: datetime) -> bool:
    names = _names(ctx)
    if any(names.get(raw) == pipeline and run <= at <= deadline for raw, at in ctx.successes):
        return True
    # A success that resolved the run's incident counts; a resolve by hand says nothing about the data.
    return any(r.pipeline == pipeline and run <= r.run_at <= deadline and r.met for r in ctx.runs)


def arrived_late(ctx: Context, pipeline: str, run: datetime, deadline: datetime) -> datetime | None:
    """When the run's data arrived after its deadline but before this pass (and before the next run,
    whose own success says nothing about this one), if it did."""
    names = _names(ctx)
    until = min(ctx.now, next_run(ctx.runbook.pipelines[pipeline].schedule, run, ctx.runbook.clock_zone(pipeline)))
    late = [at for raw, at in ctx.successes if names.get(raw) == pipeline and deadline < at <= until]
    late += [r.late_at for r in ctx.runs if r.pipeline == pipeline and run <= r.run_at <= deadline
             and r.late_at and deadline < r.late_at <= ctx.now]
    return min(late, default=None)


def _names(ctx: Context) -> dict[str, str | None]:
    cache = ctx.cache.setdefault("sla_names", {})
    for raw, _ in ctx.successes:
        if raw not in cache:
            cache[raw] = exact_pipeline(ctx.runbook, raw)
    return cache


def act(ctx: Context, occ: Occurrence, conn: Connection) -> str:
    pipeline, run, deadline = occ.scope, occ.subject, occ.due
    if succeeded(ctx, pipeline, run, deadline):
        return SKIPPED
    spec = ctx.runbook.pipelines[pipeline]
    opened = min((r.open_id for r in ctx.runs if r.pipeline == pipeline and run <= r.run_at <= deadline
                  and r.open_id is not None), default=None)
    current = get_incident(conn, opened) if opened is not None else None
    arrived = arrived_late(ctx, pipeline, run, deadline)
    if current is None and arrived is not None:
        # Seen only now (the bot was down at the deadline), and the data is already there: say it.
        return ctx.enqueue(conn, occ, notice("sla_late", pipeline=pipeline, deadline=iso(deadline), arrived=iso(arrived)),
                           channel=ctx.runbook.team.channels.alerts)
    if current is None:
        error = sla_error(spec, run, deadline, ctx.runbook.clock_zone(pipeline), started(ctx, pipeline, run, deadline))
        receive(conn, ctx.runbook, Alert(
            source="sla", pipeline=pipeline, status="failed", occurred_at=deadline,
            error=error + "".join(f" {note}" for note in late_upstream(ctx, pipeline, deadline)),
            raw={"sla_breach": True, "run_at": iso(run), "data_ready_by": iso(deadline)}), ctx.now)
        return SENT
    if not current.slack_ts:
        raise Postpone(f"incident {current.id} has no Slack thread yet")
    audience = ctx.audience(pipeline, policy.SLA_BREACH, current)
    tell(conn, current, audience, policy.SLA_BREACH, ctx.now, scope=iso(deadline))
    return ctx.enqueue(conn, occ, notice(KIND, pipeline=pipeline, deadline=iso(deadline),
                                         audience=audience_json(audience)),
                       channel=current.slack_channel, thread_ts=current.slack_ts, broadcast=bool(audience.mentioned))


def late_upstream(ctx: Context, pipeline: str, deadline: datetime) -> list[str]:
    """Upstream pipelines whose latest run before the deadline has not reported success either: the
    likely reason, said on the breach. (One with an open incident folds the breach under it instead.)"""
    notes = []
    for key in ctx.lineage.ancestors(pipeline):
        spec = ctx.runbook.pipelines[key]
        if not spec.schedule:
            continue
        zone = ctx.runbook.clock_zone(key)
        run = scheduled_run(spec.schedule, deadline, zone)
        if not succeeded(ctx, key, run, deadline):
            notes.append(f"Upstream {spec.name} has not reported success for its "
                         f"{run.astimezone(zone):%Y-%m-%d %H:%M %Z} run either.")
    return notes


def started(ctx: Context, pipeline: str, run: datetime, deadline: datetime) -> datetime | None:
    """When the run began, if OpenLineage said so (its first START between the run and the deadline)."""
    return min((at for key, at in ctx.starts if key == pipeline and run <= at <= deadline), default=None)


def sla_error(spec, run: datetime, deadline: datetime, zone: ZoneInfo, began: datetime | None = None) -> str:
    """The text of a breach with no failure alert: shown, like a failure's error, on its incident."""
    tell_teams = f" Tell: {', '.join(spec.downstream)}." if spec.downstream else ""
    state = (f"it has been running since {began.astimezone(zone):%H:%M %Z} and reported neither success nor failure"
             if began else "no failure alert arrived either")
    return (f"SLA breach: no success report for the {run.astimezone(zone):%Y-%m-%d %H:%M %Z} run by its data-ready "
            f"time {deadline.astimezone(zone):%Y-%m-%d %H:%M %Z} ({state}).{tell_teams}")
