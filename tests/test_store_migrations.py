"""Schema migrations: from empty, step by step, from an older schema with data, and by two replicas at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, insert, select, text

from bot.store import migrations
from bot.store.engine import normalize_url
from bot.store.schema import incidents, metadata, outbox
from tests.store_fixtures import backend, make_store, runbook, store  # noqa: F401

T0 = datetime(2026, 11, 4, 2, 30, tzinfo=UTC)


def tables(store) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def columns(store, table: str) -> dict[str, bool]:
    return {col["name"]: col["nullable"] for col in inspect(store.engine).get_columns(table)}


def test_from_empty_reaches_latest_and_matches_schema_py(store):
    assert store.version() == migrations.LATEST
    assert tables(store) == set(metadata.tables)
    for name, table in metadata.tables.items():
        built = columns(store, name)
        assert set(built) == {c.name for c in table.columns}, name
        for col in table.columns:
            if not col.primary_key:
                assert built[col.name] == col.nullable, f"{name}.{col.name}"
    index_names = {ix["name"] for ix in inspect(store.engine).get_indexes("outbox")}
    assert "ix_outbox_due" in index_names


def test_migrate_again_is_a_no_op(store):
    assert store.migrate() == []
    with store.engine.connect() as conn:
        versions = conn.execute(text("SELECT version FROM schema_version ORDER BY version")).scalars().all()
    assert versions == [m.version for m in migrations.MIGRATIONS]


@pytest.mark.parametrize("step", [m.version for m in migrations.MIGRATIONS])
def test_each_step_applies_alone(make_store, step):
    s = make_store(migrate=False)
    assert s.version() == 0
    if step > 1:
        s.migrate(target=step - 1)
    assert s.migrate(target=step) == [step]
    assert s.version() == step
    expected = {1: {"incidents", "alert_events", "actions", "outbox"}, 2: {"notifications", "overrides"}}
    for version in range(1, step + 1):
        assert expected.get(version, set()) <= tables(s)
    if step >= 3:
        assert {"escalation_level", "escalated_at", "deferred_pinged_at"} <= set(columns(s, "incidents"))


def test_upgrade_from_v1_keeps_data(make_store):
    old = make_store(migrate=False)
    old.migrate(target=1)
    with old.transaction() as conn:  # a row written by a v1 build, through v1's columns only
        conn.execute(text(
            "INSERT INTO incidents (pipeline, pipeline_raw, known, dedup_key, open_key, status, opened_at, "
            "last_alert_at, alert_count, notify_mode, notify) VALUES ('growth', 'Growth', :t, 'k1', 'k1', 'open', "
            ":at, :at, 3, 'page', :notify)"), {"t": True, "at": T0 if old.dialect == "postgresql" else
                                               T0.replace(tzinfo=None), "notify": '["Laura"]'})
    old.close()

    new = make_store()  # start-up of the new build migrates
    assert new.version() == migrations.LATEST
    with new.engine.connect() as conn:
        row = conn.execute(select(incidents)).mappings().one()
    assert (row["pipeline"], row["alert_count"], row["escalation_level"], row["notify"]) == ("growth", 3, 0, ["Laura"])
    assert row["opened_at"] == T0 and row["escalated_at"] is None
    assert "notifications" in tables(new)


def test_two_replicas_migrate_at_once(make_store):
    stores = [make_store(migrate=False) for _ in range(3)]
    errors, barrier = [], threading.Barrier(len(stores))

    def start(s):
        barrier.wait()
        try:
            s.migrate()
        except Exception as err:  # recorded, so the assertion shows it
            errors.append(err)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert errors == []
    assert stores[0].version() == migrations.LATEST


def test_instants_come_back_aware_utc(store):
    berlin = timezone(timedelta(hours=1))
    with store.transaction() as conn:
        conn.execute(insert(outbox).values(kind="x", idempotency_key="k", args={}, state="pending",
                                           next_attempt_at=T0.astimezone(berlin), created_at=T0))
    with store.engine.connect() as conn:
        value = conn.execute(select(outbox.c.next_attempt_at)).scalar_one()
        assert value == T0 and value.tzinfo is not None and value.utcoffset() == timedelta(0)
        # comparisons in SQL agree with Python's
        assert conn.execute(select(outbox.c.id).where(outbox.c.next_attempt_at <= T0)).scalar_one() == 1
        assert conn.execute(select(outbox.c.id).where(outbox.c.next_attempt_at < T0)).scalar_one_or_none() is None


def test_naive_datetimes_are_refused(store):
    with pytest.raises(Exception, match="naive"):
        with store.transaction() as conn:
            conn.execute(insert(outbox).values(kind="x", idempotency_key="k", args={}, state="pending",
                                               next_attempt_at=datetime(2026, 1, 1), created_at=T0))


def test_sqlite_runs_in_wal_with_busy_timeout(store):
    if store.dialect != "sqlite":
        pytest.skip("SQLite pragmas")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_database_urls():
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///oncall.db") == "sqlite:///oncall.db"
    from bot.config import database_url

    assert database_url({}) == "sqlite:///oncall.db"
    assert database_url({"DATABASE_URL": "postgresql://x/y"}) == "postgresql://x/y"
