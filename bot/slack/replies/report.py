"""The reply to /oncall report: the same figures as `oncall-bot report`, as Block Kit."""

from __future__ import annotations

from bot.describe_report import people_lines, pipeline_lines
from bot.domain.report import Report
from bot.runbook.models import Runbook
from bot.slack.blocks import Message, bullet_list, context, header, message, section
from bot.slack.text import escape


def report_message(runbook: Runbook, report: Report, weeks: int) -> Message:
    tz = runbook.tz
    span = (f"{report.start.astimezone(tz):%a %d %b %H:%M} to {report.end.astimezone(tz):%a %d %b %H:%M %Z}")
    pipelines = pipeline_lines(report)
    people = people_lines(report)
    blocks = [header(f"On call, the last {weeks} week(s)"), context(escape(span)),
              section("*Pipelines*\n" + (bullet_list([escape(line) for line in pipelines]) or "_nothing happened_")),
              section("*People*\n" + (bullet_list([escape(line) for line in people])
                                      or "_nobody was paged or acknowledged anything_")),
              context(f"Open incidents now: {report.open_incidents} ({report.carried_over} opened before the window) · "
                      f"`oncall-bot report --weeks {weeks} --json` gives the same figures")]
    fallback = f"On call, the last {weeks} week(s): " + "; ".join(pipelines[:5] or ["nothing happened"])
    return message(fallback, blocks)
