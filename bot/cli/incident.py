"""`oncall-bot incident ID`: an incident's whole story from the store at $DATABASE_URL, for a post-mortem
(bot.domain.timeline), as text, Markdown or JSON. People the store knows by Slack id are shown by
their runbook name where the runbook gives their `slack_id` (or a resolution note names them), else
by the id."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.cli.common import NO_DATABASE, UsageError, load_args, read_store


def cmd_incident(args) -> int:
    from bot.domain.timeline import build, runbook_names

    rb = load_args(args).runbook
    read = _read(args.id)
    names = runbook_names(rb)
    if read.note is not None and read.note.by_name:
        names.setdefault(read.note.by_user, read.note.by_name)
    timeline = build(read.incident, read.events, read.actions, read.posts, read.note, rb.tz,
                     now=datetime.now(UTC), user=lambda user_id: names.get(user_id, user_id))
    if args.json:
        print(json.dumps(as_json(timeline, rb), indent=2, ensure_ascii=False))
    elif args.markdown:
        print(markdown(timeline, rb))
    else:
        print(text(timeline, rb))
    return 0


def _read(incident_id: int):
    """The incident's records from the store; exit 2 (UsageError) without one or for an unknown id."""
    from bot.store.timeline_reads import story

    found = read_store("incident", lambda store: story(store, incident_id), "no incident")
    if found is NO_DATABASE:
        raise UsageError(f"no incident {incident_id}: there is no database at DATABASE_URL")
    if found is None:
        raise UsageError(f"no incident {incident_id} in the store at DATABASE_URL")
    return found


def _name(rb, incident) -> str:
    spec = rb.pipelines.get(incident.pipeline) if incident.known else None
    return spec.name if spec else f"{incident.pipeline_raw} (unknown pipeline)"


def _head(timeline, rb) -> list[tuple[str, str]]:
    """(label, value) facts above the entries."""
    from bot.domain.timeline import when

    incident, tz = timeline.incident, rb.tz
    facts = [("Pipeline", f"{_name(rb, incident)}" + (f" ({incident.pipeline})" if incident.known else "")),
             ("Status", incident.status)]
    if incident.run_id:
        facts.append(("Run", incident.run_id))
    facts.append(("Alerts", str(incident.alert_count)))
    if incident.issue_title:
        facts.append(("Likely cause", incident.issue_title))
    if timeline.sla.deadline is not None:
        facts.append(("Data ready by", f"{when(timeline.sla.deadline, tz)}: {timeline.sla.text}"))
    if timeline.fix.deadline is not None:
        facts.append(("Fix by", f"{when(timeline.fix.deadline, tz)}: {timeline.fix.text}"))
    return facts


def text(timeline, rb) -> str:
    from bot.domain.timeline import when

    tz = rb.tz
    lines = [f"Incident {timeline.incident.id}: {_name(rb, timeline.incident)}"]
    lines += [f"  {label}: {value}" for label, value in _head(timeline, rb)]
    lines.append("")
    shown = [when(e.at, tz) for e in timeline.entries]
    width = max((len(s) for s in shown), default=0)
    lines += [f"{s.ljust(width)}  {e.text}" for s, e in zip(shown, timeline.entries)]
    return "\n".join(lines)


def markdown(timeline, rb) -> str:
    from bot.domain.timeline import when

    tz = rb.tz
    zone = "UTC" if tz.key in ("UTC", "Etc/UTC") else f"{tz.key}, with UTC"
    lines = [f"## Incident {timeline.incident.id}: {_name(rb, timeline.incident)}", ""]
    lines += [f"- **{label}:** {value}" for label, value in _head(timeline, rb)]
    lines += ["", f"### Timeline ({zone})", ""]
    lines += [f"- **{when(e.at, tz)}** {e.text}" for e in timeline.entries]
    return "\n".join(lines)


def as_json(timeline, rb) -> dict:
    from bot.domain import timeline as model
    from bot.domain.timeutil import iso

    incident = timeline.incident
    return {
        "incident": {
            "id": incident.id, "pipeline": incident.pipeline, "name": _name(rb, incident), "known": incident.known,
            "status": incident.status, "run_id": incident.run_id, "alert_count": incident.alert_count,
            "likely_cause": incident.issue_title, "error": incident.error,
            "opened_at": iso(incident.opened_at), "acknowledged_at": iso(incident.acknowledged_at),
            "resolved_at": iso(incident.resolved_at), "data_ready_by": iso(incident.data_ready_by),
            "fix_by": iso(incident.fix_by), "escalation_level": incident.escalation_level,
            "root_id": incident.root_id, "timezone": rb.tz.key,
            "sla": {"outcome": timeline.sla.state, "text": timeline.sla.text},
            "fix_deadline": {"outcome": timeline.fix.state, "text": timeline.fix.text},
        },
        "entries": model.as_json(timeline, rb.tz),
    }
