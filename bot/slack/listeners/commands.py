"""/oncall and /runbook: parse the text, ask the domain, answer in the ack (no Slack call needed)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from datetime import timedelta

from bot.domain.lookup import find_pipeline
from bot.domain.report import build
from bot.runtime import Runtime
from bot.store.lineage import dataset_edges
from bot.slack.listeners import swaps
from bot.slack.replies import oncall, report as report_replies, runbook as runbook_replies
from bot.store.report_reads import facts
from bot.slack.text import unescape

MAX_WEEKS = 26


def _split(text: str | None) -> tuple[list[str], str]:
    words = (text or "").split()
    public = bool(words) and words[-1].lower() == "public"
    return (words[:-1] if public else words), ("in_channel" if public else "ephemeral")


async def oncall_command(ack: AsyncAck, command: dict, context: AsyncBoltContext) -> None:
    rt: Runtime = context["rt"]
    words, visibility = _split(command.get("text"))
    sub = words[0].lower() if words else ""
    if sub in ("swap", "override", "overrides"):
        # The note may end in "public": these replies are always private, so keep every word.
        reply = await swaps.command(rt, sub, (command.get("text") or "").split()[1:], command)
        await ack(**({"response_type": "ephemeral", **reply.payload()} if reply else {}))
        return
    now = rt.clock()
    if sub in ("", "now", "who"):
        reply = await oncall.now_message(rt.runbook, rt.directory, now, rt.overrides())
    elif sub == "schedule":
        weeks = words[1] if len(words) > 1 else "4"
        if not (weeks.isascii() and weeks.isdigit()) or not 1 <= int(weeks) <= MAX_WEEKS:
            reply = oncall.help_message(rt.runbook, f"`/oncall schedule` takes a number of weeks from 1 to {MAX_WEEKS}.")
            visibility = "ephemeral"
        else:
            reply = await oncall.schedule_message(rt.runbook, rt.directory, now, int(weeks), rt.overrides())
    elif sub == "report":
        weeks = words[1] if len(words) > 1 else "4"
        if not (weeks.isascii() and weeks.isdigit()) or not 1 <= int(weeks) <= MAX_WEEKS:
            reply = oncall.help_message(rt.runbook, f"`/oncall report` takes a number of weeks from 1 to {MAX_WEEKS}.")
            visibility = "ephemeral"
        else:
            reply = await report_reply(rt, now, int(weeks))
    elif sub == "help":
        reply, visibility = oncall.help_message(rt.runbook), "ephemeral"
    else:
        reply = oncall.help_message(rt.runbook, f"I don't know `/oncall {sub[:40]}`.")
        visibility = "ephemeral"
    await ack(response_type=visibility, **reply.payload())


async def runbook_command(ack: AsyncAck, command: dict, context: AsyncBoltContext) -> None:
    rt: Runtime = context["rt"]
    words, visibility = _split(command.get("text"))
    name = unescape(" ".join(words))
    key = find_pipeline(rt.runbook, name)
    if key is None:
        reply, visibility = runbook_replies.known_pipelines(rt.runbook, name or None), "ephemeral"
    else:
        seen = [(a, b) for a, b, *_ in await rt.db(dataset_edges, rt.clock())]
        reply = await runbook_replies.card(rt.runbook, key, rt.directory, seen)
    await ack(response_type=visibility, **reply.payload())


async def report_reply(rt: Runtime, now, weeks: int):
    """The figures of `oncall-bot report`, with the names Slack knows for the people who acknowledged."""
    start = now - timedelta(weeks=weeks)
    found = await rt.db(facts, rt.runbook, start, now)
    for user in {*found.acknowledged_by, *found.resolved_by}:
        if user not in found.names and (name := await rt.directory.person_of(user)):
            found.names[user] = name
    return report_replies.report_message(rt.runbook, build(rt.runbook, found, start, now), weeks)


def register(app: AsyncApp) -> None:
    app.command("/oncall")(oncall_command)
    app.command("/runbook")(runbook_command)
