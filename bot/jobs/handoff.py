"""The weekly handoff: posted in the on-call channel when the on-call person actually changes.

Occurrences are the starts of the final stretches (overrides applied, one per person on call), so a week
someone covers twice in a row has no handoff, and a swap that starts mid-week has one. A late
handoff is still posted while its shift lasts (stale at the next handoff). A change already
announced at another instant (the runbook's handoff time moved between the two) is not announced again.

With the `charts` extra (matplotlib), a handoff of one person to the next also queues the weekly
picture (bot.report_chart), drawn when it is delivered and uploaded into the handoff's thread once the
handoff is posted; without it, nothing is queued and the handoff says how to enable it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import Connection, select

from bot import report_chart
from bot.domain.rotation import Shift
from bot.domain.notices import notice, shift_json
from bot.domain.timeutil import iso
from bot.jobs.core import SENT, SKIPPED, Context, Occurrence
from bot.store import outbox
from bot.store.db import Db, tx
from bot.store.schema import notifications
from bot.store.schema import outbox as outbox_rows

KIND = "handoff"
USERGROUP = "usergroup"
CHART = "report_chart"  # the weekly picture, a file in the handoff's thread


def changes(ctx: Context, rotation: str, start: datetime, end: datetime) -> Iterator[tuple[Shift | None, Shift]]:
    """(outgoing shift or None, incoming shift) for the shift current at `start` and each one starting up to `end`."""
    roster = ctx.roster(rotation)
    margin = roster.rotation.turn * 2 + timedelta(days=1)
    shifts = roster.stretches(start - margin, end + timedelta(seconds=1))
    for prev, shift in zip([None, *shifts], shifts):
        if shift.end <= start or shift.start > end:
            continue
        yield (prev if prev and prev.end == shift.start else None), shift


def occurrences(ctx: Context, start: datetime, end: datetime) -> Iterator[Occurrence]:
    for rotation, spec in ctx.runbook.rotations.items():
        for prev, shift in changes(ctx, rotation, start, end):
            change = {"from": prev.person if prev else None, "to": shift.person}
            yield Occurrence(KIND, rotation, shift.start, shift.end, (prev, shift), change)
            if spec.usergroup:
                yield Occurrence(USERGROUP, rotation, shift.start, shift.end, (prev, shift))


def act(ctx: Context, occ: Occurrence, conn: Connection) -> str:
    prev, shift = occ.subject
    if announced(conn, occ, ctx.roster(occ.scope).rotation.turn):
        return SKIPPED
    # A shift that began before the bot's first pass is announced as the current one, not as news.
    current = occ.due < ctx.epoch
    channel = ctx.runbook.team.channels.oncall
    done = ctx.enqueue(conn, occ, notice(KIND, rotation=occ.scope, prev=None if current else shift_json(prev),
                                         shift=shift_json(shift), current=current), channel=channel)
    # Called through the module: a test (or an install without the extra) decides what it answers.
    if not current and report_chart.pictured(ctx.runbook) and report_chart.available():
        outbox.enqueue(conn, kind=CHART, idempotency_key=f"{occ.key}#chart", now=ctx.now, channel=channel,
                       method="files.completeUploadExternal",
                       args={"handoff": f"{occ.key}#0", "rotation": occ.scope, "at": iso(shift.start),
                             "weeks": report_chart.WEEKS})
    return done


def post_state(db: Db, key: str) -> str | None:
    """The state of an outbox row by its key (pending, sent, failed); None when there is none. The
    picture's row waits for its handoff's row and gives up with it."""
    with tx(db, read=True) as conn:
        return conn.execute(select(outbox_rows.c.state).where(outbox_rows.c.idempotency_key == key)).scalar_one_or_none()


def announced(conn: Connection, occ: Occurrence, turn: timedelta) -> bool:
    """The same change (outgoing → incoming) already announced at another instant within a turn: the
    runbook's handoff time moved (a reload between the old and the new time), not the people."""
    query = select(notifications.c.due_at, notifications.c.detail).where(
        notifications.c.kind == KIND, notifications.c.state == SENT, notifications.c.key != occ.key,
        notifications.c.due_at > occ.due - turn, notifications.c.due_at < occ.due + turn)
    wanted = {"scope": occ.scope, **occ.detail}
    return any({k: (row.detail or {}).get(k) for k in wanted} == wanted for row in conn.execute(query))
