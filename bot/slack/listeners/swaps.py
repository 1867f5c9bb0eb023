"""Cover requests and overrides from Slack: `/oncall swap|override|overrides`, the modal, the buttons.

Listeners only identify the actor (a runbook person in our workspace), parse, and hand the change to
`bot.swap_flow` in a thread; the outbox delivers the messages. After each change this process
refreshes its override cache, so its own /oncall answers reflect the change at once.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot.domain.rotation import Roster
from bot.domain.changes import next_shift
from bot.domain.spans import Span, SpanError, parse_span
from bot.domain.timeutil import local_instant
from bot.runtime import Runtime
from bot.slack.workspace import OURS, workspace_of
from bot.slack.blocks import Message, message, section
from bot.slack.replies import swaps as render
from bot.slack.text import escape, unescape
from bot import swap_flow
from bot.store import swaps

log = logging.getLogger("oncall_bot.swaps")

_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
USAGE = {
    "swap": "`/oncall swap` opens a form; or `/oncall swap FROM [TO] [note]`, e.g. `/oncall swap tomorrow`, "
            "`/oncall swap 2026-12-07 2026-12-09 dentist`, `/oncall swap 2026-12-08T09:00 2026-12-08T18:00`.",
    "override": "`/oncall override @user FROM TO [note]`, e.g. `/oncall override @teammate 2026-12-08T09:00 "
                "2026-12-09T09:00 covering a dentist visit`. Admins may set any; the person on call may hand over "
                "their own shift.",
}


def _reply(text: str) -> Message:
    return message(text, [section(text)])


def rotation_of(rt: Runtime, person: str | None) -> str | None:
    """The rotation a person belongs to (the team's default one if none lists them)."""
    return next((k for k, r in rt.runbook.rotations.items() if person in r.members), rt.runbook.default_rotation)


async def actor_of(rt: Runtime, body: dict) -> swap_flow.Actor | None:
    user = body.get("user_id") or (body.get("user") or {}).get("id") or ""
    if not user or await workspace_of(rt, body) != OURS:
        return None
    name = await rt.directory.person_of(user)
    return swap_flow.Actor(name, user, name in rt.runbook.team.admins) if name else None


NOT_KNOWN = ("Only people in this team's runbook can do that, and I can't match your Slack account to one "
             "(the runbook's `people:` need your email or slack_id).")


async def command(rt: Runtime, sub: str, words: list[str], body: dict) -> Message | None:
    """Replies to `/oncall swap|override|overrides`; None when a modal was opened instead."""
    actor = await actor_of(rt, body)
    if actor is None:
        return _reply(NOT_KNOWN)
    now = rt.clock()
    if sub == "overrides":
        return await listing(rt, actor, now)
    rotation = rotation_of(rt, actor.name)
    if not rotation:
        return _reply("The runbook defines no rotation.")
    if sub == "swap" and not words:
        rt.spawn(open_modal(rt, body.get("trigger_id", ""), rotation, actor.name, now))
        return None
    target = None
    if sub == "override":
        if not words:
            return _reply(USAGE["override"])
        target = await person_named(rt, words[0])
        if target is None:
            return _reply(f"I don't know `{escape(words[0][:60])}`: name someone from the runbook "
                          f"({escape(', '.join(rt.runbook.people))}) or @mention them. {USAGE['override']}")
        words = words[1:]
    try:
        span, rest = parse_span(words, rt.runbook.tz, now)
    except SpanError as err:
        return _reply(f"{err}. {USAGE[sub]}")
    note = unescape(" ".join(rest))
    await rt.directory.resolve(rt.runbook.people)
    if sub == "swap":
        outcome, _ = await rt.db(swap_flow.request_cover, rt.runbook, rotation, actor, span, note, now)
    else:
        outcome = await rt.db(swap_flow.set_override, rt.runbook, rotation, actor, target, span, note,
                              rt.directory.known_id, now)
    await changed(rt, outcome.ok)
    return _reply(render.say(outcome, rt.directory.mention))


async def person_named(rt: Runtime, word: str) -> str | None:
    if m := _USER.match(word):
        return await rt.directory.person_of(m[1])
    wanted = word.lstrip("@").lower()
    return next((name for name in rt.runbook.people if name.lower() == wanted), None)


async def changed(rt: Runtime, ok: bool) -> None:
    if ok:
        await rt.db(lambda _store: rt.overrides.refresh())
        rt.wake_delivery()


async def listing(rt: Runtime, actor: swap_flow.Actor, now: datetime) -> Message:
    from bot.domain.rotation import runbook_overrides

    rotation = rotation_of(rt, actor.name)
    records = await rt.db(lambda store: swaps.override_records(store, ending_after=now, active=True))
    requests = await rt.db(lambda store: swaps.listing(store, ending_after=now))
    requesters = {r.id: r.requester for r in requests}
    items: list[dict] = []
    for i, o in enumerate(runbook_overrides(rt.runbook)):
        if o.rotation == rotation and o.end > now:
            items.append(dict(id=f"yaml-{i + 1}", person=o.person, start=o.start, end=o.end, note=o.note,
                              source="runbook", by=None, cancel=None, value=None))
    for r in records:
        if r.rotation == rotation:
            if r.swap_id is not None and r.swap_id not in requesters:
                asked = await rt.db(swaps.get, r.swap_id)
                requesters[r.swap_id] = asked.requester if asked else ""
            allowed = swap_flow.may_cancel(r, actor, requesters)
            items.append(dict(id=r.id, person=r.person, start=r.start_at, end=r.end_at, note=r.note, source="slack",
                              by=r.created_by_name or r.created_by, cancel="override_cancel" if allowed else None,
                              value=r.id))
    for n, item in enumerate(items):
        item["overlaps"] = [o["id"] for o in items[:n] if o["start"] < item["end"] and o["end"] > item["start"]]
    for req in requests:
        if req.state == "open" and req.rotation == rotation:
            allowed = actor.admin or actor.name == req.requester
            items.append(dict(id=req.id, person=req.requester, start=req.start_at, end=req.end_at, note=req.note,
                              source="request", by=req.requester, overlaps=[],
                              cancel="swap_cancel" if allowed else None, value=req.id))
    await rt.directory.resolve({i["person"] for i in items})
    return render.listing(items, rt.directory.mention, rotation)


async def open_modal(rt: Runtime, trigger_id: str, rotation: str, person: str, now: datetime) -> None:
    """The form's dates start on the person's next shift, the usual thing to ask cover for."""
    upcoming = next_shift(Roster(rt.runbook, rotation, rt.overrides()), person, now)
    tz = rt.runbook.tz
    start = upcoming.start.astimezone(tz).date().isoformat() if upcoming else None
    end = (upcoming.end - timedelta(seconds=1)).astimezone(tz).date().isoformat() if upcoming else None
    view = render.swap_modal(rotation, rt.runbook.team.timezone, start, end)
    await rt.client.views_open(trigger_id=trigger_id, view=view)


def span_from_view(values: dict, rt: Runtime) -> tuple[Span | None, dict[str, str]]:
    """The modal's pickers as a span in the team zone, or errors keyed by block id."""
    def picked(block: str, action: str, key: str) -> str | None:
        return ((values.get(block) or {}).get(action) or {}).get(key)

    tz = rt.runbook.tz
    try:
        start_day = datetime.strptime(picked("start_date", "date", "selected_date") or "", "%Y-%m-%d").date()
    except ValueError:
        return None, {"start_date": "Pick a start date."}
    try:
        end_day = datetime.strptime(picked("end_date", "date", "selected_date") or "", "%Y-%m-%d").date()
    except ValueError:
        return None, {"end_date": "Pick an end date."}
    start_time, end_time = picked("start_time", "time", "selected_time"), picked("end_time", "time", "selected_time")
    start = local_instant(start_day, time.fromisoformat(start_time) if start_time else time(0), tz)
    end = (local_instant(end_day, time.fromisoformat(end_time), tz) if end_time
           else local_instant(end_day + timedelta(days=1), time(0), tz))
    if end <= start:
        return None, {"end_date": "The end must come after the start."}
    return Span(start, end), {}


async def swap_submitted(ack: AsyncAck, body: dict, view: dict, context: AsyncBoltContext) -> None:
    rt: Runtime = context["rt"]
    actor = await actor_of(rt, body)
    if actor is None:
        await ack(response_action="errors", errors={"start_date": NOT_KNOWN[:150]})
        return
    span, errors = span_from_view((view.get("state") or {}).get("values") or {}, rt)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    note = (((view["state"]["values"].get("note") or {}).get("note") or {}).get("value") or "").strip()
    rotation = view.get("private_metadata") or rotation_of(rt, actor.name)
    if rotation not in rt.runbook.rotations:
        rotation = rotation_of(rt, actor.name)
    outcome, _ = await rt.db(swap_flow.request_cover, rt.runbook, rotation, actor, span, note, rt.clock())
    if not outcome.ok:
        await ack(response_action="errors", errors={"start_date": render.say(outcome, rt.directory.mention)[:150]})
        return
    await ack()
    await changed(rt, True)


async def clicked(ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond, context: AsyncBoltContext) -> None:
    rt: Runtime = context["rt"]
    await ack()
    actor = await actor_of(rt, body)
    if actor is None:
        await _tell(respond, NOT_KNOWN)
        return
    try:
        target = int(action.get("value", ""))
    except ValueError:
        return
    await rt.directory.resolve(rt.runbook.people)
    slack_id, now = rt.directory.known_id, rt.clock()
    kind = action["action_id"]
    if kind == "swap_accept":
        outcome = await rt.db(swap_flow.accept, rt.runbook, target, actor, slack_id, now)
    elif kind == "swap_cancel":
        outcome = await rt.db(swap_flow.cancel_request, target, actor, now)
    else:
        outcome = await rt.db(swap_flow.cancel_override_by, rt.runbook, target, actor, slack_id, now)
    await changed(rt, outcome.ok)
    await _tell(respond, render.say(outcome, rt.directory.mention))


def register(app: AsyncApp) -> None:
    app.view("swap_request")(swap_submitted)
    for action_id in ("swap_accept", "swap_cancel", "override_cancel"):
        app.action(action_id)(clicked)


async def _tell(respond: AsyncRespond, text: str) -> None:
    """An ephemeral answer to the clicker only; the shared message is edited through the outbox."""
    try:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as err:  # an expired response_url must not undo the change
        log.warning("could not answer the click: %s", err)
