"""Everything a running bot shares: settings, the runbook, the Slack client and the clock.

Handlers read the clock here, at the edge; the domain below always gets `now` as an argument.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Awaitable, Callable, TypeVar

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.metrics import Metrics
from bot.runbook.models import Runbook
from bot.slack.client import SlackHealth, make_client
from bot.slack.people import Directory
from bot.slack.workspace import Identity
from bot.store import Store
from bot.store.overrides import CachedOverrides
from bot.store.runner import StoreRunner

log = logging.getLogger("oncall_bot")

OVERRIDES_TTL = 5.0                      # seconds another replica's change may take to show here
OVERRIDES_HISTORY = timedelta(weeks=5)   # ended overrides still shown (the calendar reaches 4 weeks back)
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """Built whole by `build`; the parts with their own job are their own objects (the store's runner,
    the overrides cache, the workspace identity, the outbox's bell)."""

    settings: Settings
    runbook: Runbook
    runbook_path: str
    client: AsyncWebClient
    directory: Directory
    metrics: Metrics
    health: SlackHealth
    store: Store
    runner: StoreRunner
    identity: Identity
    bell: asyncio.Event = field(default_factory=asyncio.Event)  # rung after a commit: the outbox worker wakes
    clock: Callable[[], datetime] = field(default=utc_now)
    _tasks: set = field(default_factory=set)
    overrides: CachedOverrides = field(init=False)

    def __post_init__(self) -> None:
        # Reads the runtime's clock when it refreshes: tests move `rt.clock`, and the cache follows.
        self.overrides = CachedOverrides(self.store, lambda: self.clock(), OVERRIDES_TTL, OVERRIDES_HISTORY)

    @classmethod
    def build(cls, settings: Settings, runbook: Runbook, runbook_path: str) -> "Runtime":
        """Opens (and migrates) the store: raises if the database cannot be reached."""
        metrics, health = Metrics(), SlackHealth()
        client = make_client(settings, metrics, health)
        store = Store(settings.database_url)
        return cls(settings, runbook, runbook_path, client, Directory(runbook, client), metrics, health, store,
                   StoreRunner(store), Identity(client))

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store function off the event loop: `await rt.db(fn, a, b)` calls fn(store, a, b)."""
        return await self.runner.run(fn, *args)

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

    def wake_delivery(self) -> None:
        self.bell.set()
