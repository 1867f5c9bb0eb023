"""An incident's Slack messages, rendered from its stored row: the parent (edited in place as the
state changes) and the quiet thread replies. Alert text is untrusted: always escaped.

Mentions appear only where someone must act: the parent when the policy pages, a deferred ping when
work hours start, an escalation. Repeats, acknowledgements and resolutions mention nobody.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.alerts.escalation import step_of
from bot.domain.policy import oncall_person, owners_of
from bot.domain.rotation import OverrideSpan
from bot.domain.triage import triage
from bot.runbook.fields import format_duration
from bot.runbook.models import Runbook
from bot.slack.blocks import Message, context, fields, message, section
from bot.slack.people import Directory
from bot.slack.text import code_block, cut, date_token, escape
from bot.store.records import Incident

EXCERPT_LINES = 6
EXCERPT_CHARS = 1200
STATE = {"open": ":red_circle: Open", "acknowledged": ":large_yellow_circle: Acknowledged",
         "resolved": ":large_green_circle: Resolved"}


def title(runbook: Runbook, incident: Incident) -> str:
    spec = runbook.pipelines.get(incident.pipeline) if incident.known else None
    return escape(spec.name) if spec else f"{escape(incident.pipeline_raw)} (unknown pipeline)"


def _countdown(at: datetime | None) -> str:
    return date_token(at, "{date_short_pretty} {time} ({ago})") if at else "_none_"


def _excerpt(error: str | None, matched_line: str | None) -> str:
    if not error or not error.strip():
        return "_No error text in the alert._"
    lines = error.strip().splitlines()
    head = "\n".join(lines[:EXCERPT_LINES])
    more = f"\n… {len(lines) - EXCERPT_LINES} more line(s)" if len(lines) > EXCERPT_LINES else ""
    text = code_block(escape(head) + escape(more), EXCERPT_CHARS)
    if matched_line and matched_line not in head:
        text += f"\nMatched line: `{escape(cut(matched_line, 300)).replace('`', chr(39))}`"
    return text


async def parent(runbook: Runbook, people: Directory, incident: Incident) -> Message:
    """The top-level alert message, for posting and for every later edit."""
    match = triage(runbook, incident.pipeline if incident.known else None, incident.error)
    spec = runbook.pipelines.get(incident.pipeline) if incident.known else None
    owners = owners_of(runbook, incident.pipeline if incident.known else None)
    await people.resolve([*owners, *incident.notify, *(incident.oncall and [incident.oncall] or [])])
    paging = incident.notify_mode == "page" and incident.status == "open"
    name = people.mention if paging else people.plain

    state = STATE.get(incident.status, incident.status)
    if incident.status == "acknowledged":
        state += f" by <@{escape(incident.acknowledged_by)}>" if _user(incident.acknowledged_by) else ""
    if incident.status == "resolved":
        who = f"<@{incident.resolved_by}>" if _user(incident.resolved_by) else "a success report"
        sla = {True: " · SLA met", False: " · SLA missed", None: ""}[incident.sla_met]
        state += f" by {who}{sla}"
    count = f" · seen {incident.alert_count} times" if incident.alert_count > 1 else ""
    blocks = [section(f"*{title(runbook, incident)} failed* · {state}{count}")]

    if incident.status != "resolved":
        blocks.append(section(_excerpt(incident.error, match.line if match else None)))
        if match:
            blocks.append(section(f"*Likely cause: {escape(match.title)}*\n{escape(match.remediation)}"))
        else:
            hint = f"`/runbook {incident.pipeline}`" if incident.known else "`/runbook` to list the known pipelines"
            blocks.append(section(f"*No known issue matched.* See {hint}."))
    who_lines = []
    if owners:
        roles = ["primary", "secondary"]
        who_lines.append("Owners: " + ", ".join(f"{name(o)} ({roles[i]})" for i, o in enumerate(owners)))
    if incident.oncall:
        who_lines.append(f"On call: {name(incident.oncall)}")
    if incident.notify_mode == "deferred" and incident.status == "open" and incident.deferred_until:
        who_lines.append(f"Posted quietly: owners will be pinged at {date_token(incident.deferred_until)}")
    elif incident.notify_mode == "quiet":
        who_lines.append("Posted quietly: nobody is paged for this pipeline at this hour")
    elif incident.notify_mode == "none":
        who_lines.append("Nobody is on call and the pipeline has no owners")
    if who_lines:
        blocks.append(section("\n".join(who_lines)))
    pairs = [("Data ready by", _countdown(incident.data_ready_by)), ("Fix by", _countdown(incident.fix_by))]
    if incident.run_at:
        pairs.insert(0, ("Run", date_token(incident.run_at)))
    if spec and (spec.upstream or spec.downstream):
        pairs.append(("Check with / tell", f"{escape(', '.join(spec.upstream)) or '-'} / "
                                           f"{escape(', '.join(spec.downstream)) or '-'}"))
    blocks.append(fields(pairs))
    blocks.append(_buttons(incident))
    blocks.append(context(f"Incident {incident.id} · run `{escape(incident.run_id or '-')}` · "
                          f"opened {date_token(incident.opened_at)}"))

    fallback = f"{title(runbook, incident)} failed ({incident.status})"
    if match:
        fallback += f": {escape(match.title)}"
    if paging and incident.notify:
        fallback += " cc " + " ".join(people.mention(n) for n in incident.notify)
    return message(fallback, blocks)


def _buttons(incident: Incident) -> ActionsBlock:
    value = str(incident.id)
    elements = []
    if incident.status == "open":
        elements.append(ButtonElement(text="Acknowledge", action_id="incident_ack", value=value, style="primary"))
    if incident.status != "resolved":
        elements.append(ButtonElement(text="Resolve", action_id="incident_resolve", value=value))
        elements.append(ButtonElement(text="Escalate", action_id="incident_escalate", value=value, style="danger"))
    if incident.log_url and incident.log_url.startswith(("https://", "http://")) and len(incident.log_url) <= 3000:
        # A URL button is never parsed as mrkdwn, so a hostile URL cannot disguise itself as a link label.
        elements.append(ButtonElement(text="View logs", action_id="incident_logs", url=incident.log_url))
    if not elements:
        elements.append(ButtonElement(text="Runbook", action_id="incident_noop", value=value))
    return ActionsBlock(block_id=f"incident-{incident.id}", elements=elements)


def _user(value: str | None) -> bool:
    return bool(value) and value[0] in "UW" and value.isalnum()


def repeat_reply(incident: Incident) -> Message:
    text = (f"Seen again: {incident.alert_count} alerts so far, the latest "
            f"{date_token(incident.last_alert_at)}. Further repeats only update the count above.")
    return message(f"Seen again ({incident.alert_count} alerts)", [section(text)])


async def _actor(people: Directory, user_id: str | None) -> str:
    """A name without a mention: thread replies about acks and resolutions must not notify anyone."""
    if not _user(user_id):
        return "the bot"
    return people.plain(await people.person_of(user_id)) if await people.person_of(user_id) else "a teammate"


async def resolve_reply(people: Directory, incident: Incident) -> Message:
    if _user(incident.resolved_by):
        text = f"Resolved by {await _actor(people, incident.resolved_by)}."
    else:
        text = "Resolved: the pipeline reported success."
    if incident.sla_met is not None and incident.data_ready_by and incident.resolved_at:
        late = incident.resolved_at - incident.data_ready_by
        text += " Data was ready within its SLA." if incident.sla_met else \
            f" Data was late by {format_duration(late)} (due {date_token(incident.data_ready_by)})."
    return message(text, [section(text)])


async def deferred_ping(runbook: Runbook, people: Directory, incident: Incident) -> Message:
    await people.resolve(incident.notify)
    who = " ".join(people.mention(n) for n in incident.notify) or "Nobody is listed"
    text = f"{who}: work hours have started and this failure is still open. Please take a look."
    return message(text, [section(text)])


async def escalation(runbook: Runbook, people: Directory, incident: Incident, admins: list[str],
                     now: datetime, overrides: Iterable[OverrideSpan] = ()) -> Message:
    step = step_of(runbook, incident)
    owners = owners_of(runbook, incident.pipeline if incident.known else None)
    if step == "secondary":
        names = owners[1:2] or owners[:1]
    elif step == "oncall":
        # Whoever is on call now, swaps and overrides included: not who was when the failure came in.
        spec = runbook.pipelines.get(incident.pipeline) if incident.known else None
        rotation = (spec.on_call.rotation if spec and spec.on_call else None) or runbook.default_rotation
        current = oncall_person(runbook, rotation, now, overrides) or incident.oncall
        names = [current] if current else []
    elif step == "admins":
        names = admins
    else:
        names = [*owners, *(incident.oncall and [incident.oncall] or [])]
    await people.resolve(names)
    who = " ".join(people.mention(n) for n in names) or "nobody is configured for this step"
    text = f":rotating_light: Escalated (level {incident.escalation_level}): {who}, this failure is not acknowledged yet."
    return message(text, [section(text)])
