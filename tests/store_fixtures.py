"""Store fixtures: every store test runs on a SQLite file and on the machine's PostgreSQL.

Import them into a test module (`from tests.store_fixtures import backend, make_store, store, runbook`).
PostgreSQL gets a fresh schema per test (search_path set through libpq `options`), dropped after;
the tests skip, saying why, only when the server cannot be reached. TEST_DATABASE_URL overrides it.
"""

from __future__ import annotations

import os
import uuid
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@lru_cache(maxsize=1)
def pg_unreachable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    from sqlalchemy import text

    from bot.store.engine import make_engine

    engine = make_engine(PG_URL, {"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as err:  # any failure to connect means: skip, and say why
        return f"PostgreSQL at {PG_URL} unreachable: {type(err).__name__}: {str(err).splitlines()[0]}"
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def runbook():
    from bot.runbook import load

    return load(ROOT / "runbooks.yaml").runbook


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def make_store(backend, tmp_path):
    """`make_store(migrate=True)`: a Store on this test's database; call it twice for two "replicas"."""
    from sqlalchemy import text

    from bot.store import Store
    from bot.store.engine import make_engine

    stores: list[Store] = []
    if backend == "sqlite":
        url, connect_args, cleanup = f"sqlite:///{tmp_path / 'oncall.db'}", {}, None
    else:
        reason = pg_unreachable()
        if reason:
            pytest.skip(reason)
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url, connect_args = PG_URL, {"options": f"-csearch_path={schema}"}

        def cleanup() -> None:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()

    def build(migrate: bool = True, **kwargs) -> Store:
        made = Store(url, connect_args=connect_args, migrate=migrate, **kwargs)
        stores.append(made)
        return made

    yield build
    for made in stores:
        made.close()
    if cleanup:
        cleanup()


@pytest.fixture
def store(make_store):
    return make_store()
