"""The one pass every scheduled message goes through, at start, on each tick and at each alarm.

It enumerates every rule's occurrences due in [now - window, now] (a handoff: while its shift is
current), and for each one not yet done claims its key, then enqueues its message and marks the
key sent (or skipped when stale) in the same transaction: a crash leaves neither, two replicas
never both. One transaction per occurrence, so replicas do not deadlock on each other's keys.
The same enumeration, looking ahead, gives the next due instant for the alarm.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.jobs import fix_deadlines, handoff, missed, reminders, sla, weekly_checks
from bot.jobs.core import Context, Occurrence, Postpone, SKIPPED
from bot.runbook.models import Runbook
from bot.store import Store
from bot.store.weekly_checks import checks_since
from bot.store.pass_reads import (delivered, first_successes, notification_states, open_with_deadlines, run_records,
                              successes_since)
from bot.store.lineage import dataset_edges, starts_since
from bot.store.notifications import claim, finish
from bot.store.overrides import active_overrides
from bot.store.schema import notifications

log = logging.getLogger("oncall_bot.jobs")

WINDOW = timedelta(days=8)          # how far back a pass looks: a missed weekly check is owed for a week
LOOKAHEAD = timedelta(hours=24)     # how far ahead it looks for the next alarm
RULES = (handoff, reminders, sla, fix_deadlines, weekly_checks)
ACTS = {handoff.KIND: handoff.act, reminders.MEETING: reminders.act, reminders.SHIFT: reminders.act,
        sla.KIND: sla.act, fix_deadlines.CHASE: fix_deadlines.act, fix_deadlines.BREACH: fix_deadlines.act,
        fix_deadlines.MONTH_END: fix_deadlines.act, weekly_checks.CHECK: weekly_checks.act,
        weekly_checks.REMINDER: weekly_checks.act}
CALLS = {handoff.USERGROUP}          # done outside the pass (a Slack call, not a message): claimed only


@dataclass
class PassResult:
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    postponed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)   # fell due while the bot was down: in one summary
    calls: list[Occurrence] = field(default_factory=list)   # claimed; the caller makes them and finishes
    next_due: datetime | None = None
    occurrences: int = 0


EPOCH_KEY = "jobs:epoch"


def epoch(store: Store, now: datetime) -> datetime:
    """The first pass ever on this store (recorded by it): a fresh install owes nothing from before."""
    query = select(notifications.c.due_at).where(notifications.c.key == EPOCH_KEY)
    with store.reading() as conn:
        first = conn.execute(query).scalar_one_or_none()
    if first is None and claim(store, EPOCH_KEY, "epoch", now, now):
        finish(store, EPOCH_KEY, "sent", now)
        return now
    with store.reading() as conn:
        return first or conn.execute(query).scalar_one()


def load_context(store: Store, runbook: Runbook, now: datetime, window: timedelta) -> Context:
    first = epoch(store, now)
    if first > now:  # the clock went back (or a test moved it): fall back to the plain window
        first = now - window
    since = max(now - window, first)
    back = since - timedelta(days=8)  # a reminder looks at its check a week back; runs start a day back
    return Context(runbook=runbook, now=now, since=since, epoch=first,
                   overrides=active_overrides(store, back), open_incidents=open_with_deadlines(store, back),
                   runs=run_records(store, back), successes=successes_since(store, back),
                   first_success=first_successes(store, runbook),
                   checks=checks_since(store, back), states=notification_states(store, back),
                   starts=starts_since(store, back), seen_edges=[(a, b) for a, b, *_ in dataset_edges(store, now)],
                   delivered=lambda key: delivered(store, key))


def run_pass(store: Store, runbook: Runbook, now: datetime, window: timedelta = WINDOW,
             lookahead: timedelta = LOOKAHEAD) -> PassResult:
    ctx = load_context(store, runbook, now, window)
    # Upstream pipelines first among occurrences due together: a chain late in one pass opens its root
    # incident before the downstream breaches that fold under it.
    found = sorted((occ for rule in RULES for occ in rule.occurrences(ctx, ctx.since, now + lookahead)),
                   key=lambda o: (o.due, o.kind, o.detail.get("depth", 0), o.scope))
    result = PassResult(occurrences=len(found))
    owed = []
    for occ in found:
        if occ.due > now:
            result.next_due = occ.due if result.next_due is None else min(result.next_due, occ.due)
        elif ctx.states.get(occ.key, ("",))[0] not in ("sent", "skipped"):
            owed.append(occ)
    missed_ones = [occ for occ in owed if missed.is_missed(ctx, occ)]
    if missed_ones:
        _summarize(store, ctx, missed_ones, result)
    for occ in owed:
        if occ in missed_ones:
            continue
        try:
            _one(store, ctx, occ, result)
        except Postpone as why:
            result.postponed.append(occ.key)
            log.info("postponed %s: %s", occ.key, why)
        except Exception:
            result.failed.append(occ.key)
            log.exception("scheduled message %s failed; retried on the next pass", occ.key)
    return result


def _summarize(store: Store, ctx: Context, found: list[Occurrence], result: PassResult) -> None:
    """Claim every missed occurrence and say them in one message, in one transaction: another replica
    summarizes only what it claimed, and a crash leaves all of them owed."""
    try:
        with store.transaction() as conn:
            lines = []
            for occ in found:
                if not claim(conn, occ.key, occ.kind, occ.due, ctx.now, detail={"scope": occ.scope, **occ.detail}):
                    continue
                if (said := missed.line(ctx, occ, conn)) is not None:
                    lines.append(said)
                finish(conn, occ.key, SKIPPED, ctx.now)
                result.missed.append(occ.key)
            if lines:
                missed.summarize(ctx, conn, lines)
    except Exception:
        result.failed.extend(occ.key for occ in found)
        log.exception("the summary of what was missed failed; retried on the next pass")


def _one(store: Store, ctx: Context, occ: Occurrence, result: PassResult) -> None:
    with store.transaction() as conn:  # Postpone or any error rolls the claim back too
        if not claim(conn, occ.key, occ.kind, occ.due, ctx.now, detail={"scope": occ.scope, **occ.detail}):
            return
        if occ.stale_at is not None and ctx.now >= occ.stale_at:
            finish(conn, occ.key, SKIPPED, ctx.now)
            result.skipped.append(occ.key)
            return
        if occ.kind in CALLS:
            result.calls.append(occ)
            return
        state = ACTS[occ.kind](ctx, occ, conn)
        finish(conn, occ.key, state, ctx.now)
        (result.sent if state == "sent" else result.skipped).append(occ.key)
