"""`oncall-bot`: the bot's answers offline, and `serve`.

Read-only commands import no Slack or HTTP modules, so they start fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from bot.cli.admin import cmd_alert, cmd_manifest, cmd_schema, cmd_serve, cmd_validate
from bot.cli.common import StoreError, UsageError
from bot.cli.incident import cmd_incident
from bot.cli.lineage import cmd_lineage
from bot.cli.pipelines import cmd_policy, cmd_runbook, cmd_triage
from bot.cli.report import cmd_report
from bot.cli.rota import cmd_ics, cmd_overrides, cmd_schedule, cmd_who
from bot.cli.suggest import cmd_suggest
from bot.runbook import RunbookError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except BrokenPipeError:
        # `oncall-bot who --json | head`: the reader has gone; say nothing more, as `cat` would not.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a process the pipe closed
    except RunbookError as err:
        print(f"runbook has {len(err.problems)} error(s):", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except UsageError as err:
        print(f"oncall-bot: {err}", file=sys.stderr)
        return 2
    except StoreError as err:
        print(f"oncall-bot: {err}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oncall-bot", description="Runbook-driven on-call for data pipelines.")
    parser.add_argument("--runbook", metavar="PATH", help="runbook file (default: $RUNBOOKS_PATH or ./runbooks.yaml)")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = command("validate", cmd_validate, "check the runbook; exit 1 with every error found")
    p.add_argument("path", nargs="?")
    command("schema", cmd_schema, "print the JSON Schema of the runbook file")
    at_help = "ISO-8601 instant (default now); without an offset it is in the team zone"
    p = command("who", cmd_who, "who is on call, and who each pipeline's failure would notify")
    p.add_argument("--at", help=at_help)
    p.add_argument("--rotation", help="rotation key (default: the team's default rotation)")
    p.add_argument("--json", action="store_true")
    p = command("schedule", cmd_schedule, "the coming shifts, overrides applied")
    p.add_argument("--weeks", type=int, default=8)
    p.add_argument("--from", dest="start", help="date or instant to start from (default now)")
    p.add_argument("--rotation", help="rotation key (default: the team's default rotation)")
    p.add_argument("--json", action="store_true")
    p = command("runbook", cmd_runbook, "a pipeline's runbook card")
    p.add_argument("name", nargs="+")
    p = command("lineage", cmd_lineage, "which pipeline's data feeds which: the runbook's depends_on, and "
                "the OpenLineage datasets the store at $DATABASE_URL has seen")
    p.add_argument("--json", action="store_true")
    p = command("triage", cmd_triage, "what a failure of NAME would post: matched issue, people, deadlines")
    p.add_argument("name")
    p.add_argument("--error", required=True, help="error text (use - to read it from stdin)")
    p.add_argument("--at", help=at_help)
    p.add_argument("--json", action="store_true")
    p = command("suggest", cmd_suggest, "the runbook learns: recurring errors no common issue matched, each with "
                "a proposed common_issues entry, and remediations marked wrong (the store at $DATABASE_URL)")
    p.add_argument("--since", help="how far back: a duration (default 90d) or a date")
    p.add_argument("--at", help=at_help + "; the window ends here")
    p.add_argument("--json", action="store_true")
    p.add_argument("--apply", metavar="PIPELINE", help="append the most frequent suggestion involving PIPELINE "
                   "to its common_issues in the runbook file (comments kept), then validate it")
    p = command("incident", cmd_incident, "an incident's whole story for a post-mortem: alerts, posts, pages, "
                "acknowledgement, escalations, resolution, note and deadlines (the store at $DATABASE_URL)")
    p.add_argument("id", type=int, metavar="ID")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--markdown", action="store_true")
    form.add_argument("--json", action="store_true")
    p = command("overrides", cmd_overrides, "swaps and overrides made in Slack, with who and when "
                "(the store at $DATABASE_URL), and the runbook's own")
    p.add_argument("--json", action="store_true")
    p = command("ics", cmd_ics, "iCalendar of the coming shifts")
    p.add_argument("--weeks", type=int, default=12)
    p.add_argument("--from", dest="start", help="date or instant the calendar is centred on (default now)")
    p = command("alert", cmd_alert, "send a test alert to a running bot's webhook")
    p.add_argument("pipeline")
    p.add_argument("--error", default="", help="error text (use - to read it from stdin)")
    p.add_argument("--status", choices=["failed", "succeeded"], default="failed")
    p.add_argument("--run-id")
    p.add_argument("--log-url")
    p.add_argument("--url", default=None, help="bot base URL (default http://127.0.0.1:$PORT)")
    p.add_argument("--token", help="bearer token (default $ALERTS_TOKEN)")
    p = command("policy", cmd_policy, "who hears what, when: the runbook's paging rules as a Markdown table")
    p.add_argument("--table", action="store_true", help="the table (the only form, for now)")
    p.add_argument("--from", dest="start", help="first day to look for each situation (default today)")
    p.add_argument("--kind", action="append", help="message kind, e.g. fix_breach (repeatable; default: "
                   "first alert, SLA missed, fix deadline missed, escalation)")
    p = command("report", cmd_report, "SLA and on-call health over the last weeks (the store at $DATABASE_URL)")
    p.add_argument("--weeks", type=int, default=4)
    p.add_argument("--at", help="the report's end instant (default now)")
    p.add_argument("--json", action="store_true")
    p = command("serve", cmd_serve, "run the bot: Slack app, alert webhooks, health and metrics")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, help="default: $PORT or 3000")
    p = command("manifest", cmd_manifest, "print the Slack app manifest (YAML)")
    p.add_argument("--url", default="https://YOUR-HOST", help="public base URL of `serve`")
    p.add_argument("--socket-mode", action="store_true", help="Socket Mode: no request URLs")
    return parser

