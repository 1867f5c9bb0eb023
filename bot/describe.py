"""Plain-text descriptions of runbook facts, shared by the CLI and the Slack cards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.deadlines import runs_more_than_daily
from bot.domain.lineage import lineage_of
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


_DAYS = {"0": "Sundays", "1": "Mondays", "2": "Tuesdays", "3": "Wednesdays", "4": "Thursdays", "5": "Fridays",
         "6": "Saturdays", "7": "Sundays", "sun": "Sundays", "mon": "Mondays", "tue": "Tuesdays",
         "wed": "Wednesdays", "thu": "Thursdays", "fri": "Fridays", "sat": "Saturdays"}


def schedule_text(pipeline: Pipeline, zone: str) -> str:
    """The cron schedule in words where it is a common one ("daily at 01:00 UTC", "Mondays at 01:00
    Europe/Berlin"), else the cron itself: a wrong sentence would be worse than none."""
    if not pipeline.schedule:
        return "not given"
    minute, hour, day, month, weekday = pipeline.schedule.split()
    raw = f"cron `{pipeline.schedule}` ({zone})"
    if not (minute.isdigit() and hour.isdigit()) or month != "*":
        return raw
    at = f"at {int(hour):02d}:{int(minute):02d} {zone}"
    if day == "*" and weekday == "*":
        return f"daily {at}"
    if day == "*" and all(d.lower() in _DAYS for d in weekday.split(",")):
        return f"{' and '.join(_DAYS[d.lower()] for d in weekday.split(','))} {at}"
    if weekday == "*" and day.isdigit():
        return f"on day {int(day)} of each month {at}"
    return raw


def sla_text(pipeline: Pipeline, zone: str) -> list[str]:
    sla = pipeline.sla
    if not sla:
        return []
    lines = []
    if sla.data_ready_by is not None:
        watched = " (watched once the pipeline has reported a success)" if sla.watch == "after_first_success" else ""
        lines.append(f"Data ready by {sla.data_ready_by:%H:%M} {zone}{watched}")
    if sla.fix_within is not None:
        # In hours, as runbooks state it ("within 24 hours"): format_duration would say 1d.
        hours, rest = divmod(sla.fix_within, timedelta(hours=1))
        within = f"{hours}h" if not rest else format_duration(sla.fix_within)
        counted = ("from the run's scheduled start" if pipeline.schedule and runs_more_than_daily(pipeline.schedule)
                   else f"from midnight {zone} of the run's day")
        lines.append(f"Fixed within {within} {counted}")
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
    lead = "On other days the owners are" if policy.page else "The owners are"
    lines.append(f"{lead} mentioned in work hours ({', '.join(hours.days)} "
                 f"{hours.start:%H:%M}-{hours.end:%H:%M} {runbook.team.timezone})")
    if policy.outside_work_hours == "quiet":
        lines.append("Outside work hours: posted quietly, nobody told")
    elif policy.page:
        lines.append("On other days outside work hours: posted quietly, told when paging or work hours resume")
    else:
        lines.append("Outside work hours: posted quietly, the owners told when work hours start")
    if policy.if_deferral_misses_fix_by != "defer":
        how = "mentioned" if policy.if_deferral_misses_fix_by == "notify_oncall" else "paged"
        lines.append(f"When waiting would pass the fix deadline, the on-call person is {how} at once")
    if policy.weekly_check:
        lines.append(f"Weekly check by the owners: {policy.weekly_check.day} {policy.weekly_check.time:%H:%M}")
    if policy.note:
        lines.append(policy.note)
    return lines


def lineage_text(runbook: Runbook, key: str, seen=()) -> str | None:
    """"Upstream pipelines: …; feeds: …" from the runbook's depends_on and the `seen` (writer, reader)
    pairs of OpenLineage datasets, or None when the pipeline has neither."""
    graph = lineage_of(runbook, seen)
    upstream, feeds = graph.upstream(key), graph.feeds(key)
    if not (upstream or feeds):
        return None

    def named(keys: list[str]) -> str:
        return ", ".join(f"{runbook.pipelines[k].name} ({k})" for k in keys) or "-"

    return f"Upstream pipelines: {named(upstream)}; feeds: {named(feeds)}"
