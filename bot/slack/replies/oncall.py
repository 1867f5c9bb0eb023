"""Replies to /oncall: who is on call now, the schedule, and help."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.answers import oncall_now, pipeline_decisions
from bot.domain.memo import per_runbook
from bot.domain.rotation import Roster
from bot.runbook.models import Runbook
from bot.slack.blocks import Message, bullet_list, context, divider, header, message, section
from bot.slack.people import Directory
from bot.slack.text import date_token, escape

MODE_WORDS = {  # the policy's words, said so a reader sees what each one does
    "page": "page (direct message and mention)",
    "notify": "notify (mention)",
    "deferred": "deferred (posted quietly; told",
    "quiet": "quiet (posted, nobody mentioned)",
    "none": "none (nobody to tell)",
}

def help_message(runbook: Runbook, note: str | None = None) -> Message:
    key, spec = next(iter(runbook.pipelines.items()))
    names = f"`{key}`, `{escape(spec.name)}`" + (f", `{escape(spec.aliases[0])}`" if spec.aliases else "")
    text = (
        "*`/oncall`*: who is on call now, until when, who is next, and who each pipeline's failure would notify.\n"
        "*`/oncall schedule [weeks]`*: the coming shifts (default 4 weeks, at most 26), overrides applied.\n"
        "*`/oncall swap`*: ask a teammate to cover you (a form), or `/oncall swap FROM [TO] [note]`: `tomorrow`, "
        "`2026-12-07 2026-12-09` (whole days, end included), `2026-12-08T09:00 2026-12-08T18:00` (team zone). "
        "The first teammate to press Accept takes it.\n"
        "*`/oncall override @user FROM TO [note]`*: put someone on call for a span (admins; or the person on call, "
        "over their own shift).\n"
        "*`/oncall overrides`*: the coming overrides and open requests, with Cancel buttons where you may cancel; "
        "where they overlap, the most recent wins.\n"
        "*`/oncall report [weeks]`*: how the pipelines and the rotation did (default 4 weeks): SLA met, "
        "incidents, time to acknowledge and resolve, pages and nights woken.\n"
        "*`/oncall help`*: this help.\n"
        f"*`/runbook <pipeline>`*: a pipeline's runbook card; names are forgiving ({names}).\n"
        f"Replies are visible only to you; add `public` (`/oncall public`, `/runbook {key} public`) "
        "to post in the channel."
    )
    blocks = [section(note)] if note else []
    blocks.append(section(text))
    return message(f"{note + ' ' if note else ''}oncall-bot help: /oncall, /oncall schedule, /runbook <pipeline>", blocks)


@per_runbook  # keyed by the runbook object itself: a reloaded runbook never reads an old answer
def _recent(runbook: Runbook) -> dict[tuple, Message]:
    return {}


async def now_message(runbook: Runbook, people: Directory, at: datetime, overrides) -> Message:
    """Who is on call now. Every boundary (handoffs, work hours, overrides) falls on a whole minute,
    so one rendering serves every asker within a minute."""
    minute = at.replace(second=0, microsecond=0)
    overrides = tuple(overrides)
    recent = _recent(runbook)
    if (cached := recent.get((minute, overrides, people.version))) is not None:
        return cached
    reply = await _now_message(runbook, people, at, overrides)
    if len(recent) > 64:
        recent.clear()
    # Keyed after rendering: rendering may resolve people, and the reply shows them as resolved.
    recent[(minute, overrides, people.version)] = reply
    return reply


async def _now_message(runbook: Runbook, people: Directory, at: datetime, overrides) -> Message:
    current = oncall_now(runbook, at, overrides=overrides)
    decisions = pipeline_decisions(runbook, at, overrides)
    names = [current.shift.person if current.shift else None, current.next.person if current.next else None]
    await people.resolve([n for n in names if n])
    blocks = [header(f"On call: {runbook.team.name}")]
    if current.shift:
        s = current.shift
        covering = f" (covering {people.plain(s.scheduled)})" if s.is_override else ""
        text = (f"{people.mention(s.person)} is on call{covering}\n"
                f"since {date_token(s.start)}, until {date_token(s.end)}")
        fallback = f"{s.person} is on call until {s.end:%Y-%m-%d %H:%M} UTC"
    else:
        text = "*Nobody* is on call right now."
        fallback = "Nobody is on call right now."
    if current.next:
        text += f"\nNext: {people.mention(current.next.person)} from {date_token(current.next.start)}"
        fallback += f"; next {current.next.person}"
    blocks.append(section(text))
    blocks.append(divider())
    lines = []
    for key, d in decisions.items():
        # Names, not mentions: a look-up (maybe posted with `public`) must not ping the people it lists.
        who = ", ".join(people.plain(n) for n in d.people)
        when = f" {date_token(d.until)})" if d.until else ""
        lines.append(f"*{escape(runbook.pipelines[key].name)}*: {MODE_WORDS[d.how]}{when}"
                     + (f": {who}" if who else ""))
    blocks.append(section("*If a pipeline failed now*\n" + bullet_list(lines)))
    blocks.append(context(f"Rotation `{current.rotation}` · times in your zone · `/oncall help`"))
    return message(fallback, blocks)


async def schedule_message(runbook: Runbook, people: Directory, at: datetime, weeks: int, overrides) -> Message:
    rotation = runbook.default_rotation
    if not rotation:
        return message("No rotation in the runbook.", [section("The runbook defines no rotation.")])
    shifts = Roster(runbook, rotation, overrides).shifts(at, at + timedelta(weeks=weeks))
    await people.resolve({s.person for s in shifts})
    lines = []
    for s in shifts:
        covering = f" _(covering {people.plain(s.scheduled)})_" if s.is_override else ""
        lines.append(f"{date_token(s.start)} → {date_token(s.end)}: {people.mention(s.person)}{covering}")
    blocks = [header(f"On-call schedule, next {weeks} week(s)")]
    # Sections filled up to a character budget: each stays under Slack's 3,000 characters.
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join(chunk + [line])) > 2900:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    if not lines:
        blocks.append(section("Nobody is scheduled in this period."))
    blocks.append(context(f"Rotation `{rotation}` · overrides applied · times in your zone"))
    fallback = "; ".join(f"{s.person} from {s.start:%Y-%m-%d %H:%M} UTC" for s in shifts[:8]) or "No shifts"
    return message(f"On-call schedule: {fallback}", blocks)
