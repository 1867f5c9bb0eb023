"""An incident's Slack messages, rendered from its stored row: the parent (edited in place as the
state changes), the thread replies, and the direct message of a page. Alert text is untrusted:
always escaped.

Nobody here decides whom to mention: the parent mentions whom the policy told when it opened, and
every other message whom its stored decision names (bot.domain.policy). Repeats, acknowledgements
and resolutions mention nobody.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.domain.policy import owners_of
from bot.domain.triage import Match, triage
from bot.runbook.fields import format_duration
from bot.runbook.models import Runbook
from bot.slack.blocks import Message, context, fields, message, section
from bot.slack.people import Directory
from bot.slack.text import code_block, cut, date_token, escape, is_user_id, user_mention
from bot.store.records import Incident, Note

EXCERPT_LINES = 6
EXCERPT_CHARS = 1200
STATE = {"open": ":red_circle: Open", "acknowledged": ":large_yellow_circle: Acknowledged",
         "resolved": ":large_green_circle: Resolved"}


def title(runbook: Runbook, incident: Incident) -> str:
    spec = runbook.pipelines.get(incident.pipeline) if incident.known else None
    return escape(spec.name) if spec else f"{escape(incident.pipeline_raw)} (unknown pipeline)"


def headline(runbook: Runbook, incident: Incident, *, token: bool = True) -> str:
    """What happened, in a few words: a failure, or (the SLA watch) a run nobody reported on."""
    if incident.missing_report and incident.data_ready_by:
        by = date_token(incident.data_ready_by) if token else f"{incident.data_ready_by.astimezone(runbook.tz):%H:%M %Z}"
        return f"{title(runbook, incident)}: no success report by {by}"
    return f"{title(runbook, incident)} failed"


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


async def parent(runbook: Runbook, people: Directory, incident: Incident,
                 children: Sequence[Incident] = (), note: Note | None = None) -> Message:
    """The top-level alert message, for posting and for every later edit. `children`: the downstream
    incidents folded under it (lineage), listed so the thread's root says what else it explains;
    `note`: what its resolver said fixed it, kept beside the error and the cause."""
    match = triage(runbook, incident.pipeline if incident.known else None, incident.error)
    spec = runbook.pipelines.get(incident.pipeline) if incident.known else None
    owners = owners_of(runbook, incident.pipeline if incident.known else None)
    await people.resolve([*owners, *incident.notify, *(incident.oncall and [incident.oncall] or [])])
    told = incident.notify_mode in ("page", "notify") and incident.status == "open"
    mentioned = set(incident.notify) if told else set()

    def name(person: str) -> str:
        return people.mention(person) if person in mentioned else people.plain(person)

    count = f" · seen {incident.alert_count} times" if incident.alert_count > 1 else ""
    blocks = [section(f"*{headline(runbook, incident)}* · {_state(incident)}{count}")]

    # A resolved incident keeps what happened: the error and the cause stay on the record. A missing
    # report has no error to match a known issue against: the watch's own words say what is missing.
    if incident.missing_report:
        blocks.append(section(escape(incident.error)))
    else:
        blocks.append(section(_excerpt(incident.error, match.line if match else None)))
        if match:
            blocks.append(section(f"*Likely cause: {escape(match.title)}*\n{escape(match.remediation)}"))
        else:
            hint = f"`/runbook {incident.pipeline}`" if incident.known else "`/runbook` to list the known pipelines"
            blocks.append(section(f"*No known issue matched.* See {hint}."))
    if spec and (missing := spec.missing()):
        blocks.append(context(f"The runbook is incomplete for this pipeline: no {', '.join(missing)}."))
    who_lines = []
    if owners:
        roles = ["primary", "secondary"]
        who_lines.append("Owners: " + ", ".join(f"{name(o)} ({roles[i]})" for i, o in enumerate(owners)))
    if incident.oncall:
        who_lines.append(f"On call: {name(incident.oncall)}")
    who_lines.append(_told_line(people, incident))
    if who_lines:
        blocks.append(section("\n".join(who_lines)))
    pairs = [("Data ready by", _countdown(incident.data_ready_by)), ("Fix by", _countdown(incident.fix_by))]
    if incident.run_at:
        pairs.insert(0, ("Run", date_token(incident.run_at)))
    if spec and (spec.upstream or spec.downstream):
        pairs.append(("Check with / tell", f"{escape(', '.join(spec.upstream)) or '-'} / "
                                           f"{escape(', '.join(spec.downstream)) or '-'}"))
    blocks.append(fields(pairs))
    if note is not None:
        blocks.append(section(f"*What fixed it:* {escape(cut(note.fix, 1500))}\n_{_note_line(people, note)}_"))
    if children:
        listed = ", ".join(f"{title(runbook, c)} (incident {c.id}, {c.status})" for c in children)
        blocks.append(section(f"*Downstream, folded here:* {listed}"))
    if buttons := _buttons(incident, sum(c.is_open for c in children)):
        blocks.append(buttons)
    run = f" · run `{escape(incident.run_id)}`" if incident.run_id else ""
    blocks.append(context(f"Incident {incident.id}{run} · opened {date_token(incident.opened_at)}"))

    fallback = f"{headline(runbook, incident, token=False)} ({incident.status})"
    if match:
        fallback += f": {escape(match.title)}"
    if mentioned:
        fallback += " cc " + " ".join(people.mention(n) for n in incident.notify)
    return message(fallback, blocks)


def _state(incident: Incident) -> str:
    """Open, acknowledged by whom, or resolved by whom (a success report says whether the SLA held)."""
    state = STATE.get(incident.status, incident.status)
    if incident.status == "acknowledged":
        state += f" by {user_mention(incident.acknowledged_by)}" if is_user_id(incident.acknowledged_by) else ""
    if incident.status == "resolved":
        who = user_mention(incident.resolved_by, nobody="a success report")
        sla = {True: " · SLA met", False: " · SLA missed", None: ""}[incident.sla_met]
        state += f" by {who}{sla}"
    return state


def _told_line(people: Directory, incident: Incident) -> str:
    """Who the bot told about this failure, how, and why: the policy's own reason."""
    reason = escape(incident.notify_reason or "")
    names = ", ".join(people.plain(n) for n in incident.notify) or "nobody"
    paged = [n for n, how in (incident.told or {}).items() if how == "page"]
    if incident.notify_mode == "deferred":
        if incident.deferred_pinged_at:
            return f"Posted quietly, then {names} told {date_token(incident.deferred_pinged_at)}. _{reason}_"
        late = (" That is after the fix deadline."
                if incident.fix_by and incident.deferred_until and incident.deferred_until >= incident.fix_by else "")
        when = date_token(incident.deferred_until) if incident.deferred_until else "later"
        return f"Posted quietly: {names} will be told {when}.{late} _{reason}_"
    if incident.notify_mode == "page":
        dm = f"Paged by direct message: {', '.join(people.plain(n) for n in paged)}. " if paged else ""
        return f"{dm}_{reason}_"
    if incident.notify_mode == "notify":
        return f"Mentioned, not paged. _{reason}_"
    return f"Posted quietly: nobody is mentioned. _{reason}_"


