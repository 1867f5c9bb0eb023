"""A report's figures as lines of text: shared by `oncall-bot report`, `/oncall report` and the handoff."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.report import LATE, MISSED, ON_TIME, Report, Spread
from bot.runbook.fields import format_duration


def took(spread: Spread) -> str:
    if not spread.count:
        return "-"
    return f"median {_short(spread.median)}, p90 {_short(spread.p90)} (n={spread.count})"


def _short(value: timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = round(value.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600 and seconds % 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return format_duration(timedelta(minutes=round(seconds / 60)))


def sla_line(f) -> str:
    if not f.runs:
        return "no runs watched"
    line = f"{f.count(ON_TIME)}/{len(f.runs)} on time"
    if f.count(LATE):
        worst = max(run.late_by for run in f.runs if run.late_by is not None)
        line += f", {f.count(LATE)} late (median {_short(f.late_by.median)}, worst {_short(worst)})"
    if f.count(MISSED):
        line += f", {f.count(MISSED)} missed"
    return line


def pipeline_lines(report: Report) -> list[str]:
    lines = []
    for f in report.pipelines:
        if not (f.runs or f.incidents or f.pages):
            continue
        parts = [f"SLA {sla_line(f)}" if f.runs else "no SLA runs watched", f"{f.incidents} incident(s)"]
        if f.incidents:
            parts += [f"acknowledged {took(f.acknowledge)}", f"resolved {took(f.resolve)}"]
        if f.fix_met or f.fix_missed:
            parts.append(f"fix deadlines {f.fix_met} met, {f.fix_missed} missed")
        if f.pages:
            parts.append(f"{f.pages} page(s), {f.pages_outside_hours} outside work hours")
        if f.escalations:
            parts.append(f"{f.escalations} escalation(s)")
        if f.folded or f.repeats:
            parts.append(f"{f.folded} folded, {f.repeats} repeat alert(s) deduplicated")
        lines.append(f"{f.name}: " + "; ".join(parts))
    return lines


def people_lines(report: Report) -> list[str]:
    return [f"{p.name}: {p.pages} page(s), {p.pages_outside_hours} outside work hours, "
            f"{p.nights_woken} night(s) woken; acknowledged {p.acknowledged} ({took(p.acknowledge)}), "
            f"resolved {p.resolved}" for p in report.people]


def week_summary(report: Report) -> list[str]:
    """The handoff's compact section: SLA per pipeline, pages, nights woken, open and carried-over."""
    def short(f) -> str:
        misses = [f"{n} {word}" for n, word in ((f.count(LATE), "late"), (f.count(MISSED), "missed")) if n]
        return f"{f.name} {f.count(ON_TIME)}/{len(f.runs)}" + (f" ({', '.join(misses)})" if misses else "")

    sla = [short(f) for f in report.pipelines if f.runs]
    pages = sum(p.pages for p in report.people)
    woken = [f"{p.name} {p.nights_woken}" for p in report.people if p.nights_woken]
    lines = [f"SLA met: {', '.join(sla)}" if sla else "SLA met: no runs watched",
             f"Pages: {pages}" + (f"; nights woken: {', '.join(woken)}" if woken else "; nobody woken at night"),
             f"Open incidents: {report.open_incidents}" + (f" ({report.carried_over} from before last week)"
                                                           if report.carried_over else "")]
    return lines
