"""What the commands share: the runbook and instants from arguments, the store's overrides."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from bot.runbook import load
from bot.runbook.loader import Loaded


class UsageError(Exception):
    pass


def load_args(args) -> Loaded:
    return load(getattr(args, "path", None) or args.runbook)


def instant(text: str | None, loaded: Loaded) -> datetime:
    from bot.domain.timeutil import parse_instant

    if not text:
        return datetime.now(UTC)
    try:
        return parse_instant(text, loaded.runbook.tz)
    except ValueError:
        raise UsageError(f"not an ISO-8601 instant: {text!r} (e.g. 2026-12-01T02:00Z)") from None


def open_store(url: str):
    """The bot's store, unmigrated and read here only; None (with a warning) if it is not there."""

    from sqlalchemy.engine import make_url

    from bot.store.db import Store

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not os.path.exists(parsed.database or ""):
        print(f"warning: no database at {url}; showing the runbook's overrides only", file=sys.stderr)
        return None
    return Store(url, migrate=False)


def store_overrides() -> list:
    """Swaps and overrides made in Slack, when DATABASE_URL is set (SQLAlchemy is imported only then)."""

    from bot.config import configured_database_url

    url = configured_database_url()  # the CLI reads the store only when one is configured
    if not url:
        return []
    try:
        store = open_store(url)
        if store is None:
            return []
        from bot.store.overrides import active_overrides

        try:
            return active_overrides(store)
        finally:
            store.close()
    except Exception as err:  # unreachable or never migrated: answer from the runbook, say so
        print(f"warning: cannot read overrides at DATABASE_URL ({type(err).__name__}); "
              f"showing the runbook's only", file=sys.stderr)
        return []


def audience_json(d) -> dict:
    """The policy's answer in the words every surface uses: page | notify | quiet | deferred | none."""
    from bot.domain.timeutil import iso

    return {"mode": d.how, "notify": list(d.people), "paged": list(d.paged), "deferred_until": iso(d.until),
            "reason": d.reason}

