"""Fixtures for the Slack and HTTP surfaces: the fake Slack, the app in-process, and `serve` as a process."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.fakeslack import FakeSlack
from tests.slackreq import SECRET

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK = ROOT / "runbooks.yaml"


@pytest.fixture
def fake_slack():
    fake = FakeSlack()
    yield fake
    fake.close()


def bot_env(fake: FakeSlack | None, tmp_path: Path, **extra) -> dict[str, str]:
    env = {
        "SLACK_SIGNING_SECRET": SECRET,
        "RUNBOOKS_PATH": str(RUNBOOK),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'oncall.db'}",
        "ALERTS_TOKEN": "alerts-secret",
    }
    if fake is not None:
        env |= {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake.url}
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


@pytest.fixture
def make_app(tmp_path):
    """An in-process app: `make_app(fake, runbook=path)` returns a Starlette TestClient."""
    from starlette.testclient import TestClient

    from bot.config import from_env
    from bot.runbook import load
    from bot.runtime import Runtime
    from bot.web import create_app

    clients = []

    def build(fake: FakeSlack | None, runbook: Path = RUNBOOK, **extra) -> TestClient:
        env = bot_env(fake, tmp_path, RUNBOOKS_PATH=str(runbook), **extra)
        loaded = load(runbook)
        rt = Runtime.build(from_env(env), loaded.runbook, loaded.path)
        client = TestClient(create_app(rt))
        client.runtime = rt
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Debian's libfaketime, preloaded into `serve` itself (the `faketime` command forks, and its child
# would outlive a terminate): the process's clock starts at a chosen instant and runs on.
LIBFAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))), None)


class Served:
    def __init__(self, env: dict[str, str], cwd: Path, at: datetime | None = None, wait: bool = True):
        """`at`: the process's clock starts there (UTC) and runs on, through libfaketime. `wait=False`
        returns at once (call `wait_ready`), so that several processes start side by side."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        full_env |= env | {"PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        self.stdout_path = cwd / f"serve-{self.port}.out"
        self.stderr_path = cwd / f"serve-{self.port}.err"
        command = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"]
        if at is not None:
            if not LIBFAKETIME:
                pytest.skip("libfaketime is not installed (Debian package faketime; .ci/run installs it)")
            full_env |= {"LD_PRELOAD": LIBFAKETIME, "FAKETIME": f"@{at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
                         "TZ": "UTC"}
        self.at, self.started = at, time.monotonic()
        self.proc = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=self.stdout_path.open("w"),
                                     stderr=self.stderr_path.open("w"))
        if wait:
            self.wait_ready()

    def now(self) -> datetime:
        """The process's clock (to sign Slack requests with a timestamp it accepts)."""
        if self.at is None:
            return datetime.now(UTC)
        return self.at + timedelta(seconds=time.monotonic() - self.started)

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.stderr()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError(f"serve not ready: {self.stderr()}")

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self, kill: bool = False) -> int:
        if self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture
def serve(tmp_path):
    """`serve(fake, **env)` starts `oncall-bot serve` as a subprocess and returns it once /healthz answers."""
    started: list[Served] = []

    def start(fake: FakeSlack | None, at: datetime | None = None, wait: bool = True, **extra) -> Served:
        served = Served(bot_env(fake, tmp_path, **extra), tmp_path, at, wait)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """DATABASE_URL for a fresh database: a SQLite file, or a new schema on the machine's PostgreSQL."""
    yield from fresh_database(request.param, tmp_path)


def fresh_database(kind: str, tmp_path: Path):
    """The generator behind `database_url`, for modules that choose their own backends."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    import uuid

    from sqlalchemy import text

    from bot.store.engine import make_engine
    from tests.store_fixtures import PG_URL, pg_unreachable

    if reason := pg_unreachable():
        pytest.skip(reason)
    schema = f"e_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


class ShiftedClock:
    """Real time moved to a chosen instant: it still advances, so retries and leases come due."""

    def __init__(self, at):
        import time as _time

        self._time = _time
        self.set(at)

    def set(self, at) -> None:
        self.base, self.started = at, self._time.monotonic()

    def __call__(self):
        from datetime import timedelta

        return self.base + timedelta(seconds=self._time.monotonic() - self.started)


@pytest.fixture
def real_people_runbook(tmp_path):
    """The repo's runbook with real emails instead of placeholders, as an installed team would have."""
    text = RUNBOOK.read_text().replace("@example.com, placeholder: true", "@team.test")
    path = tmp_path / "runbooks.yaml"
    path.write_text(text)
    return path
