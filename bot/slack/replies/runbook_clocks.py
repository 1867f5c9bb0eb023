"""Messages of the runbook's clocks: SLA breaches, fix-deadline chases, weekly checks, month end.

Pure builders: each mentions exactly whom its policy decision (`audience`) mentions, and says why
when that is nobody. The weekly check carries the Checked button (action `weekly_check`) whose value
names the pipeline and the check's occurrence, so a click is recorded against the right week.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.domain.policy import Audience
from bot.domain.notices import instant
from bot.domain.timeutil import iso, utc_text
from bot.runbook.fields import format_duration
from bot.runbook.models import Pipeline, Runbook
from bot.slack.blocks import Message, bullet_list, context, header, message, section
from bot.slack.replies.scheduled import incident_lines
from bot.slack.text import date_token, escape, user_mention
from bot.store.records import Incident

CHECK_ACTION = "weekly_check"
SUMMARY_LINES = 15  # a section holds 3,000 characters


def _who(people, audience: Audience) -> str:
    return " ".join(people.mention(n) for n in audience.mentioned)


def _why(audience: Audience) -> list:
    """The decision's reason, where the message mentions nobody: a quiet post says why it is quiet."""
    return [] if audience.mentioned else [context(f"Nobody is mentioned: {escape(audience.reason)}")]


def _name(runbook: Runbook, pipeline: str) -> str:
    spec = runbook.pipelines.get(pipeline)
    return spec.name if spec else pipeline


def sla_breach_reply(people, spec: Pipeline, deadline: datetime, audience: Audience) -> Message:
    tell = ", ".join(escape(t) for t in spec.downstream) or "nobody listed"
    blocks = [section(f":hourglass: *SLA missed*: {escape(spec.name)} data was due {date_token(deadline)} "
                      f"and is not ready. {_who(people, audience)}"),
              context(f"Tell the downstream teams: {tell}"), *_why(audience)]
    return message(f"SLA missed: {spec.name} data was due {utc_text(deadline)}; tell {tell}", blocks)


def sla_late(spec: Pipeline, deadline: datetime, arrived: datetime) -> Message:
    """A breach seen only after the data arrived (the bot was down at the deadline): said, not paged."""
    late = format_duration(arrived - deadline)
    tell = ", ".join(escape(t) for t in spec.downstream) or "nobody listed"
    blocks = [section(f":hourglass: *SLA missed*: {escape(spec.name)} data was due {date_token(deadline)} and "
                      f"arrived {date_token(arrived)}, {late} late. It is ready now; nobody is paged."),
              context(f"Downstream teams that may have noticed: {tell}")]
    return message(f"SLA missed: {spec.name} data arrived {late} late (due {utc_text(deadline)})", blocks)


def fix_chase(runbook: Runbook, people, incident: Incident, audience: Audience) -> Message:
    blocks = [section(f":alarm_clock: Fix deadline {date_token(incident.fix_by)} is near and "
                      f"{escape(_name(runbook, incident.pipeline))} #{incident.id} is still {incident.status}. "
                      f"{_who(people, audience)}"), *_why(audience)]
    return message(f"Fix deadline {utc_text(incident.fix_by)} is near: {_name(runbook, incident.pipeline)} "
                   f"#{incident.id} is still {incident.status}", blocks)


def fix_breach(runbook: Runbook, people, incident: Incident, audience: Audience) -> Message:
    blocks = [section(f":red_circle: *Fix deadline missed*: {escape(_name(runbook, incident.pipeline))} "
                      f"#{incident.id} was due to be fixed by {date_token(incident.fix_by)}. {_who(people, audience)}"),
              *_why(audience)]
    return message(f"Fix deadline missed: {_name(runbook, incident.pipeline)} #{incident.id} "
                   f"was due {utc_text(incident.fix_by)}", blocks)


def missed_summary(runbook: Runbook, items: list[dict], incidents: dict[int, Incident], seen: datetime,
                   audience: Audience) -> Message:
    """What fell due while the bot was not running, in one message that mentions nobody: it is history
    by now, and whatever still needs doing has its own thread."""

    def lines(at) -> list[str]:
        said, unreported = [], {}
        for item in items:
            deadline = instant(item["deadline"])
            if item["what"] == "sla":
                name, run = escape(_name(runbook, item["pipeline"])), at(instant(item["run"]))
                if arrived := instant(item.get("arrived")):
                    said.append(f"{name}: data of the run of {run} was due {at(deadline)} and arrived {at(arrived)}, "
                                f"{format_duration(arrived - deadline)} late")
                else:
                    unreported.setdefault(name, []).append((run, at(deadline)))
            elif incident := incidents.get(item["incident"]):
                said.append(f"{escape(_name(runbook, incident.pipeline))} #{incident.id}: fix deadline {at(deadline)} "
                            f"missed; it is {incident.status} (see its thread)")
        for name, runs in unreported.items():  # one line per pipeline: a week away is not seven lines
            if len(runs) == 1:
                said.append(f"{name}: no success report for the run of {runs[0][0]} by {runs[0][1]}")
            else:
                said.append(f"{name}: no success report for {len(runs)} runs, from the run of {runs[0][0]} "
                            f"to the run of {runs[-1][0]}, each by its data-ready time")
        return said

    shown = lines(date_token)
    more = f"\n…and {len(shown) - SUMMARY_LINES} more" if len(shown) > SUMMARY_LINES else ""
    blocks = [section(f":zzz: *While the bot was not running* (until {date_token(seen)}), these fell due. "
                      f"Nobody is paged for them now that they are past."),
              section(bullet_list(shown[:SUMMARY_LINES]) + more), *_why(audience)]
    return message("While the bot was not running: " + "; ".join(lines(utc_text)[:SUMMARY_LINES]), blocks)


