"""Group commit for intake: requests that arrive while a commit runs share the next one.

SQLite commits one writer at a time, so under load most of an alert's cost is its own transaction.
Each request still gets its 202 only after the commit that holds its alerts. A batch that fails
is retried request by request, so one bad alert cannot take its neighbours down with it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Sequence

from bot.alerts.intake import receive_many

log = logging.getLogger("oncall_bot.intake")

MAX_BATCH = 128
GATHER_TURNS = 32
QUIET_TURNS = 8


class Intake:
    """`write(db, runbook, items, now, spans)` stores a batch in one transaction and returns one result
    per item: alerts (`receive_many`) or OpenLineage events (`receive_events`)."""

    def __init__(self, rt, write: Callable[..., list] = receive_many):
        self.rt = rt
        self.write = write
        self._waiting: list[tuple[Sequence, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def submit(self, alerts: Sequence) -> list:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((alerts, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        return await future

    async def _gather(self) -> None:
        """Give requests already on their way a few turns of the event loop to join this batch.

        A request needs several turns between its bytes arriving and its alerts being submitted;
        taking the batch at once splits a burst in two and pays each commit's fixed cost twice.
        Stops after QUIET_TURNS turns that brought nothing, so a lone alert waits microseconds.
        """
        quiet, size = 0, len(self._waiting)
        for _ in range(GATHER_TURNS):
            if quiet >= QUIET_TURNS or size >= MAX_BATCH:
                return
            await asyncio.sleep(0)
            quiet, size = (quiet + 1, size) if len(self._waiting) == size else (0, len(self._waiting))

    async def _write(self) -> None:
        while self._waiting:
            await self._gather()
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                flat = [alert for alerts, _ in batch for alert in alerts]
                results = await self.rt.db(self.write, self.rt.runbook, flat, self.rt.clock(), self.rt.overrides())
            except Exception:
                if len(batch) == 1:
                    _settle(batch[0][1], error=_error())
                    continue
                log.exception("intake batch of %d failed; retrying one by one", len(batch))
                for alerts, future in batch:
                    try:
                        _settle(future, await self.rt.db(self.write, self.rt.runbook, alerts,
                                                         self.rt.clock(), self.rt.overrides()))
                    except Exception as err:
                        _settle(future, error=err)
                continue
            offset = 0
            for alerts, future in batch:
                _settle(future, results[offset: offset + len(alerts)])
                offset += len(alerts)


def _settle(future: asyncio.Future, result=None, error: BaseException | None = None) -> None:
    """A request whose client went away (its future cancelled) must not stop the batch's others
    from hearing; its alerts are committed all the same."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _error() -> BaseException:
    import sys

    return sys.exc_info()[1] or RuntimeError("intake failed")
