"""Plain-text descriptions of runbook facts, shared by the CLI and the Slack cards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.runbook.fields import format_duration
from bot.runbook.models import Pipeline, Runbook


def when(runbook: Runbook, at: datetime | None) -> str:
    """An instant in UTC, and in the team zone when that differs."""
    if at is None:
        return "-"
    text = at.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M UTC")
    if runbook.team.timezone != "UTC":
        local = at.astimezone(runbook.tz)
        text += f" ({local:%a %H:%M} {runbook.team.timezone})"
    return text


def span(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    if delta < timedelta(0):
        return f"{format_duration(-delta)} ago"
    return f"in {format_duration(delta)}"


def schedule_text(pipeline: Pipeline) -> str:
    return f"cron `{pipeline.schedule}` (UTC)" if pipeline.schedule else "not given"


def sla_text(pipeline: Pipeline) -> list[str]:
    sla = pipeline.sla
    if not sla:
        return []
    lines = []
    if sla.data_ready_by is not None:
        lines.append(f"Data ready by {sla.data_ready_by:%H:%M} UTC")
    if sla.fix_within is not None:
        # In hours, as runbooks state it ("within 24 hours"): format_duration would say 1d.
        hours, rest = divmod(sla.fix_within, timedelta(hours=1))
        within = f"{hours}h" if not rest else format_duration(sla.fix_within)
        lines.append(f"Fixed within {within} from midnight UTC of the run's day")
    if sla.fix_by == "end_of_month":
        lines.append("Fixed by the end of the month")
    return lines + list(sla.notes)


def policy_text(runbook: Runbook, pipeline: Pipeline) -> list[str]:
    policy = pipeline.on_call
    if policy is None:
        rotation = runbook.default_rotation
        return [f"No policy in the runbook: alerts page whoever is on call in {rotation}" if rotation
                else "No policy and no rotation: alerts are posted unrouted"]
    lines = []
    if policy.page:
        lines.append(f"Pages the on-call person of {policy.rotation} on {', '.join(policy.page)}, any hour")
    hours = runbook.team.work_hours
    lines.append(f"Otherwise the owners are mentioned in work hours ({', '.join(hours.days)} "
                 f"{hours.start:%H:%M}-{hours.end:%H:%M} {runbook.team.timezone})")
    lines.append("Outside work hours: posted quietly, owners pinged when work hours start"
                 if policy.outside_work_hours == "defer" else "Outside work hours: posted quietly, nobody pinged")
    if policy.weekly_check:
        lines.append(f"Weekly check by the owners: {policy.weekly_check.day} {policy.weekly_check.time:%H:%M}")
    if policy.note:
        lines.append(policy.note)
    return lines