def _buttons(incident: Incident, open_children: int = 0) -> ActionsBlock | None:
    """Only buttons that do something: a resolved incident keeps its Timeline (and its log link), and the
    offer to resolve the downstream incidents folded under it goes once none is left open."""
    value = str(incident.id)
    elements = []
    if incident.status == "resolved" and open_children:
        elements.append(ButtonElement(text=f"Resolve {open_children} downstream", action_id="incident_resolve_children",
                                      value=value))
    if incident.status == "resolved":  # its whole story, for the post-mortem (answered to the presser only)
        elements.append(ButtonElement(text="Timeline", action_id="incident_timeline", value=value))
    if incident.status == "open":
        elements.append(ButtonElement(text="Acknowledge", action_id="incident_ack", value=value, style="primary"))
    if incident.status != "resolved":
        elements.append(ButtonElement(text="Resolve", action_id="incident_resolve", value=value))
        elements.append(ButtonElement(text="Escalate", action_id="incident_escalate", value=value, style="danger"))
    if incident.log_url and incident.log_url.startswith(("https://", "http://")) and len(incident.log_url) <= 3000:
        # A URL button is never parsed as mrkdwn, so a hostile URL cannot disguise itself as a link label.
        elements.append(ButtonElement(text="View logs", action_id="incident_logs", url=incident.log_url))
    return ActionsBlock(block_id=f"incident-{incident.id}", elements=elements) if elements else None


