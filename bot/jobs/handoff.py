"""The weekly handoff: posted in the on-call channel when the on-call person actually changes.

Occurrences are the starts of the final (overrides applied, same person merged) shifts, so a week
someone covers twice in a row has no handoff, and a swap that starts mid-week has one. A late
handoff is still posted while its shift lasts (stale at the next handoff).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import Connection

from bot.domain.rotation import Shift
from bot.jobs.core import Context, Occurrence, Post
from bot.slack.replies import scheduled

KIND = "handoff"
USERGROUP = "usergroup"


def changes(ctx: Context, rotation: str, start: datetime, end: datetime) -> Iterator[tuple[Shift | None, Shift]]:
    """(outgoing shift or None, incoming shift) for the shift current at `start` and each one starting up to `end`."""
    roster = ctx.roster(rotation)
    margin = roster.rotation.turn * 2 + timedelta(days=1)
    shifts = roster.shifts(start - margin, end + timedelta(seconds=1))
    for prev, shift in zip([None, *shifts], shifts):
        if shift.end <= start or shift.start > end:
            continue
        yield (prev if prev and prev.end == shift.start else None), shift


def occurrences(ctx: Context, start: datetime, end: datetime) -> Iterator[Occurrence]:
    for rotation, spec in ctx.runbook.rotations.items():
        for prev, shift in changes(ctx, rotation, start, end):
            yield Occurrence(KIND, rotation, shift.start, shift.end, (prev, shift))
            if spec.usergroup:
                yield Occurrence(USERGROUP, rotation, shift.start, shift.end, (prev, shift))


def act(ctx: Context, occ: Occurrence, conn: Connection) -> str:
    prev, shift = occ.subject
    week_end = shift.start + timedelta(days=7)
    shifts = ctx.roster(occ.scope).shifts(shift.start, week_end)
    message = scheduled.handoff(ctx.runbook, ctx.people, occ.scope, prev, shift, shifts, ctx.open_incidents)
    return ctx.enqueue(conn, occ, [Post(ctx.runbook.team.channels.oncall, **message.payload())])
