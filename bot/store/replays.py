"""Signed Slack requests already handled: a copy sent again, to any replica, is a replay.

Slack signs every delivery anew (its own retries carry a new timestamp), so only a copy repeats a
signature. A signature is kept until its timestamp's window closes, which for a timestamp stamped
up to five minutes ahead is ten minutes after it was first seen.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from bot.store.db import Db, tx
from bot.store.schema import slack_requests
from bot.store.sql import insert_ignore


def first_sight(db: Db, signature: str, expires_at: datetime, now: datetime) -> bool:
    """True the first time a signature is seen (and records it); False for a replay."""
    with tx(db) as conn:
        conn.execute(delete(slack_requests).where(slack_requests.c.expires_at < now))
        return insert_ignore(conn, slack_requests, {"signature": signature[:100], "expires_at": expires_at},
                             conflict=["signature"], returning="signature") is not None