def repeat_reply(incident: Incident, about: str = "") -> Message:
    text = (f"{about}Seen again: {incident.alert_count} alerts so far, the latest "
            f"{date_token(incident.last_alert_at)}. Further repeats only update the count above.")
    return message(f"Seen again ({incident.alert_count} alerts)", [section(text)])


async def _actor(people: Directory, user_id: str | None) -> str:
    """A name without a mention: thread replies about acks and resolutions must not notify anyone."""
    if not is_user_id(user_id):
        return "the bot"
    return people.plain(await people.person_of(user_id)) if await people.person_of(user_id) else "a teammate"


async def resolve_reply(people: Directory, incident: Incident, about: str = "",
                        still_open: Sequence[str] = ()) -> Message:
    if is_user_id(incident.resolved_by):
        text = f"{about}Resolved by {await _actor(people, incident.resolved_by)}."
    else:
        text = f"{about}Resolved: the pipeline reported success."
    if incident.sla_met is not None and incident.data_ready_by and incident.resolved_at:
        late = incident.resolved_at - incident.data_ready_by
        text += " Data was ready within its SLA." if incident.sla_met else \
            f" Data was late by {format_duration(late)} (due {date_token(incident.data_ready_by)})."
    if still_open:
        text += (f" Still open downstream: {', '.join(still_open)}. Each resolves on its own success report, "
                 f"or all at once with *Resolve downstream* above.")
    return message(text, [section(text)])


async def folded_open(runbook: Runbook, people: Directory, incident: Incident, root: Incident) -> Message:
    """A downstream failure (or breach) in the thread of the upstream incident that explains it."""
    match = triage(runbook, incident.pipeline, incident.error)
    spec = runbook.pipelines.get(incident.pipeline)
    await people.resolve(incident.notify)
    what = headline(runbook, incident)
    text = f":link: *{what} too*, likely because *{title(runbook, root)}* is failing (incident {root.id})."
    blocks = [section(text)]
    if incident.missing_report:
        blocks.append(section(escape(incident.error)))
    else:
        blocks.append(section(_excerpt(incident.error, match.line if match else None)))
        if match:
            blocks.append(section(f"*If it is not the upstream:* {escape(match.title)}: {escape(match.remediation)}"))
    if spec and spec.downstream:
        blocks.append(section(f"*Tell {escape(', '.join(spec.downstream))}:* their data from {title(runbook, incident)} "
                              f"is late because {title(runbook, root)} failed."))
    names = ", ".join(people.plain(n) for n in incident.notify) or "nobody"
    if incident.notify_mode in ("page", "notify") and incident.notify:
        told = "Owners: " + " ".join(people.mention(n) for n in incident.notify) + " (mentioned once, not paged)."
    elif incident.notify_mode == "deferred":
        when = date_token(incident.deferred_until) if incident.deferred_until else "later"
        told = f"{names} will be told {when}."
    else:
        told = "Nobody is mentioned."
    blocks.append(section(told))
    blocks.append(context(f"Incident {incident.id}, folded under incident {root.id}. "
                          f"_{escape(incident.notify_reason or '')}_"))
    fallback = f"{headline(runbook, incident, token=False)} too, likely because {title(runbook, root)} is failing"
    if incident.notify_mode in ("page", "notify") and incident.notify:
        fallback += " cc " + " ".join(people.mention(n) for n in incident.notify)
    return message(fallback, blocks)


