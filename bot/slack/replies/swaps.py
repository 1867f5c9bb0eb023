"""Messages of cover requests and overrides: the channel post and its thread, announcements, DMs.

Pure builders: mentions come from Slack IDs stored with each request (or resolved by the caller),
notes are untrusted and always escaped, times are Slack date tokens with a UTC fallback.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.domain.rotation import Shift
from bot.domain.spans import span_plain
from bot.slack.blocks import Message, context, message, section
from bot.slack.text import date_token, escape, user_mention
from bot.store.swaps import SwapRequest

Mention = Callable[[str | None], str]


def span_text(start: datetime, end: datetime) -> str:
    return f"{date_token(start)} → {date_token(end)}"


def say(outcome, mention: Mention) -> str:
    """The reply to the person who asked (bot.swaps.Outcome): its facts formatted and escaped, spans
    as date tokens, people as mentions."""
    from bot.domain.spans import Span
    from bot.swap_flow import Person

    def fact(value) -> str:
        if isinstance(value, Span):
            return span_text(value.start, value.end)
        if isinstance(value, list):
            return ", ".join(fact(v) for v in value)
        if isinstance(value, Person):
            return mention(value.name)
        return escape(str(value))

    return outcome.text.format(**{key: fact(value) for key, value in outcome.facts.items()})


def note_line(note: str) -> str:
    return f"\n>{escape(note)}" if note else ""


def lead_text(lead: timedelta) -> str:
    hours = round(lead.total_seconds() / 3600)
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    days = round(hours / 24)
    return f"{days // 7} week{'s' if days // 7 != 1 else ''}" if days % 7 == 0 else f"{days} days"


def request_post(req: SwapRequest, mention: Mention) -> Message:
    """The request in the on-call channel; its state decides the buttons and the status line."""
    who = user_mention(req.requester_id, req.requester)
    whom = mention(req.asked) if req.asked else "a teammate"
    ask = (f"*Cover request* ({escape(req.rotation)})\n{who} asks {whom} to take their on-call "
           f"{span_text(req.start_at, req.end_at)}.{note_line(req.note)}")
    blocks = [section(ask)]
    if req.state == "open":
        blocks.append(ActionsBlock(block_id=f"swap-{req.id}", elements=[
            ButtonElement(text="Accept", action_id="swap_accept", value=str(req.id), style="primary"),
            ButtonElement(text="Cancel request", action_id="swap_cancel", value=str(req.id)),
        ]))
        taker = f"Only {escape(req.asked)} can accept" if req.asked else "The first teammate to accept takes it"
        blocks.append(context(f"{taker} · open until it starts · times in your zone"))
        status = "open"
    elif req.state == "accepted":
        blocks.append(section(f"✅ {user_mention(req.accepted_by_id, req.accepted_by)} has accepted "
                              f"{date_token(req.accepted_at)}."))
        status = f"accepted by {req.accepted_by}"
    elif req.state == "cancelled":
        blocks.append(section(f"🚫 Cancelled by {user_mention(req.cancelled_by_id, req.cancelled_by)} "
                              f"{date_token(req.cancelled_at)}."))
        status = "cancelled"
    else:
        blocks.append(section(f"⌛ Nobody took it before it started; {who} stayed on call."))
        status = "expired"
    fallback = f"Cover request from {req.requester}, {span_plain(req.start_at, req.end_at)}: {status}"
    return message(fallback, blocks)


def accepted_reply(req: SwapRequest, pieces: list[tuple[datetime, datetime]]) -> Message:
    taker = user_mention(req.accepted_by_id, req.accepted_by)
    spans = ", ".join(span_text(a, b) for a, b in pieces)
    text = (f"{user_mention(req.requester_id, req.requester)}, {taker} has taken your request: "
            f"{taker} is on call {spans}.")
    return message(f"{req.accepted_by} has taken {req.requester}'s cover request", [section(text)])


def nothing_left_reply(req: SwapRequest) -> Message:
    text = (f"{user_mention(req.requester_id, req.requester)}, {user_mention(req.accepted_by_id, req.accepted_by)} accepted, "
            f"but you are no longer on call in this span (the schedule changed meanwhile), so nothing moved.")
    return message(f"{req.requester}'s cover request: nothing left to cover", [section(text)])


def followup(req: SwapRequest, lead: timedelta, reason: str) -> Message:
    """Asks the whole channel, mentioning nobody (the policy's `reason` says why)."""
    text = (f"This request is still open and starts in {lead_text(lead)} ({date_token(req.start_at)}). "
            f"Can anyone cover {user_mention(None, req.requester)}?")
    return message(f"Cover request from {req.requester} still open, starts in {lead_text(lead)}",
                   [section(text), context(escape(reason))])


def expired_reply(req: SwapRequest) -> Message:
    text = (f"{user_mention(req.requester_id, req.requester)}, nobody took this request before it started, "
            f"so you stay on call.")
    return message(f"{req.requester}'s cover request expired unanswered", [section(text)])


def override_announcement(mention: Mention, *, person: str, start: datetime, end: datetime, replaced: list[str],
                          by: str | None, by_id: str | None, note: str, override_id: int) -> Message:
    instead = f", instead of {', '.join(mention(n) for n in replaced)}" if replaced else ""
    text = (f"🔁 *On-call override* #{override_id} by {user_mention(by_id, by)}: {mention(person)} is on call "
            f"{span_text(start, end)}{instead}.{note_line(note)}")
    return message(f"Override: {person} on call {span_plain(start, end)}", [
        section(text), context("Where overrides overlap, the most recent wins · `/oncall overrides` lists them")])


def cancel_announcement(mention: Mention, *, person: str, start: datetime, end: datetime, by: str | None,
                        by_id: str | None, override_id: int) -> Message:
    text = (f"↩️ Override #{override_id} cancelled by {user_mention(by_id, by)}: {mention(person)} is no longer on call "
            f"{span_text(start, end)}; the schedule applies again.")
    return message(f"Override #{override_id} cancelled: {person} {span_plain(start, end)}", [section(text)])


def shift_moved(mention: Mention, person: str, why: str, nxt: Shift | None, gained: list[tuple[datetime, datetime]],
                lost: list[tuple[datetime, datetime]]) -> Message:
    """The DM to a person whose on-call time changed: what happened, what they gained or gave away,
    and their next shift now."""
    if nxt:
        covering = f" (covering {escape(nxt.scheduled)})" if nxt.is_override and nxt.scheduled else ""
        when = f"Your next shift: {span_text(nxt.start, nxt.end)}{covering}."
        plain = f"next shift {span_plain(nxt.start, nxt.end)}"
    else:
        when, plain = "You have no shift in the next six months.", "no shift in the next six months"
    change = [f"You are now on call {span_text(a, b)}." for a, b in gained]
    change += [f"You are no longer on call {span_text(a, b)}." for a, b in lost]
    text = "\n".join([f"{mention(person)}, your on-call time changed: {why}", *change, when])
    return message(f"Your on-call time changed: {'; '.join([*change, plain])}", [section(text)])


# /oncall overrides ---------------------------------------------------------------------------------
def listing(items: list[dict], mention: Mention, rotation: str) -> Message:
    """Coming overrides in the order they apply (runbook first, then the store's, oldest first).

    Each item: id (label), person, start, end, note, source ('runbook' | 'slack' | 'request'), by,
    overlaps (labels of earlier items it beats), cancel (action_id or None), value.
    """
    from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

    from bot.slack.blocks import SECTION_LIMIT, header
    from bot.slack.text import cut

    blocks = [header(f"Overrides and cover requests: {rotation}")]
    for item in items[:40]:
        if item["source"] == "request":
            line = (f"*Cover request #{item['id']}* from {mention(item['person'])}: {span_text(item['start'], item['end'])}"
                    f", open until it starts")
        else:
            where = "in runbook.yaml" if item["source"] == "runbook" else f"set by {escape(item['by'] or '?')}"
            # "Override #2" and "Cover request #2" are two things: each label says which.
            line = (f"*Override #{item['id']}* {mention(item['person'])} on call "
                    f"{span_text(item['start'], item['end'])} ({where})")
            if item["overlaps"]:
                beaten = ", ".join(f"override #{o}" for o in item["overlaps"])
                line += f"\n_wins over {beaten} where they overlap_"
        line += note_line(item["note"])
        accessory = None
        if item["cancel"]:
            accessory = ButtonElement(text="Cancel", action_id=item["cancel"], value=str(item["value"]))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=cut(line, SECTION_LIMIT)), accessory=accessory))
    if len(items) > 40:
        blocks.append(context(f"{len(items) - 40} more not shown."))
    if not items:
        blocks.append(section("No overrides or open cover requests from now on."))
    blocks.append(context("Where overrides overlap, the most recent wins (store overrides beat runbook.yaml ones) · "
                          "`/oncall override @user FROM TO [note]` · `/oncall swap`"))
    fallback = "; ".join(f"#{i['id']} {i['person']} {span_plain(i['start'], i['end'])}" for i in items[:10])
    return message(f"Overrides: {fallback or 'none'}", blocks)


