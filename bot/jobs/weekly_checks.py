"""The weekly check of pipelines nobody is on call for (`on_call.weekly_check` in the runbook).

- Check: every `on_call.weekly_check` day and time (team zone), a message in the on-call channel
  mentioning the owners (in work hours; a check due outside them is posted at the next start) with a
  Checked button; the click records who and when (store.checks).
  A late check is still posted until the next week's (stale 7 days after it was due).
- Reminder: unchecked at the end of work hours of the check's day (or of the next working day when
  the check comes after work hours or on a day off), one reply in the check's thread with the
  button again. None if checked, or if the check itself only went out after that moment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import Connection

from bot.domain import policy
from bot.domain.calendar import working_days
from bot.domain.timeutil import local_instant
from bot.domain.notices import audience_json, notice
from bot.domain.timeutil import iso
from bot.jobs.core import Context, Occurrence, SKIPPED
from bot.runbook.fields import WEEKDAYS
from bot.store.notifications import notification_key

CHECK, REMINDER = "weekly_check", "check_reminder"
WEEK = timedelta(days=7)


def check_dues(ctx: Context, check, start: datetime, end: datetime) -> Iterator[datetime]:
    day = start.astimezone(ctx.tz).date() - timedelta(days=1)
    last = end.astimezone(ctx.tz).date()
    while day <= last:
        if WEEKDAYS[day.weekday()] == check.day:
            due = local_instant(day, check.time, ctx.tz)
            if start <= due <= end:
                yield due
        day += timedelta(days=1)


def end_of_working_day(ctx: Context, at: datetime) -> datetime:
    hours = ctx.runbook.team.work_hours
    for day in working_days(ctx.runbook, at.astimezone(ctx.tz).date(), 1, include=True):
        closing = local_instant(day, hours.end, ctx.tz)
        if closing > at:
            return closing
    raise ValueError("no working day within 400 days: check team.work_hours and holidays")


def occurrences(ctx: Context, start: datetime, end: datetime) -> Iterator[Occurrence]:
    for key, spec in ctx.runbook.pipelines.items():
        check = spec.on_call.weekly_check if spec.on_call else None
        if not check:
            continue
        for due in check_dues(ctx, check, start - WEEK, end):
            if due >= start:
                yield Occurrence(CHECK, key, due, due + WEEK, due)
            remind = end_of_working_day(ctx, due)
            if start <= remind <= end:
                yield Occurrence(REMINDER, key, remind, due + WEEK, due)


def act(ctx: Context, occ: Occurrence, conn: Connection) -> str:
    due = occ.subject
    channel = ctx.runbook.team.channels.oncall
    if occ.kind == CHECK:
        audience, later = ctx.owners_audience(occ.scope, policy.WEEKLY_CHECK, occ.due)
        return ctx.enqueue(conn, occ, notice(CHECK, pipeline=occ.scope, due=iso(due), audience=audience_json(audience)),
                           channel=channel, not_before=later)
    if (occ.scope, due) in ctx.checks:
        return SKIPPED
    check_key = notification_key(CHECK, occ.scope, due)
    state, sent_at = ctx.states.get(check_key, (None, None))
    if state != "sent" or sent_at is None or sent_at >= occ.due:
        return SKIPPED  # the check was never posted, or went out late: this reminder would repeat it
    parent_channel, parent_ts = ctx.delivered(f"{check_key}#0")
    audience, later = ctx.owners_audience(occ.scope, policy.CHECK_REMINDER, occ.due)
    return ctx.enqueue(conn, occ, notice(REMINDER, pipeline=occ.scope, due=iso(due), audience=audience_json(audience)),
                       channel=parent_channel or channel, thread_ts=parent_ts, not_before=later)