VERDICT = {"right": "the suggested remediation was right", "wrong": "the suggested remediation was wrong",
           "none": "there was no suggested remediation"}


def _note_line(people: Directory, note: Note) -> str:
    """Who wrote it and what they said of the suggestion: plain names, a note must not ping anyone."""
    by = people.plain(note.by_name) if note.by_name else "a teammate"
    cause = f"; cause: {escape(note.category)}" if note.category else ""
    return f"{by}: {VERDICT.get(note.remediation, note.remediation)}{cause}"


def note_reply(people: Directory, incident: Incident, note: Note, about: str = "") -> Message:
    text = f"{about}*Resolution note:* {escape(cut(note.fix, 2500))}"
    return message(f"{about}Resolution note: {escape(cut(note.fix, 200))}",
                   [section(text), context(_note_line(people, note))])


async def seen_before(runbook: Runbook, people: Directory, past: Sequence, links: dict[int, str]) -> Message:
    """Past incidents with an error like this one's (bot.store.memory.Seen): when, where, who fixed it
    and how long it took, what they wrote, and a link to their thread."""
    lines = []
    for seen in past:
        old = seen.incident
        when = date_token(old.opened_at, "{date_short_pretty} {time}")
        link = links.get(old.id, "")
        when = f"<{link}|{when}>" if link.startswith("https://") else when
        alike = "same error" if seen.likeness >= 1 else f"{seen.likeness:.0%} alike"
        took = format_duration(max(old.resolved_at - old.opened_at, timedelta(0))) if old.resolved_at else "?"
        who = await _actor(people, old.resolved_by) if is_user_id(old.resolved_by) else "a success report"
        line = f"• {when} · *{title(runbook, old)}* · {alike} · resolved by {who} after {took}"
        if seen.note is not None:
            line += f"\n    _What fixed it:_ {escape(cut(seen.note.fix, 400))} ({_note_line(people, seen.note)})"
        lines.append(line)
    text = ":mag: *Seen before*: the same error or a close one\n" + "\n".join(lines)
    return message(f"Seen before: {len(lines)} past incident(s) with a similar error", [section(text)])


MEANWHILE = {"sla_breach": "SLA missed", "fix_chase": "fix deadline near", "fix_chase_last": "fix deadline near",
             "fix_breach": "fix deadline missed"}


async def deferred_ping(runbook: Runbook, people: Directory, incident: Incident, args: dict) -> Message:
    """The people a deferred incident waited for, told in one message with what happened meanwhile."""
    names = args.get("people") or []
    await people.resolve(names)
    who = " ".join(people.mention(n) for n in names) or "Nobody is listed"
    text = f"{who}: this failure is still open. Please take a look."
    lines = [f"{MEANWHILE.get(item.get('kind'), item.get('kind'))} "
             f"{date_token(datetime.fromisoformat(item['at']))}" for item in args.get("meanwhile") or []]
    if incident.alert_count > 1:
        lines.append(f"{incident.alert_count} alerts so far, the latest {date_token(incident.last_alert_at)}")
    blocks = [section(text)]
    if lines:
        blocks.append(section("*Meanwhile:*\n" + "\n".join(f"• {line}" for line in lines)))
    return message(text, blocks + _why(args))


def _why(args: dict) -> list:
    return [context(escape(args["reason"]))] if args.get("reason") else []


