"""What every scheduled-message rule shares: occurrences, neutral notices, and the per-pass context.

A rule derives occurrences (kind, scope, due instant) from the runbook and the store, never from
"now plus a delay", so any pass at any time finds the same ones: that is what makes the catch-up
and the exactly-once keys work. `stale_at` says until when a late occurrence is still worth sending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Callable

from sqlalchemy import Connection

from bot.alerts.escalation import state_of
from bot.domain import policy
from bot.domain.calendar import working_days_before
from bot.domain.lineage import Lineage, lineage_of
from bot.domain.rotation import OverrideSpan, Roster
from bot.domain.timeutil import local_instant
from bot.runbook.fields import WorkingDays
from bot.runbook.models import Runbook
from bot.store import outbox
from bot.store.notifications import notification_key
from bot.store.pass_reads import RunRecord
from bot.store.records import Incident


@dataclass(frozen=True)
class Occurrence:
    kind: str
    scope: str
    due: datetime
    stale_at: datetime | None = None        # from then on a late occurrence is recorded as skipped
    subject: Any = field(default=None, compare=False)
    detail: dict = field(default_factory=dict, compare=False)  # kept with the claim, for later passes

    @property
    def key(self) -> str:
        return notification_key(self.kind, self.scope, self.due)


class Postpone(Exception):
    """The message cannot be queued yet (e.g. its thread's parent is not posted): try on the next pass."""


SENT, SKIPPED = "sent", "skipped"


@dataclass
class Context:
    """Everything a pass reads, loaded once: rules never query per pipeline."""

    runbook: Runbook
    now: datetime
    since: datetime                          # the pass looks back to here (never before the first pass)
    epoch: datetime                          # the first pass ever on this store: nothing before it is owed
    overrides: list[OverrideSpan]
    open_incidents: list[Incident]           # open, with a fix deadline still to chase (see deadlines)
    runs: list[RunRecord]                    # what the SLA watch needs of each run's incidents
    successes: list[tuple[str, datetime]]
    first_success: dict[str, datetime]       # when each pipeline first reported a success
    checks: dict
    starts: list[tuple[str, datetime]] = field(default_factory=list)  # (pipeline, OpenLineage START time)
    seen_edges: list[tuple[str, str]] = field(default_factory=list)   # lineage from OpenLineage datasets
    states: dict[str, tuple[str, datetime | None]] = field(default_factory=dict)
    delivered: Callable[[str], tuple[str | None, str | None]] = lambda key: (None, None)
    cache: dict = field(default_factory=dict)  # per-pass memo of rules (e.g. reported names to pipelines)
    _rosters: dict[str, Roster] = field(default_factory=dict)

    def roster(self, rotation: str) -> Roster:
        if rotation not in self._rosters:
            self._rosters[rotation] = Roster(self.runbook, rotation, self.overrides)
        return self._rosters[rotation]

    @cached_property
    def lineage(self) -> Lineage:
        return lineage_of(self.runbook, self.seen_edges)

    @cached_property
    def tz(self):
        return self.runbook.tz

    def audience(self, pipeline: str | None, kind: str, incident: Incident | None = None,
                 at: datetime | None = None) -> policy.Audience:
        """The policy's answer for a message of this pass: the one place audiences come from."""
        return policy.decide(self.runbook, pipeline, kind, at or self.now, self.overrides,
                             state_of(incident) if incident else None)

    def owners_audience(self, pipeline: str, kind: str, due: datetime) -> tuple[policy.Audience, datetime | None]:
        """A reminder for a pipeline's owners, and when to post it: at once when it was due in work
        hours (a catch-up pass may come later), else at the next start, where it then mentions them."""
        audience = self.audience(pipeline, kind, at=due)
        if audience.how == "deferred" and audience.until:
            return self.audience(pipeline, kind, at=audience.until), audience.until
        return audience, None

    def enqueue(self, conn: Connection, occ: Occurrence, notice: dict, *, channel: str | None = None,
                dm: str | None = None, thread_ts: str | None = None, broadcast: bool = False,
                not_before: datetime | None = None) -> str:
        """Queue the occurrence's message as a neutral notice (bot.slack.notices renders it when it is
        delivered): in `channel`, or as a direct message to the person `dm`, or as a reply in `thread_ts`."""
        args: dict[str, Any] = {"notice": notice}
        if dm:
            args["dm"] = dm
        if thread_ts:
            args["thread_ts"] = thread_ts
            if broadcast:
                args["reply_broadcast"] = True
        outbox.enqueue(conn, kind=occ.kind, idempotency_key=f"{occ.key}#0", now=self.now, method="chat.postMessage",
                       channel=channel, args=args, not_before=not_before)
        return SENT


def before(runbook: Runbook, at: datetime, lead: timedelta | WorkingDays) -> datetime:
    """`lead` before `at`: working days on the team's calendar; whole days on the local calendar (same
    wall time across DST), the rest elapsed."""
    if isinstance(lead, WorkingDays):
        return working_days_before(runbook, at, lead.count)
    days, rest = divmod(lead, timedelta(days=1))
    if days:
        local = at.astimezone(runbook.tz)
        at = local_instant(local.date() - timedelta(days=days), local.time().replace(fold=0), runbook.tz)
    return at - rest


def reach(lead: timedelta | WorkingDays) -> timedelta:
    """How far ahead of a pass an event may lie and still have a lead due in it (at most)."""
    if isinstance(lead, WorkingDays):
        return timedelta(days=2 * lead.count + 14)  # weekends, and a holiday week at worst
    return lead
