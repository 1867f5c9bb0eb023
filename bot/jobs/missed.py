"""What fell due while the bot was not running: said once, in one summary, and paging nobody.

A pass that finds a clock (an SLA deadline, a fix deadline) more than MISSED_AFTER past and still
owed was not running when it fell due. Acting on it as if it were fresh would open and page SLA
incidents for runs days old and broadcast "fix deadline missed" for each incident. Instead every
such occurrence is claimed as done and becomes one line of a single message in the alerts channel.

The SLA deadline of a pipeline's latest run is not history: its data is still missing now, so it is
acted on as usual (an incident, told whom the policy says), however late the pass.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection

from bot.domain.deadlines import next_run
from bot.domain import policy
from bot.domain.notices import audience_json, notice
from bot.domain.timeutil import iso
from bot.jobs import fix_deadlines, sla
from bot.jobs.core import Context, Occurrence
from bot.store import outbox
from bot.store.incidents import record_action

KIND = "missed"
MISSED_AFTER = timedelta(hours=1)  # a pass runs every few seconds while the bot is up


def is_missed(ctx: Context, occ: Occurrence) -> bool:
    if ctx.now - occ.due <= MISSED_AFTER:
        return False
    if occ.kind == sla.KIND:
        spec = ctx.runbook.pipelines[occ.scope]
        return next_run(spec.schedule, occ.subject, ctx.runbook.clock_zone(occ.scope)) <= ctx.now
    return occ.kind == fix_deadlines.BREACH


def line(ctx: Context, occ: Occurrence, conn: Connection) -> dict | None:
    """The summary's fact for one missed occurrence (None: nothing to say), recording what it changes."""
    if occ.kind == sla.KIND:
        pipeline, run, deadline = occ.scope, occ.subject, occ.due
        if sla.succeeded(ctx, pipeline, run, deadline):
            return None
        return {"what": "sla", "pipeline": pipeline, "run": iso(run), "deadline": iso(deadline),
                "arrived": iso(sla.arrived_late(ctx, pipeline, run, deadline))}
    incident = occ.subject
    record_action(conn, incident.id, "fix_breached", "bot", ctx.now, {"fix_by": incident.fix_by.isoformat()})
    return {"what": "fix", "incident": incident.id, "deadline": iso(incident.fix_by)}


def summarize(ctx: Context, conn: Connection, lines: list[dict]) -> None:
    audience = ctx.audience(None, policy.SUMMARY)
    outbox.enqueue(conn, kind=KIND, idempotency_key=f"{KIND}:{iso(ctx.now)}#0", now=ctx.now,
                   method="chat.postMessage", channel=ctx.runbook.team.channels.alerts,
                   args={"notice": notice(KIND, items=lines, seen=iso(ctx.now), audience=audience_json(audience))})
