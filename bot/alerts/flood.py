"""A flood of distinct incidents of one pipeline: one summary message a minute instead of a post each.

The first FOLD_AFTER incidents of a pipeline within FOLD_WINDOW get their own parent message (and
tell whom the policy says); later ones that page nobody are folded: recorded like any incident, but
said in one message per pipeline and minute, posted when the minute ends ("312 more incidents of
Profit…"). An incident that pages is never folded: the person it wakes needs its thread.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from bot.domain import policy
from bot.domain.notices import audience_json, notice
from bot.domain.timeutil import iso
from bot.runbook.models import Runbook
from bot.store import outbox as box
from bot.store.schema import incidents

FOLD_AFTER = 10
FOLD_WINDOW = timedelta(minutes=1)
KIND = "flood"


def own_posts(conn: Connection, pipeline: str, now: datetime) -> int:
    """Incidents of the pipeline opened within the window with a message of their own, counted up to
    FOLD_AFTER (an index seek on ix_incidents_own_posts: a flood's folded rows are never read)."""
    recent = select(incidents.c.id).where(
        incidents.c.pipeline == pipeline, incidents.c.folded_into.is_(None),
        incidents.c.opened_at > now - FOLD_WINDOW).limit(FOLD_AFTER).subquery()
    return conn.execute(select(func.count()).select_from(recent)).scalar_one()


def window(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(second=0, microsecond=0)
    return start, start + FOLD_WINDOW


def key_of(pipeline: str, now: datetime) -> str:
    return f"{pipeline}:{iso(window(now)[0])}"


def summarize(conn: Connection, runbook: Runbook, pipeline: str, channel: str, now: datetime) -> str:
    """The summary of this minute's folded incidents, queued once for the minute's end; its key."""
    start, end = window(now)
    key = key_of(pipeline, now)
    audience = policy.decide(runbook, pipeline if pipeline in runbook.pipelines else None, policy.SUMMARY, end, ())
    box.enqueue(conn, kind=KIND, idempotency_key=f"{KIND}:{key}", now=now, method="chat.postMessage",
                channel=channel, not_before=end,
                args={"notice": notice(KIND, key=key, pipeline=pipeline, since=iso(start), until=iso(end),
                                       audience=audience_json(audience))})
    return key
