"""Fix deadlines of open incidents: chased before, marked breached at, and month-end reminders.

- Chase: at `fix_by - lead` for each lead of `team.reminders.fix_deadline` (default 4h, 1h) that
  falls after the incident opened; a reply in the incident thread mentioning the first person the
  policy names at that hour, and all of them at the last lead. Stale once the deadline passes.
- Breach: at `fix_by`, if still open: recorded on the incident (action `fix_breached`) and a reply,
  broadcast to the channel when it mentions someone. Never stale.
- Month end: for pipelines with `fix_by: end_of_month`, at work-hours start of the N-th working day
  before the month ends (`team.reminders.month_end_working_days`), one message in the on-call
  channel listing their open incidents due at that month end (none open: nothing is posted).
Thread replies wait (are postponed) until the incident's parent message is posted.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Iterator

from dateutil.relativedelta import relativedelta
from sqlalchemy import Connection

from bot.domain import policy
from bot.domain.calendar import working_days
from bot.domain.timeutil import local_instant
from bot.domain.notices import audience_json, notice
from bot.domain.timeutil import iso
from bot.jobs.core import Context, Occurrence, Postpone, SKIPPED
from bot.runbook.fields import format_duration
from bot.store.incidents import record_action, tell

CHASE, BREACH, MONTH_END = "fix_chase", "fix_breach", "month_end"


def occurrences(ctx: Context, start: datetime, end: datetime) -> Iterator[Occurrence]:
    leads = sorted(ctx.runbook.team.reminders.fix_deadline, reverse=True)
    for incident in ctx.open_incidents:
        if not incident.fix_by:
            continue
        for n, lead in enumerate(leads):
            due = incident.fix_by - lead
            if start <= due <= end and due >= incident.opened_at:
                last = n == len(leads) - 1
                yield Occurrence(CHASE, f"incident-{incident.id}/{format_duration(lead)}", due, incident.fix_by,
                                 (incident, lead, last))
        if start <= incident.fix_by <= end:
            yield Occurrence(BREACH, f"incident-{incident.id}", incident.fix_by, None, incident)
    yield from month_ends(ctx, start, end)


def month_reminder(ctx: Context, month_end: datetime) -> datetime | None:
    """Work-hours start of the N-th working day before `month_end` (the next month's first instant)."""
    wanted = ctx.runbook.team.reminders.month_end_working_days
    if not wanted:
        return None
    days = working_days(ctx.runbook, month_end.astimezone(ctx.tz).date(), -1, within=62)
    day = next(itertools.islice(days, wanted - 1, None), None)
    return local_instant(day, ctx.runbook.team.work_hours.start, ctx.tz) if day else None


def month_ends(ctx: Context, start: datetime, end: datetime) -> Iterator[Occurrence]:
    keys = [k for k, p in ctx.runbook.pipelines.items() if p.sla and p.sla.fix_by == "end_of_month"]
    if not keys:
        return
    first = start.astimezone(ctx.tz).date().replace(day=1)
    for months in range(0, 3):
        month_end = local_instant(first + relativedelta(months=months + 1), datetime.min.time(), ctx.tz)
        due = month_reminder(ctx, month_end)
        if due and start <= due <= end:
            for key in keys:
                yield Occurrence(MONTH_END, key, due, month_end, month_end)


def act(ctx: Context, occ: Occurrence, conn: Connection) -> str:
    if occ.kind == MONTH_END:
        month_end = occ.subject
        due = [i for i in ctx.open_incidents if i.pipeline == occ.scope and i.fix_by and i.fix_by <= month_end]
        if not due:
            return SKIPPED
        audience, later = ctx.owners_audience(occ.scope, policy.MONTH_END, occ.due)
        return ctx.enqueue(conn, occ, notice(MONTH_END, pipeline=occ.scope, month_end=iso(month_end),
                                             incidents=[i.id for i in due], audience=audience_json(audience)),
                           channel=ctx.runbook.team.channels.oncall, not_before=later)
    incident = occ.subject[0] if occ.kind == CHASE else occ.subject
    if not incident.slack_ts:
        raise Postpone(f"incident {incident.id} has no Slack thread yet")
    pipeline = incident.pipeline if incident.known else None
    if occ.kind == CHASE:
        _, lead, last = occ.subject
        kind = policy.FIX_CHASE_LAST if last else policy.FIX_CHASE
    else:
        kind = policy.FIX_BREACH
        record_action(conn, incident.id, "fix_breached", "bot", ctx.now, {"fix_by": incident.fix_by.isoformat()})
    audience = ctx.audience(pipeline, kind, incident)
    tell(conn, incident, audience, kind, ctx.now, scope=occ.scope)
    # A miss is said in the channel too, when it asks someone to act.
    return ctx.enqueue(conn, occ, notice(occ.kind, incident=incident.id, audience=audience_json(audience)),
                       channel=incident.slack_channel, thread_ts=incident.slack_ts,
                       broadcast=occ.kind == BREACH and bool(audience.mentioned))
