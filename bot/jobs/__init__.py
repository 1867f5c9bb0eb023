"""APScheduler as the alarm clock: jobs only call store-driven functions, so a missed tick is caught
up on the next one and two replicas do each thing once (the store decides who does it).

Jobs: `incident-clocks` (escalations, deferred pings) every 15 s; `scheduled-messages` (handoffs,
reminders, SLA watch, deadlines, weekly checks) at start and every minute, which is the catch-up:
a restart, a suspended host or a clock jump only delays what is due until the next tick; and
`scheduled-alarm`, a one-off job re-set after each pass at the next due instant, so messages go
out on the second rather than on the minute.
"""

from __future__ import annotations

import logging
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("oncall_bot.jobs")

JOB_DEFAULTS = {"misfire_grace_time": 300, "coalesce": True, "max_instances": 1}
TICK_SECONDS = 60


async def incident_clocks(rt) -> None:
    """Deferred pings when the pipeline's hours allow them, and escalations of unacknowledged incidents."""
    from bot.alerts.escalation import fire_deferred, fire_due

    now = rt.clock()
    fired = await rt.db(fire_deferred, rt.runbook, now, rt.overrides())
    fired += await rt.db(fire_due, rt.runbook, now, rt.overrides())
    if fired:
        rt.wake_delivery()


async def swap_clock(rt) -> None:
    """Cover requests: expired at their start, followed up in their thread, their edits caught up."""
    from bot.swap_flow import tick

    if await rt.db(tick, rt.runbook, rt.clock()):
        rt.wake_delivery()


async def scheduled_messages(rt, scheduler: AsyncIOScheduler | None = None) -> None:
    """One catch-up pass at rt.clock(); then the user group calls, and the alarm for the next due."""
    from apscheduler.triggers.date import DateTrigger

    from bot.jobs import usergroup
    from bot.jobs.catchup import run_pass
    # The interval tick and the one-off alarm may fire together: one pass at a time.
    async with rt.jobs_lock:
        result = await rt.db(run_pass, rt.runbook, rt.clock())
        for occ in result.calls:
            await usergroup.sync(rt, occ)
        if result.sent or result.calls:
            rt.wake_delivery()
        if result.sent or result.skipped:
            log.info("scheduled messages: %d sent, %d skipped as stale", len(result.sent), len(result.skipped))
    if scheduler is not None and result.next_due is not None:
        scheduler.add_job(scheduled_messages, DateTrigger(run_date=result.next_due, timezone=UTC),
                          args=[rt, scheduler], id="scheduled-alarm", replace_existing=True)


def add_jobs(scheduler: AsyncIOScheduler, rt) -> None:
    scheduler.add_job(incident_clocks, "interval", seconds=15, args=[rt], id="incident-clocks",
                      next_run_time=rt.clock(), replace_existing=True)
    scheduler.add_job(scheduled_messages, "interval", seconds=TICK_SECONDS, args=[rt, scheduler],
                      id="scheduled-messages", next_run_time=rt.clock(), replace_existing=True)
    scheduler.add_job(swap_clock, "interval", seconds=30, args=[rt], id="swap-clock",
                      next_run_time=rt.clock(), replace_existing=True)


def start_scheduler(rt) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
    add_jobs(scheduler, rt)
    scheduler.start()
    return scheduler