async def escalation(people: Directory, incident: Incident, args: dict) -> Message:
    """An escalation step as the store recorded it: who pressed it (or the clock), the incident's
    state at that moment, and the people the step reaches."""
    names = args.get("people") or []
    await people.resolve(names)
    by = args.get("by")
    actor = f"by {await _actor(people, by)}" if is_user_id(by) else "by the clock: nobody acknowledged in time"
    state = "not acknowledged yet"
    if args.get("status") == "acknowledged":
        acker = args.get("acknowledged_by")
        state = f"acknowledged by {await _actor(people, acker)}" if is_user_id(acker) else "acknowledged"
    if not names:
        text = (f":rotating_light: Escalation {actor} ({state}): everyone in the escalation chain "
                f"has been told already; nobody else is called.")
    else:
        who = " ".join(people.mention(n) for n in names)
        how = " (paged by direct message)" if args.get("how") == "page" else ""
        text = f":rotating_light: Escalated (level {args.get('level')}) {actor}; this failure is {state}. {who}{how}"
    return message(text, [section(text), *_why(args)])


def _cause(runbook: Runbook, incident: Incident) -> Match | None:
    return triage(runbook, incident.pipeline if incident.known else None, incident.error)


def page_dm(runbook: Runbook, incident: Incident, args: dict, link: str | None) -> Message:
    """The direct message of a page: enough to act from a phone at night, with Acknowledge."""
    match = _cause(runbook, incident)
    name = headline(runbook, incident)
    state = STATE.get(incident.status, incident.status)
    lines = [f":rotating_light: *{name}* · {state}"]
    if incident.missing_report:
        lines.append(escape(incident.error))
    else:
        lines.append(f"*Likely cause:* {escape(match.title)}: {escape(match.remediation)}" if match
                     else "*Likely cause:* no known issue matched.")
    deadlines = [f"data ready by {_countdown(incident.data_ready_by)}" if incident.data_ready_by else "",
                 f"fix by {_countdown(incident.fix_by)}" if incident.fix_by else ""]
    if any(deadlines):
        lines.append("*Deadlines:* " + ", ".join(d for d in deadlines if d))
    if link and link.startswith("https://"):
        lines.append(f"<{link}|Open the alert thread>")
    blocks = [section("\n".join(lines)), context(f"Why you: {escape(args.get('reason') or '')}")]
    if incident.status == "open":
        blocks.append(ActionsBlock(block_id=f"page-{incident.id}", elements=[ButtonElement(
            text="Acknowledge", action_id="incident_ack", value=str(incident.id), style="primary")]))
    return message(f"{headline(runbook, incident, token=False)} ({incident.status})"
                   + (f": {escape(match.title)}" if match else ""), blocks)


def note_form(runbook: Runbook, incident: Incident):
    """The form Resolve opens: what fixed it, whether the suggestion was right. The incident is resolved
    already; closing the form skips the note."""
    from slack_sdk.models.blocks import (InputBlock, Option, PlainTextInputElement, RadioButtonsElement,
                                         StaticSelectElement)
    from slack_sdk.models.views import View

    match = _cause(runbook, incident)
    verdicts = [Option(value="right", label="Yes"), Option(value="wrong", label="No"),
                Option(value="none", label="There was none")]
    suggestion = (f"The suggestion was *{escape(match.title)}*: {escape(cut(match.remediation, 300))}" if match
                  else "No known issue matched this error, so nothing was suggested.")
    causes = [Option(value=c[:75], label=c[:75]) for c in runbook.team.root_causes]
    blocks = [
        section(f"*{headline(runbook, incident, token=False)}* is resolved. A note tells whoever meets this error "
                f"next what fixed it (close the form to skip it)."),
        InputBlock(block_id="fix", label="What fixed it?",
                   element=PlainTextInputElement(action_id="fix", multiline=True, max_length=2000)),
        section(suggestion),
        InputBlock(block_id="remediation", label="Was the suggested remediation right?",
                   element=RadioButtonsElement(action_id="remediation", options=verdicts,
                                               initial_option=None if match else verdicts[2])),
    ]
    if causes:
        blocks.append(InputBlock(block_id="category", label="Root cause", optional=True,
                                 element=StaticSelectElement(action_id="category", options=causes)))
    return View(type="modal", callback_id="resolution_note", private_metadata=str(incident.id),
                title="What fixed it?", submit="Save note", close="Skip", blocks=blocks)
