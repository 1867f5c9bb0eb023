"""Store work off the event loop: the handlers await it, the threads do it."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from bot.store.db import Store

T = TypeVar("T")


class StoreRunner:
    """SQLite admits one writer at a time, and threads queued on its lock sleep in its busy handler,
    so on SQLite all store work goes through one thread; PostgreSQL gets a small pool."""

    def __init__(self, store: Store):
        self.store = store
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`await runner.run(fn, a, b)` calls fn(store, a, b) in a store thread."""
        if self._executor is None:
            workers = 1 if self.store.dialect == "sqlite" else 8
            self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store")
        return await asyncio.get_running_loop().run_in_executor(self._executor,
                                                                 functools.partial(fn, self.store, *args))

    def stop(self) -> None:
        """Wait for store work in flight, so shutdown never leaves a transaction half done."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
