"""Cover requests and overrides as store transactions: the change, its audit and its notices commit once.

Synchronous (run in a thread by the listeners and the job), and free of Slack: every message is an
outbox row holding a neutral notice (rendered by bot.slack.notices) with a key derived from the change
(`swap:7:update:accepted`), so a retried click, a second replica or a rerun of the job never posts
twice. Messages that need the request's posted message (its edit, its thread) wait until that post is
delivered; `tick` enqueues them on a later pass. The answer to the person asking is an `Outcome`: a
sentence with named facts (spans, people) that the Slack layer formats and escapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import Connection, select

from bot.domain import policy
from bot.domain.rotation import Roster
from bot.domain.changes import changed_people, moved, next_shift, on_call_throughout, time_of
from bot.domain.notices import notice, shift_json
from bot.domain.timeutil import iso
from bot.domain.rotation import OverrideSpan
from bot.domain.spans import Span, span_plain
from bot.runbook.models import Runbook
from bot.store import outbox, swaps
from bot.store.db import Store
from bot.store.overrides import active_overrides, add_override, cancel_override
from bot.store.schema import outbox as outbox_table
from bot.store.swaps import OverrideRecord, SwapRequest

# After Grafana OnCall's shift swaps: reminders in the thread while nobody has taken the request.
FOLLOWUPS = [timedelta(weeks=4), timedelta(weeks=3), timedelta(weeks=2), timedelta(weeks=1), timedelta(days=3),
             timedelta(days=2), timedelta(days=1), timedelta(hours=12)]
RECENT = timedelta(days=2)  # closed requests whose messages the job still checks


@dataclass(frozen=True)
class Person:
    """A runbook name the reply mentions."""
    name: str


@dataclass
class Outcome:
    ok: bool
    text: str                                         # with {fact} placeholders
    changed: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)         # Span, list of Span, Person, or plain text


@dataclass(frozen=True)
class Actor:
    name: str             # runbook name
    user_id: str          # Slack user id
    admin: bool = False


SlackId = Callable[[str], str | None]


def _posted(conn: Connection, key: str) -> tuple[str | None, str | None]:
    """(channel, ts) Slack returned for the outbox row `key`, once it is sent."""
    result = conn.execute(select(outbox_table.c.result).where(
        outbox_table.c.idempotency_key == key, outbox_table.c.state == "sent")).scalar_one_or_none() or {}
    return result.get("channel"), (str(result["ts"]) if result.get("ts") else None)


def _post(conn: Connection, key: str, channel: str, said: dict, now: datetime, **extra) -> None:
    """A neutral notice, rendered by bot.slack.notices when it is delivered."""
    outbox.enqueue(conn, kind="swap", idempotency_key=key, now=now, method="chat.postMessage", channel=channel,
                   args={"notice": said, "unfurl_links": False, "unfurl_media": False, **extra})


def _dm_changed(conn: Connection, runbook: Runbook, rotation: str, before: list[OverrideSpan],
                after: list[OverrideSpan], span: Span, why: str, key: str, slack_id: SlackId, now: datetime) -> None:
    """'Your next shift moved' to each person whose time changed, saying what they gained or gave away
    (people Slack does not know get none)."""
    r = Roster(runbook, rotation, after)
    for name in changed_people(runbook, rotation, before, after, span.start, span.end):
        uid = slack_id(name)
        if uid:
            gained, lost = moved(runbook, rotation, before, after, name, span.start, span.end)
            _post(conn, f"{key}:dm:{name}", uid,
                  notice("shift_moved", person=name, why=why, next=shift_json(next_shift(r, name, now)),
                         gained=[[iso(a), iso(b)] for a, b in gained], lost=[[iso(a), iso(b)] for a, b in lost]), now)


# Cover requests ------------------------------------------------------------------------------------
def request_cover(store: Store, runbook: Runbook, rotation: str, actor: Actor, span: Span, note: str,
                  now: datetime) -> tuple[Outcome, SwapRequest | None]:
    if span.start <= now:
        return Outcome(False, "A cover request must start in the future: nobody could take it in time. "
                              "For cover right now, ask your teammate and use `/oncall override`."), None
    with store.transaction() as conn:
        current = Roster(runbook, rotation, active_overrides(conn, now))
        if not time_of(current, actor.name, span.start, span.end):
            return Outcome(False, "You are not on call between {span}, so there is nothing to cover. "
                                  "`/oncall schedule` shows your shifts.", facts={"span": span}), None
        req = swaps.create(conn, rotation=rotation, requester=actor.name, requester_id=actor.user_id,
                           start=span.start, end=span.end, note=note, channel=runbook.team.channels.oncall, now=now)
        _post(conn, f"swap:{req.id}:post", req.channel, notice("swap_request", swap=req.id), now)
    return Outcome(True, "Your cover request #{id} is posted in {channel}: {span}. The first teammate to accept "
                         "takes it.", facts={"id": req.id, "channel": req.channel, "span": span}), req


def accept(store: Store, runbook: Runbook, swap_id: int, actor: Actor, slack_id: SlackId, now: datetime) -> Outcome:
    req = swaps.get(store, swap_id)
    if req is None:
        return Outcome(False, "This cover request no longer exists.")
    if actor.name == req.requester or actor.user_id == req.requester_id:
        return Outcome(False, "You asked for this cover, so you cannot take it: a teammate has to accept it.")
    if req.asked and actor.name != req.asked:
        return Outcome(False, "This request asks {asked} to take it; only they can accept it.",
                       facts={"asked": Person(req.asked)})
    if req.state == "open" and req.start_at <= now:
        swaps.expire_due(store, now)
        return Outcome(False, "This request started before anyone took it, so it has expired.")
    with store.transaction() as conn:
        if not swaps.take(conn, swap_id, by=actor.name, by_id=actor.user_id, now=now):
            current = swaps.get(conn, swap_id)
            taken = f"taken by {current.accepted_by}" if current.state == "accepted" else current.state
            return Outcome(False, "Too late: this request is already {taken}.", facts={"taken": taken})
        before = active_overrides(conn)
        pieces = time_of(Roster(runbook, req.rotation, before), req.requester, req.start_at, req.end_at)
        added = []
        for start, end in pieces:
            oid = add_override(conn, rotation=req.rotation, person=actor.name, start=start, end=end,
                               created_by=actor.user_id, created_by_name=actor.name, now=now,
                               note=f"covers {req.requester}" + (f": {req.note}" if req.note else ""),
                               swap_id=req.id)
            added.append(OverrideSpan(actor.name, start, end, req.rotation, "", "slack", f"db-{oid}"))
        after = [*before, *added]
        changed = changed_people(runbook, req.rotation, before, after, req.start_at, req.end_at)
        _dm_changed(conn, runbook, req.rotation, before, after, Span(req.start_at, req.end_at),
                    f"{actor.name} took {req.requester}'s cover request #{req.id}.", f"swap:{req.id}", slack_id, now)
        sync_messages(conn, swaps.get(conn, swap_id), now)
    if not pieces:
        return Outcome(True, "Thanks! {requester} is no longer on call in that span, so nothing moved.",
                       facts={"requester": req.requester})
    return Outcome(True, "You are on call {spans}, covering {requester}.", changed,
                   {"spans": [Span(a, b) for a, b in pieces], "requester": req.requester})


def cancel_request(store: Store, swap_id: int, actor: Actor, now: datetime) -> Outcome:
    req = swaps.get(store, swap_id)
    if req is None:
        return Outcome(False, "This cover request no longer exists.")
    if actor.name != req.requester and not actor.admin:
        return Outcome(False, "Only {requester} (or an admin) can cancel this request.",
                       facts={"requester": req.requester})
    with store.transaction() as conn:
        if not swaps.cancel(conn, swap_id, by=actor.name, by_id=actor.user_id, now=now):
            state = swaps.get(conn, swap_id).state
            return Outcome(False, "This request is already {state}; cancel an accepted one's override "
                                  "with `/oncall overrides`.", facts={"state": state})
        sync_messages(conn, swaps.get(conn, swap_id), now)
    return Outcome(True, "Cover request #{id} cancelled.", facts={"id": swap_id})


def sync_messages(conn: Connection, req: SwapRequest, now: datetime) -> None:
    """The edit and thread reply of a closed request, once its post is delivered (else on a later tick)."""
    if req.state == "open":
        return
    channel, ts = _posted(conn, f"swap:{req.id}:post")
    if not ts:
        return
    outbox.enqueue(conn, kind="swap", idempotency_key=f"swap:{req.id}:update:{req.state}", now=now,
                   method="chat.update", channel=channel,
                   args={"channel": channel, "ts": ts, "notice": notice("swap_request", swap=req.id)})
    if req.state in ("accepted", "expired"):
        _post(conn, f"swap:{req.id}:reply:{req.state}", channel, notice(f"swap_{req.state}", swap=req.id), now,
              thread_ts=ts)


def due_followup(req: SwapRequest, now: datetime) -> timedelta | None:
    """The latest follow-up lead that has come (and came after the request was made), if any."""
    due = [lead for lead in FOLLOWUPS if req.created_at < req.start_at - lead <= now]
    return min(due) if due else None


def tick(store: Store, runbook: Runbook, now: datetime) -> int:
    """Expire requests whose start has come, post follow-ups, and catch up on messages: idempotent."""
    expired = swaps.expire_due(store, now)
    touched = len(expired)
    for req in swaps.listing(store, ending_after=now - RECENT):
        with store.transaction() as conn:
            if req.state == "open":
                lead = due_followup(req, now)
                channel, ts = _posted(conn, f"swap:{req.id}:post")
                if lead is not None and ts:
                    audience = policy.decide(runbook, None, policy.COVER_FOLLOWUP, now, ())
                    left = (req.start_at - now).total_seconds()
                    _post(conn, f"swap:{req.id}:followup:{int(lead.total_seconds())}", channel,
                          notice("swap_followup", swap=req.id, left=left, reason=audience.reason), now, thread_ts=ts)
                    touched += 1
            elif (req.accepted_at or req.cancelled_at or req.expired_at) >= now - RECENT:
                sync_messages(conn, req, now)
                touched += 1
    return touched


# Overrides -------------------------------------------------------------------------------------------
def set_override(store: Store, runbook: Runbook, rotation: str, actor: Actor, person: str, span: Span, note: str,
                 slack_id: SlackId, now: datetime) -> Outcome:
    if span.end <= now:
        return Outcome(False, "That span is already over.")
    with store.transaction() as conn:
        before = active_overrides(conn)
        current = Roster(runbook, rotation, before)
        if not actor.admin and not on_call_throughout(current, actor.name, span.start, span.end):
            admins = ", ".join(runbook.team.admins) or "nobody (see team.admins in the runbook)"
            return Outcome(False, "Only admins can set overrides, except for the person on call over their own "
                                  "shift, and you are not on call for all of {span}. Admins: {admins}.",
                           facts={"span": span, "admins": admins})
        same = next((o for o in before if (o.rotation, o.person, o.start, o.end) ==
                     (rotation, person, span.start, span.end)), None)
        if same is not None:
            return Outcome(False, "Override #{id} already puts {person} on call {span}; nothing changed.",
                           facts={"id": same.id.removeprefix("db-"), "person": Person(person), "span": span})
        if not actor.admin and person != actor.name:
            # A teammate's time is theirs to give: the override becomes a request only they can accept.
            req = swaps.create(conn, rotation=rotation, requester=actor.name, requester_id=actor.user_id,
                               start=span.start, end=span.end, note=note, channel=runbook.team.channels.oncall,
                               now=now, asked=person)
            _post(conn, f"swap:{req.id}:post", req.channel, notice("swap_request", swap=req.id), now)
            return Outcome(True, "{person} is asked to take your on-call {span} (request #{id} in {channel}); "
                                 "you stay on call unless they accept. Admins can set overrides directly.",
                           facts={"person": Person(person), "span": span, "id": req.id, "channel": req.channel})
        replaced = sorted({s.person for s in current.shifts(span.start, span.end) if s.person != person})
        oid = add_override(conn, rotation=rotation, person=person, start=span.start, end=span.end,
                           created_by=actor.user_id, created_by_name=actor.name, note=note, now=now)
        after = [*before, OverrideSpan(person, span.start, span.end, rotation, note, "slack", f"db-{oid}")]
        changed = changed_people(runbook, rotation, before, after, span.start, span.end)
        _post(conn, f"override:{oid}:announce", runbook.team.channels.oncall, notice(
            "override_set", person=person, start=iso(span.start), end=iso(span.end), replaced=replaced,
            by=actor.name, by_id=actor.user_id, note=note, override_id=oid), now)
        _dm_changed(conn, runbook, rotation, before, after, span, f"{actor.name} set override #{oid}: {person} is on "
                    f"call {span_plain(span.start, span.end)}.", f"override:{oid}", slack_id, now)
    return Outcome(True, "Override #{id}: {person} is on call {span}.", changed,
                   {"id": oid, "person": Person(person), "span": span})


def may_cancel(rec: OverrideRecord, actor: Actor, requesters: dict[int, str]) -> bool:
    """Admins, whoever set it, the person it puts on call, and the requester of the swap it came from."""
    return (actor.admin or actor.user_id == rec.created_by or actor.name == rec.person
            or (rec.swap_id is not None and requesters.get(rec.swap_id) == actor.name))


def cancel_override_by(store: Store, runbook: Runbook, override_id: int, actor: Actor, slack_id: SlackId,
                       now: datetime) -> Outcome:
    rec = next((r for r in swaps.override_records(store) if r.id == override_id), None)
    if rec is None or rec.cancelled_at is not None:
        return Outcome(False, "Override #{id} is already cancelled.", facts={"id": override_id})
    if rec.end_at <= now:
        return Outcome(False, "Override #{id} is already over.", facts={"id": override_id})
    asked = swaps.get(store, rec.swap_id) if rec.swap_id is not None else None
    requesters = {asked.id: asked.requester} if asked else {}
    if not may_cancel(rec, actor, requesters):
        return Outcome(False, "Only an admin, {setter} or {person} can cancel override #{id}.",
                       facts={"setter": rec.created_by_name or "whoever set it", "person": rec.person,
                              "id": override_id})
    with store.transaction() as conn:
        before = active_overrides(conn)
        if not cancel_override(conn, override_id, now, by=actor.user_id, by_name=actor.name):
            return Outcome(False, "Override #{id} is already cancelled.", facts={"id": override_id})
        after = [s for s in before if s.id != f"db-{override_id}"]
        changed = changed_people(runbook, rec.rotation, before, after, rec.start_at, rec.end_at)
        _post(conn, f"override:{override_id}:cancel", runbook.team.channels.oncall, notice(
            "override_cancelled", person=rec.person, start=iso(rec.start_at), end=iso(rec.end_at), by=actor.name,
            by_id=actor.user_id, override_id=override_id), now)
        _dm_changed(conn, runbook, rec.rotation, before, after, Span(rec.start_at, rec.end_at),
                    f"{actor.name} cancelled override #{override_id} ({rec.person}, "
                    f"{span_plain(rec.start_at, rec.end_at)}).",
                    f"override:{override_id}:cancel", slack_id, now)
    return Outcome(True, "Override #{id} cancelled; the schedule applies again.", changed, {"id": override_id})
