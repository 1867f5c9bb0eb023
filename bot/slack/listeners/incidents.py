"""Acknowledge / Resolve / Escalate buttons on alert messages: record who did it, then let the
outbox edit the message. Clicks from another workspace are refused."""

from __future__ import annotations

import functools
import logging

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot.alerts import escalation
from bot.runtime import Runtime
from bot.slack.workspace import OURS, REFUSALS, teams_of, workspace_of
from bot.store import incidents

log = logging.getLogger("oncall_bot.incidents")

ACTIONS = {
    "incident_ack": incidents.ack,
    "incident_resolve": incidents.resolve,
    "incident_resolve_children": incidents.resolve_children,
}


async def on_click(ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond, context: AsyncBoltContext) -> None:
    rt: Runtime = context["rt"]
    await ack()
    if (where := await workspace_of(rt, body)) != OURS:
        log.warning("refused %s from workspace %s (%s)", action.get("action_id"), teams_of(body), where)
        await respond(text=REFUSALS[where], response_type="ephemeral", replace_original=False)
        return
    try:
        incident_id = int(action.get("value", ""))
    except ValueError:
        return
    user = body["user"]["id"]
    if action["action_id"] == "incident_escalate":
        change = await _press(rt, incident_id, user)
        if change.incident is not None and not change.changed and change.incident.status != "resolved":
            just = escalation.settling(change.incident, rt.clock())
            await respond(text="It was escalated moments ago and that step has been told. Press again in a "
                               "minute if nobody answers." if just else
                          "Everyone in this pipeline's escalation chain has been told already.",
                          response_type="ephemeral", replace_original=False)
    else:
        change = await rt.db(ACTIONS[action["action_id"]], incident_id, user, rt.clock())
    if change.changed:
        rt.wake_delivery()


async def _press(rt: Runtime, incident_id: int, user: str) -> incidents.Change:
    """Escalate passes over the person who pressed it and the one who acknowledged."""
    current = await rt.db(incidents.get_incident, incident_id)
    if current is None:
        return incidents.Change(None, False)
    pressed_by = await rt.directory.person_of(user)
    acker = current.acknowledged_by
    acknowledged_by = await rt.directory.person_of(acker) if acker else None
    press = functools.partial(escalation.press, pressed_by=pressed_by, acknowledged_by=acknowledged_by)
    return await rt.db(press, rt.runbook, incident_id, user, rt.clock(), rt.overrides())


async def ack_only(ack: AsyncAck) -> None:
    await ack()  # link buttons still send an action; nothing to do


def register(app: AsyncApp) -> None:
    for action_id in (*ACTIONS, "incident_escalate"):
        app.action(action_id)(on_click)
    app.action("incident_logs")(ack_only)
    app.action("incident_noop")(ack_only)  # the old "Runbook" button on messages posted before it went
