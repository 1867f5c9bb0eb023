"""Acknowledge / Resolve / Escalate buttons on alert messages: record who did it, then let the
outbox edit the message. Clicks from another workspace are refused."""

from __future__ import annotations

import functools
import logging

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot.alerts import escalation
from bot.runtime import Runtime
from bot.slack.workspace import OURS, REFUSALS, teams_of, workspace_of
from bot.slack.replies import incident as render
from bot.slack.replies import timeline as timeline_render
from bot.store import incidents, memory, timeline_reads

log = logging.getLogger("oncall_bot.incidents")

ACTIONS = {
    "incident_ack": incidents.ack,
    "incident_resolve": incidents.resolve,
    "incident_resolve_children": incidents.resolve_children,
}


async def _pressed(rt: Runtime, body: dict, action: dict, respond: AsyncRespond) -> int | None:
    """The incident a button names, when the press comes from our workspace (else it is refused)."""
    if (where := await workspace_of(rt, body)) != OURS:
        log.warning("refused %s from workspace %s (%s)", action.get("action_id"), teams_of(body), where)
        await respond(text=REFUSALS[where], response_type="ephemeral", replace_original=False)
        return None
    try:
        return int(action.get("value", ""))
    except ValueError:
        return None


async def on_click(ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond, context: AsyncBoltContext) -> None:
    rt: Runtime = context["rt"]
    await ack()
    if (incident_id := await _pressed(rt, body, action, respond)) is None:
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
    if action["action_id"] == "incident_resolve" and change.changed and body.get("trigger_id"):
        await _ask_note(rt, body["trigger_id"], change.incident)


async def _ask_note(rt: Runtime, trigger_id: str, incident) -> None:
    """The resolution form; a Slack that cannot open it (the trigger expired) leaves the incident resolved."""
    try:
        await rt.client.views_open(trigger_id=trigger_id, view=render.note_form(rt.runbook, incident))
    except Exception as err:
        log.warning("could not open the resolution form for incident %s: %s", incident.id, err)


async def note_submitted(ack: AsyncAck, body: dict, view: dict, context: AsyncBoltContext) -> None:
    rt: Runtime = context["rt"]
    if (where := await workspace_of(rt, body)) != OURS:
        await ack(response_action="errors", errors={"fix": REFUSALS[where][:150]})
        return
    values = (view.get("state") or {}).get("values") or {}

    def picked(block: str, key: str = "value") -> str | None:
        found = (values.get(block) or {}).get(block) or {}
        return found.get(key) if key == "value" else (found.get(key) or {}).get("value")

    fix = (picked("fix") or "").strip()
    if not fix:
        await ack(response_action="errors", errors={"fix": "Say in a few words what fixed it, or close the form."})
        return
    remediation = picked("remediation", "selected_option")
    if remediation not in ("right", "wrong", "none"):
        await ack(response_action="errors", errors={"remediation": "Pick one."})
        return
    try:
        incident_id = int(view.get("private_metadata") or "")
    except ValueError:
        await ack()
        return
    user = body["user"]["id"]
    saved = await rt.db(memory.save_note, incident_id, fix, remediation, picked("category", "selected_option"),
                        user, await rt.directory.person_of(user), rt.clock())
    if saved is None:
        await ack(response_action="errors", errors={"fix": "This incident is open again: resolve it first."})
        return
    await ack()
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


async def on_timeline(ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond,
                      context: AsyncBoltContext) -> None:
    """Timeline on a resolved incident: its whole story, to the presser only (ephemeral)."""
    rt: Runtime = context["rt"]
    await ack()
    if (incident_id := await _pressed(rt, body, action, respond)) is None:
        return
    story = await rt.db(timeline_reads.story, incident_id)
    if story is None:
        await respond(text=f"Incident {incident_id} is not in the store any more.", response_type="ephemeral",
                      replace_original=False)
        return
    msg = timeline_render.answer(rt.runbook, story, rt.clock())
    await respond(**msg.payload(), response_type="ephemeral", replace_original=False)


async def ack_only(ack: AsyncAck) -> None:
    await ack()  # link buttons still send an action; nothing to do


def register(app: AsyncApp) -> None:
    for action_id in (*ACTIONS, "incident_escalate"):
        app.action(action_id)(on_click)
    app.view("resolution_note")(note_submitted)
    app.action("incident_timeline")(on_timeline)
    app.action("incident_logs")(ack_only)
    app.action("incident_noop")(ack_only)  # the old "Runbook" button on messages posted before it went
