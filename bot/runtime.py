"""Everything a running bot shares: settings, the runbook, the Slack client and the clock.

Handlers read the clock here, at the edge; the domain below always gets `now` as an argument.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Awaitable, Callable, TypeVar

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.metrics import Metrics
from bot.runbook.models import Runbook
from bot.slack.client import SlackHealth, make_client
from bot.slack.people import Directory
from bot.store import Store

log = logging.getLogger("oncall_bot")

OVERRIDES_TTL = 5.0                      # seconds another replica's change may take to show here
OVERRIDES_HISTORY = timedelta(weeks=5)   # ended overrides still shown (the calendar reaches 4 weeks back)
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    runbook: Runbook
    runbook_path: str
    client: AsyncWebClient
    directory: Directory
    metrics: Metrics
    health: SlackHealth
    store: Store
    clock: Callable[[], datetime] = field(default=utc_now)
    delivery: Any = None  # the outbox worker, once started (bot.slack.delivery.Delivery)
    _tasks: set = field(default_factory=set)
    _identity: asyncio.Task | None = None
    _overrides: list = field(default_factory=list)
    _overrides_at: float = float("-inf")
    _executor: ThreadPoolExecutor | None = None

    @classmethod
    def build(cls, settings: Settings, runbook: Runbook, runbook_path: str) -> "Runtime":
        """Opens (and migrates) the store: raises if the database cannot be reached."""
        metrics, health = Metrics(), SlackHealth()
        client = make_client(settings, metrics, health)
        store = Store(settings.database_url)
        return cls(settings, runbook, runbook_path, client, Directory(runbook, client), metrics, health, store)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store function off the event loop: `await rt.db(fn, a, b)` calls fn(store, a, b).

        SQLite admits one writer at a time, and threads queued on its lock sleep in its busy handler,
        so on SQLite all store work goes through one thread; PostgreSQL gets a small pool.
        """
        if self._executor is None:
            workers = 1 if self.store.dialect == "sqlite" else 8
            self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, self.store, *args))

    def stop_db(self) -> None:
        """Wait for store work in flight, so shutdown never leaves a transaction half done."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def database_status(self) -> dict:
        # The kind of database only: its host, name and user are nobody's business on a public route.
        shown = self.store.dialect
        try:
            await asyncio.wait_for(asyncio.to_thread(self.store.version), timeout=3)  # not queued behind writes
        except Exception as err:
            log.warning("database unreachable: %s: %s", type(err).__name__, str(err)[:500])
            return {"reachable": False, "backend": shown, "error": type(err).__name__}
        return {"reachable": True, "backend": shown}

    def spawn(self, work: Awaitable) -> asyncio.Task:
        """Run Slack calls after answering Slack; failures are logged, the task is kept alive."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception():
            log.error("background task failed: %r", task.exception())

    @functools.cached_property
    def jobs_lock(self) -> asyncio.Lock:
        """Serialises the scheduled-messages passes of this process."""
        return asyncio.Lock()

    def identity(self) -> asyncio.Task:
        """auth.test (our workspace and the bot's own ids), asked once and again only after a failure:
        the one caller, for Bolt's authorisation and for the workspace checks of button presses."""
        if self._identity is None or (self._identity.done() and self._identity.exception() is not None):
            self._identity = asyncio.ensure_future(self.client.auth_test())
        return self._identity

    async def own_team(self) -> str | None:
        """The workspace our token belongs to; None while Slack cannot say."""
        try:
            return (await asyncio.shield(self.identity())).get("team_id") or ""
        except Exception as err:
            log.warning("auth.test failed, cannot check the workspace: %s", err)
            return None

    def wake_delivery(self) -> None:
        if self.delivery is not None:
            self.delivery.wake()

    def overrides(self) -> list:
        """Overrides beyond the runbook's own (swaps and overrides made in Slack live in the store).

        Cached: /oncall answers in about a millisecond, so it must not query per request. This process
        refreshes after each change it makes; other replicas' changes show within OVERRIDES_TTL.
        """
        if time.monotonic() - self._overrides_at > OVERRIDES_TTL:
            self.refresh_overrides()
        return self._overrides

    def refresh_overrides(self) -> list:
        from bot.store.overrides import active_overrides

        try:
            self._overrides = active_overrides(self.store, self.clock() - OVERRIDES_HISTORY)
        except Exception as err:  # the database is away: keep the last list, try again after the TTL
            log.warning("cannot read overrides, keeping %d cached: %s", len(self._overrides), err)
        self._overrides_at = time.monotonic()
        return self._overrides
