"""`oncall-bot report`: SLA and on-call health over the last weeks, from the store at $DATABASE_URL."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.cli.common import UsageError, instant, load_args, open_store


def cmd_report(args) -> int:
    from bot.config import configured_database_url

    loaded = load_args(args)
    if args.weeks < 1 or args.weeks > 104:
        raise UsageError("--weeks: between 1 and 104")
    end = instant(args.at, loaded)
    start = end - timedelta(weeks=args.weeks)
    url = configured_database_url()
    if not url:
        raise UsageError("report reads the bot's store: set DATABASE_URL (e.g. DATABASE_URL=sqlite:///oncall.db)")
    from bot.domain.report import as_json, build
    from bot.store.report_reads import facts

    store = open_store(url, "no figures")
    if store is None:
        return 1
    try:
        report = build(loaded.runbook, facts(store, loaded.runbook, start, end), start, end)
    finally:
        store.close()
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
