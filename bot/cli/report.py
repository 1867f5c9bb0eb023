"""`oncall-bot report`: SLA and on-call health over the last weeks, from the store at $DATABASE_URL."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.cli.common import NO_DATABASE, UsageError, instant, load_args, read_store


def cmd_report(args) -> int:
    loaded = load_args(args)
    if args.weeks < 1 or args.weeks > 104:
        raise UsageError("--weeks: between 1 and 104")
    end = instant(args.at, loaded)
    start = end - timedelta(weeks=args.weeks)
    from bot.domain.report import as_json, build
    from bot.store.report_reads import facts

    found = read_store("report", lambda store: facts(store, loaded.runbook, start, end), "no figures")
    if found is NO_DATABASE:
        return 1
    report = build(loaded.runbook, found, start, end)
    if args.json:
        print(json.dumps(as_json(report), indent=2))
        return 0
    from bot.describe_report import people_lines, pipeline_lines

    tz = loaded.runbook.tz
    print(f"{loaded.runbook.team.name}: {start.astimezone(tz):%a %d %b %Y %H:%M} to "
          f"{end.astimezone(tz):%a %d %b %Y %H:%M %Z} ({args.weeks} week(s))")
    print("\nPipelines")
    for line in pipeline_lines(report) or ["nothing happened"]:
        print(f"  {line}")
    print("\nPeople")
    for line in people_lines(report) or ["nobody was paged or acknowledged anything"]:
        print(f"  {line}")
    print(f"\nOpen incidents now: {report.open_incidents} ({report.carried_over} opened before the window)")
    return 0
