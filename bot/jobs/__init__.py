"""APScheduler as the alarm clock: jobs only call store-driven functions, so a missed tick is caught
up on the next one and two replicas do each thing once (the store decides who does it)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("oncall_bot.jobs")

JOB_DEFAULTS = {"misfire_grace_time": 300, "coalesce": True, "max_instances": 1}


async def incident_clocks(rt) -> None:
    """Deferred pings at work-hours start, and escalations of unacknowledged pages."""
    from bot.alerts.escalation import fire_due
    from bot.store.incidents import fire_deferred_pings

    now = rt.clock()
    fired = await asyncio.to_thread(fire_deferred_pings, rt.store, now)
    fired += await asyncio.to_thread(fire_due, rt.store, rt.runbook, now)
    if fired:
        rt.wake_delivery()


def start_scheduler(rt) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
    scheduler.add_job(incident_clocks, "interval", seconds=15, args=[rt], id="incident-clocks",
                      next_run_time=rt.clock(), replace_existing=True)
    scheduler.start()
    return scheduler
