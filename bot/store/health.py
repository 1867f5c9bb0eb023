"""Is the database reachable? Asked by /healthz, answered without blocking the event loop."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def driver_url(url: str) -> str:
    """postgresql:// and postgres:// (as Heroku writes it) use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@lru_cache(maxsize=8)
def _engine(url: str):
    return create_engine(driver_url(url), pool_pre_ping=True, pool_size=1, max_overflow=1) \
        if not url.startswith("sqlite") else create_engine(url)


def _ping(url: str) -> None:
    with _engine(url).connect() as conn:
        conn.execute(text("SELECT 1"))


async def check(url: str) -> dict:
    shown = make_url(driver_url(url)).render_as_string(hide_password=True)
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping, url), timeout=3)
    except Exception as err:
        return {"reachable": False, "url": shown, "error": f"{type(err).__name__}: {str(err)[:200]}"}
    return {"reachable": True, "url": shown}
