"""An incident's timeline in Block Kit, the ephemeral answer to its *Timeline* button.

The same entries as `oncall-bot incident ID` (bot.domain.timeline). Stored text is escaped; people
the store knows by Slack id are mentions, which is harmless here: an ephemeral message notifies
nobody. Entries are packed into sections within Slack's limits, and a long story ends with how
many entries were left out and the command that prints them all.
"""

from __future__ import annotations

from bot.domain.timeline import Timeline, when
from bot.runbook.models import Runbook
from bot.slack.blocks import (
    MESSAGE_BLOCKS,
    SECTION_LIMIT,
    Message,
    context,
    message,
    section,
)
from bot.slack.replies.incident import title
from bot.slack.text import cut, escape, is_user_id

ENTRY_CHARS = 600  # one entry's line at most (a long note or reason is cut)


def user(user_id: str) -> str:
    """A Slack id from the store as a mention (an ephemeral answer pings nobody); anything else escaped."""
    return f"<@{user_id}>" if is_user_id(user_id) else escape(user_id)


def timeline_message(runbook: Runbook, timeline: Timeline) -> Message:
    """Build the timeline with `user` and `escape` (bot.domain.timeline.build) before calling this."""
    incident, tz = timeline.incident, runbook.tz
    head = [f"*Timeline of incident {incident.id}: {title(runbook, incident)}* · {escape(incident.status)}"]
    if timeline.sla.deadline is not None:
        head.append(f"Data ready by {when(timeline.sla.deadline, tz)}: {timeline.sla.text}")
    if timeline.fix.deadline is not None:
        head.append(f"Fix by {when(timeline.fix.deadline, tz)}: {timeline.fix.text}")
    chunks: list[list[str]] = [[]]
    for entry in timeline.entries:
        line = f"*{when(entry.at, tz)}* · {cut(entry.text, ENTRY_CHARS)}"
        if chunks[-1] and sum(len(x) + 1 for x in chunks[-1]) + len(line) > SECTION_LIMIT:
            chunks.append([])
        chunks[-1].append(line)
    room = MESSAGE_BLOCKS - 2  # the head, and the context at the end
    shown = [c for c in chunks if c][:room]
    left_out = len(timeline.entries) - sum(len(c) for c in shown)
    blocks = [section("\n".join(head)), *(section("\n".join(c)) for c in shown)]
    zone = "UTC" if tz.key in ("UTC", "Etc/UTC") else f"{escape(tz.key)} (UTC in brackets)"
    more = f"{left_out} later entries left out. " if left_out else ""
    blocks.append(context(f"{more}Times in {zone}. The whole story for a post-mortem: "
                          f"`oncall-bot incident {incident.id} --markdown`"))
    fallback = f"Timeline of incident {incident.id} ({title(runbook, incident)}): {len(timeline.entries)} entries"
    if timeline.entries:
        fallback += f", {when(timeline.entries[0].at, tz)} to {when(timeline.entries[-1].at, tz)}"
    return message(fallback, blocks)


def answer(runbook: Runbook, story, now) -> Message:
    """The ephemeral answer for a stored incident (bot.store.timeline_reads.Story), as of `now`."""
    from bot.domain.timeline import build

    timeline = build(story.incident, story.events, story.actions, story.posts, story.note, runbook.tz,
                     now=now, user=user, quote=escape)
    return timeline_message(runbook, timeline)
