"""What every scheduled-message rule shares: occurrences, posts, and the per-pass context.

A rule derives occurrences (kind, scope, due instant) from the runbook and the store, never from
"now plus a delay", so any pass at any time finds the same ones: that is what makes the catch-up
and the exactly-once keys work. `stale_at` says until when a late occurrence is still worth sending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Callable, Protocol

from sqlalchemy import Connection

from bot.domain import policy
from bot.domain.calendar import working_days_before
from bot.domain.rotation import OverrideSpan, Roster, runbook_overrides
from bot.domain.timeutil import local_instant
from bot.runbook.fields import WorkingDays
from bot.runbook.models import Runbook
from bot.store import outbox
from bot.store.notifications import notification_key
from bot.store.records import Incident
from bot.slack.text import escape


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


@dataclass(frozen=True)
class Post:
    """One chat.postMessage; a thread reply when `thread_ts` is set."""

    channel: str
    text: str
    blocks: list[dict]
    thread_ts: str | None = None
    broadcast: bool = False

    def args(self) -> dict:
        args: dict[str, Any] = {"text": self.text, "blocks": self.blocks}
        if self.thread_ts:
            args["thread_ts"] = self.thread_ts
            if self.broadcast:
                args["reply_broadcast"] = True
        return args


class Postpone(Exception):
    """The message cannot be built yet (e.g. its thread's parent is not posted): try on the next pass."""


SENT, SKIPPED = "sent", "skipped"


class People(Protocol):
    def mention(self, name: str | None) -> str: ...
    def plain(self, name: str | None) -> str: ...
    def slack_id(self, name: str | None) -> str | None: ...


class PlainPeople:
    """Names in bold, no Slack IDs: tests, dry runs, and people the runbook cannot resolve."""

    def mention(self, name: str | None) -> str:
        return f"*{escape(name)}*" if name else "_nobody_"

    plain = mention

    def slack_id(self, name: str | None) -> str | None:
        return None


class DirectoryPeople:
    """bot.slack.people.Directory after `resolve`: mentions and DM targets from IDs Slack gave us."""

    def __init__(self, directory) -> None:
        self.directory = directory

    def mention(self, name: str | None) -> str:
        return self.directory.mention(name)

    def plain(self, name: str | None) -> str:
        return self.directory.plain(name)

    def slack_id(self, name: str | None) -> str | None:
        shown = self.directory.mention(name) if name else ""
        return shown[2:-1] if shown.startswith("<@") else None


@dataclass
class Context:
    """Everything a pass reads, loaded once: rules never query per pipeline."""

    runbook: Runbook
    now: datetime
    since: datetime                          # the pass looks back to here (never before the first pass)
    epoch: datetime                          # the first pass ever on this store: nothing before it is owed
    people: People
    overrides: list[OverrideSpan]
    open_incidents: list[Incident]
    run_incidents: list[Incident]
    successes: list[tuple[str, datetime]]
    checks: dict
    states: dict[str, tuple[str, datetime | None]] = field(default_factory=dict)
    delivered: Callable[[str], tuple[str | None, str | None]] = lambda key: (None, None)
    cache: dict = field(default_factory=dict)  # per-pass memo of rules (e.g. reported names to pipelines)
    _rosters: dict[str, Roster] = field(default_factory=dict)

    def roster(self, rotation: str) -> Roster:
        if rotation not in self._rosters:
            self._rosters[rotation] = Roster(self.runbook, rotation, [*runbook_overrides(self.runbook),
                                                                      *self.overrides])
        return self._rosters[rotation]

    @cached_property
    def tz(self):
        return self.runbook.tz

    def dm(self, name: str) -> str:
        """A person's DM (their user ID), or the on-call channel when Slack does not know them."""
        return self.people.slack_id(name) or self.runbook.team.channels.oncall

    def audience(self, pipeline: str | None, kind: str, incident: Incident | None = None,
                 at: datetime | None = None) -> policy.Audience:
        """The policy's answer for a message of this pass: the one place audiences come from."""
        from bot.alerts.escalation import state_of

        return policy.decide(self.runbook, pipeline, kind, at or self.now, self.overrides,
                             state_of(incident) if incident else None)

    def owners_audience(self, pipeline: str, kind: str, due: datetime) -> tuple[policy.Audience, datetime | None]:
        """A reminder for a pipeline's owners, and when to post it: at once when it was due in work
        hours (a catch-up pass may come later), else at the next start, where it then mentions them."""
        audience = self.audience(pipeline, kind, at=due)
        if audience.how == "deferred" and audience.until:
            return self.audience(pipeline, kind, at=audience.until), audience.until
        return audience, None

    def enqueue(self, conn: Connection, occ: Occurrence, posts: list[Post], *, kind: str | None = None,
                not_before: datetime | None = None) -> str:
        for i, post in enumerate(posts):
            outbox.enqueue(conn, kind=kind or occ.kind, idempotency_key=f"{occ.key}#{i}", now=self.now,
                           method="chat.postMessage", channel=post.channel, args=post.args(), not_before=not_before)
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
