"""Transition meeting reminders and personal pre-shift reminders.

Meeting: at every handoff with an outgoing person, at handoff + `transition_meeting.offset`; outgoing
and incoming each get a DM at each lead of `remind` (whole days counted on the local calendar, or
working days: "1 working day" before a Monday meeting is Friday). A reminder is stale once the
meeting starts. Shift reminder: the person starting a shift gets a DM `shift_reminder` before it
(stale once it starts); skipped when a meeting reminder reaches the same person at the same instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import Connection

from bot.domain.notices import notice, shift_json
from bot.domain.timeutil import iso
from bot.jobs.core import Context, Occurrence, before, reach
from bot.jobs.handoff import changes
from bot.runbook.fields import format_lead

MEETING, SHIFT = "meeting_reminder", "shift_reminder"


def occurrences(ctx: Context, start: datetime, end: datetime) -> Iterator[Occurrence]:
    for rotation, spec in ctx.runbook.rotations.items():
        meeting, lead = spec.transition_meeting, spec.shift_reminder
        leads = meeting.remind if meeting else []
        ahead = max(reach(x) for x in [*leads, lead or timedelta(0)])
        ahead += abs(meeting.offset) if meeting else timedelta(0)
        for prev, shift in changes(ctx, rotation, start, end + ahead + timedelta(days=1)):
            meeting_dues = set()
            if meeting and prev:
                at = shift.start + meeting.offset
                for remind in leads:
                    due = before(ctx.runbook, at, remind)
                    for person in dict.fromkeys((prev.person, shift.person)):
                        if person == shift.person:
                            meeting_dues.add(due)
                        if start <= due <= end:
                            yield Occurrence(MEETING, f"{rotation}/{person}/{format_lead(remind)}", due, at,
                                             (rotation, person, prev, shift, at, meeting.duration))
            if lead:
                due = before(ctx.runbook, shift.start, lead)
                if start <= due <= end and due not in meeting_dues:
                    yield Occurrence(SHIFT, f"{rotation}/{shift.person}", due, shift.start, (rotation, shift))


def act(ctx: Context, occ: Occurrence, conn: Connection) -> str:
    if occ.kind == MEETING:
        rotation, person, prev, shift, at, duration = occ.subject
        return ctx.enqueue(conn, occ, notice(MEETING, rotation=rotation, person=person, outgoing=prev.person,
                                             shift=shift_json(shift), at=iso(at), duration=duration.total_seconds()),
                           dm=person)
    rotation, shift = occ.subject
    return ctx.enqueue(conn, occ, notice(SHIFT, rotation=rotation, shift=shift_json(shift)), dm=shift.person)