def flood_summary(runbook: Runbook, pipeline: str, count: int, since: datetime, until: datetime,
                  audience: Audience) -> Message:
    """Many more incidents of one pipeline in a minute than a channel can read one by one."""
    name = escape(_name(runbook, pipeline))
    blocks = [section(f":ocean: *{count} more incidents of {name}* opened between {date_token(since)} and "
                      f"{date_token(until)}, each a distinct run or dedup key. They are recorded like any "
                      f"incident, and said here in one message rather than {count} posts; the first of the "
                      f"minute have their own threads. A success report resolves each."), *_why(audience)]
    return message(f"{count} more incidents of {_name(runbook, pipeline)} between {utc_text(since)} and {utc_text(until)}",
                   blocks)


def month_end(runbook: Runbook, people, pipeline: str, month_end_at: datetime, incidents: list[Incident],
              audience: Audience) -> Message:
    spec = runbook.pipelines.get(pipeline)
    who = _who(people, audience)
    why = "".join(f" {escape(note)}" for note in (spec.sla.notes if spec and spec.sla else []))
    month = f"{(month_end_at - timedelta(seconds=1)).astimezone(runbook.tz):%B %Y}"  # the month that ends
    blocks = [header(f"End of {month}: {_name(runbook, pipeline)}"),
              section(f"{who + ': ' if who else ''}These incidents must be fixed before {month} ends "
                      f"({date_token(month_end_at)}).{why}\n" + bullet_list(incident_lines(runbook, incidents))),
              *_why(audience)]
    return message(f"End of {month}: {len(incidents)} open {_name(runbook, pipeline)} incident(s) to fix "
                   f"by {utc_text(month_end_at)}", blocks)


def check_value(pipeline: str, due: datetime) -> str:
    return json.dumps({"pipeline": pipeline, "due": iso(due)}, separators=(",", ":"))


def _button(pipeline: str, due: datetime) -> ActionsBlock:
    return ActionsBlock(block_id="weekly_check", elements=[ButtonElement(
        text="Checked", action_id=CHECK_ACTION, value=check_value(pipeline, due), style="primary")])


def weekly_check(runbook: Runbook, people, pipeline: str, due: datetime, incidents: list[Incident],
                 audience: Audience) -> Message:
    spec = runbook.pipelines[pipeline]
    who = _who(people, audience) or "Team"
    mine = [i for i in incidents if i.pipeline == pipeline]
    blocks = [header(f"Weekly check: {spec.name}"),
              section(f"{who}, please check *{escape(spec.name)}* this week: nobody is on call for it. "
                      f"Click *Checked* when done."
                      + (f"\nOpen incidents:\n{bullet_list(incident_lines(runbook, mine))}" if mine else "")),
              _button(pipeline, due),
              context(f"Week of {date_token(due, '{date_short_pretty}')}")]
    return message(f"Weekly check of {spec.name}: please check the pipeline", blocks)


def check_reminder(runbook: Runbook, people, pipeline: str, due: datetime, audience: Audience) -> Message:
    spec = runbook.pipelines[pipeline]
    who = _who(people, audience) or "Team"
    blocks = [section(f"{who}, *{escape(spec.name)}* has not been checked yet this week."),
              _button(pipeline, due)]
    return message(f"Reminder: {spec.name} has not been checked this week", blocks)


def checked(runbook: Runbook, pipeline: str, due: datetime, user_id: str, at: datetime) -> Message:
    """The check message once confirmed: the button gives way to who and when."""
    name = _name(runbook, pipeline)
    blocks = [header(f"Weekly check: {name}"),
              section(f":white_check_mark: Checked by {user_mention(user_id)} {date_token(at)}."),
              context(f"Week of {date_token(due, '{date_short_pretty}')}")]
    return message(f"Weekly check of {name}: checked at {utc_text(at)}", blocks)


def usergroup_failed(usergroup: str, person: str, reason: str) -> Message:
    text = (f"Could not point the user group <!subteam^{usergroup}> at {escape(person)}: {escape(reason)}. "
            f"It still lists the previous on-call person.")
    return message(f"Could not update the on-call user group: {escape(reason)}", [section(text)])
