"""One Slack call per channel per interval, across every replica that shares the store.

Each call first takes the channel's next free slot: the row is locked (PostgreSQL FOR UPDATE; SQLite
admits one writer), so two workers never get the same slot. A slot more than a minute ahead means
the clock went back (or a test moved it): it is ignored rather than waited for.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.store.db import Db, tx
from bot.store.schema import channel_pace
from bot.store.sql import for_update, insert_ignore

CLOCK_SLIP = timedelta(minutes=1)  # further ahead than any queue of callers: the clock went back


def take_slot(db: Db, channel: str, now: datetime, interval: timedelta) -> datetime:
    """The instant this caller may call `channel` (now, or the end of the last caller's interval)."""
    with tx(db) as conn:
        query = for_update(conn, select(channel_pace.c.next_at).where(channel_pace.c.channel == channel))
        free = conn.execute(query).scalar_one_or_none()
        if free is None and insert_ignore(conn, channel_pace, dict(channel=channel, next_at=now + interval),
                                          conflict=["channel"], returning="channel") is not None:
            return now
        if free is None:  # another replica inserted it meanwhile
            free = conn.execute(query).scalar_one()
        start = free if now < free <= now + CLOCK_SLIP else now
        conn.execute(update(channel_pace).where(channel_pace.c.channel == channel).values(next_at=start + interval))
        return start
