"""What the commands share: the runbook and instants from arguments, the store's overrides."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from bot.runbook import load
from bot.runbook.loader import Loaded


class UsageError(Exception):
    pass


class StoreError(Exception):
    """The store at DATABASE_URL could not be read: said in one line (exit 1), not as a traceback."""


NO_DATABASE = object()  # what `read_store` answers while the configured SQLite file does not exist yet


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


def open_store(url: str, showing: str = "the runbook's overrides only"):
    """The bot's store, unmigrated and read here only; None (with a warning) if it is not there."""

    from sqlalchemy.engine import make_url

    from bot.store.db import Store

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not os.path.exists(parsed.database or ""):
        print(f"warning: no database at {url}; showing {showing}", file=sys.stderr)
        return None
    return Store(url, migrate=False)


def read_store(command: str, read, showing: str):
    """`read(store)` for a command that is about the store (report, incident, suggest): without
    DATABASE_URL it is a usage error, a database not created yet gives NO_DATABASE (warned on stderr),
    and one that cannot be read raises StoreError."""
    from bot.config import configured_database_url

    url = configured_database_url()
    if not url:
        raise UsageError(f"{command} reads the bot's store: set DATABASE_URL (e.g. DATABASE_URL=sqlite:///oncall.db)")
    store = open_store(url, showing)
    if store is None:
        return NO_DATABASE
    try:
        return read(store)
    except Exception as err:  # unreachable or never migrated: say so, no traceback
        first = str(err).splitlines()[0] if str(err) else ""
        raise StoreError(f"cannot read the incidents at DATABASE_URL ({type(err).__name__}: {first})") from None
    finally:
        store.close()


def store_overrides() -> list:
    """Swaps and overrides made in Slack, when DATABASE_URL is set (SQLAlchemy is imported only then)."""

    def read(store):
        from bot.store.overrides import active_overrides

        return active_overrides(store)

    return _from_store(read, "overrides", "the runbook's overrides only")


def store_dataset_edges() -> list[tuple[str, str, str, str]]:
    """(writer, reader, dataset namespace, name) from the OpenLineage datasets the store has seen, when
    DATABASE_URL is set; none (the runbook's depends_on only) when it is not, or there is no database yet."""

    def read(store):
        from bot.store.lineage import dataset_edges

        return dataset_edges(store, datetime.now(UTC))

    return _from_store(read, "OpenLineage datasets", "the runbook's depends_on only")


def _from_store(read, what: str, showing: str) -> list:
    """`read(store)` when DATABASE_URL is set (SQLAlchemy is imported only then), else nothing; a store
    that is not there or cannot be read is said on stderr, and the answer comes from the runbook."""
    from bot.config import configured_database_url

    url = configured_database_url()  # the CLI reads the store only when one is configured
    if not url:
        return []
    try:
        store = open_store(url, showing)
        if store is None:
            return []
        try:
            return read(store)
        finally:
            store.close()
    except Exception as err:  # noqa: BLE001 -- unreachable or never migrated: answer from the runbook, say so
        print(f"warning: cannot read {what} at DATABASE_URL ({type(err).__name__}); showing {showing}",
              file=sys.stderr)
        return []


def audience_json(d) -> dict:
    """The policy's answer in the words every surface uses: page | notify | quiet | deferred | none."""
    from bot.domain.timeutil import iso

    return {"mode": d.how, "notify": list(d.people), "paged": list(d.paged), "deferred_until": iso(d.until),
            "reason": d.reason}