# The /oncall swap modal ----------------------------------------------------------------------------
def swap_modal(rotation: str, zone: str, start_day: str | None, end_day: str | None):
    from slack_sdk.models.blocks import (DatePickerElement, InputBlock, PlainTextInputElement,
                                         TimePickerElement)
    from slack_sdk.models.views import View

    def picker(block_id: str, label: str, day: str | None):
        return InputBlock(block_id=block_id, label=label,
                          element=DatePickerElement(action_id="date", initial_date=day))

    def clock(block_id: str, label: str):
        return InputBlock(block_id=block_id, label=label, optional=True,
                          element=TimePickerElement(action_id="time"))

    return View(type="modal", callback_id="swap_request", private_metadata=rotation,
                title="Ask for cover", submit="Post request", close="Cancel", blocks=[
                    section(f"Pick the span you need covered (times in the team zone, {escape(zone)}). "
                            "Without times, whole days: the end date is included."),
                    picker("start_date", "From (date)", start_day),
                    clock("start_time", "From (time, optional)"),
                    picker("end_date", "To (date)", end_day),
                    clock("end_time", "To (time, optional)"),
                    InputBlock(block_id="note", label="Note for your teammates", optional=True,
                               element=PlainTextInputElement(action_id="note", multiline=True, max_length=500)),
                ])
