"""`oncall-bot`: the bot's answers offline, and `serve`.

Read-only commands import no Slack or HTTP modules, so they start fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta

from bot.runbook import RunbookError, load
from bot.runbook.loader import Loaded


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


class UsageError(Exception):
    pass


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
    p = command("triage", cmd_triage, "what a failure of NAME would post: matched issue, people, deadlines")
    p.add_argument("name")
    p.add_argument("--error", required=True, help="error text (use - to read it from stdin)")
    p.add_argument("--at", help=at_help)
    p.add_argument("--json", action="store_true")
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
    p = command("serve", cmd_serve, "run the bot: Slack app, alert webhooks, health and metrics")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, help="default: $PORT or 3000")
    p = command("manifest", cmd_manifest, "print the Slack app manifest (YAML)")
    p.add_argument("--url", default="https://YOUR-HOST", help="public base URL of `serve`")
    p.add_argument("--socket-mode", action="store_true", help="Socket Mode: no request URLs")
    return parser


def _load(args) -> Loaded:
    return load(getattr(args, "path", None) or args.runbook)


def _instant(text: str | None, loaded: Loaded) -> datetime:
    from bot.domain.timeutil import parse_instant

    if not text:
        return datetime.now(UTC)
    try:
        return parse_instant(text, loaded.runbook.tz)
    except ValueError:
        raise UsageError(f"not an ISO-8601 instant: {text!r} (e.g. 2026-12-01T02:00Z)") from None


def _open_store(url: str):
    """The bot's store, unmigrated and read here only; None (with a warning) if it is not there."""
    import os

    from sqlalchemy.engine import make_url

    from bot.store.db import Store

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not os.path.exists(parsed.database or ""):
        print(f"warning: no database at {url}; showing the runbook's overrides only", file=sys.stderr)
        return None
    return Store(url, migrate=False)


def _store_overrides() -> list:
    """Swaps and overrides made in Slack, when DATABASE_URL is set (SQLAlchemy is imported only then)."""
    import os

    url = os.environ.get("DATABASE_URL")
    if not url:
        return []
    try:
        store = _open_store(url)
        if store is None:
            return []
        from bot.store.overrides import active_overrides

        try:
            return active_overrides(store)
        finally:
            store.close()
    except Exception as err:  # unreachable or never migrated: answer from the runbook, say so
        print(f"warning: cannot read overrides at DATABASE_URL ({type(err).__name__}); "
              f"showing the runbook's only", file=sys.stderr)
        return []


def cmd_validate(args) -> int:
    loaded = _load(args)
    rb = loaded.runbook
    print(f"{loaded.path}: OK: team {rb.team.name!r}, {len(rb.people)} people, {len(rb.rotations)} rotation(s), "
          f"{len(rb.pipelines)} pipelines, {len(rb.signatures)} team-wide signatures")
    for warning in loaded.warnings:
        print(f"warning: {warning}")
    waiting = [k for k, p in rb.pipelines.items() if p.schedule and p.sla and p.sla.data_ready_by is not None
               and p.sla.watch == "after_first_success"]
    if waiting:  # the file alone cannot say whether they have reported yet: `/healthz` and the handoff can
        print(f"note: the SLA of {', '.join(waiting)} is watched once each has reported a success "
              f"(sla.watch: always watches from the start)")
    unscheduled = [k for k, p in rb.pipelines.items() if not p.schedule and p.sla and p.sla.data_ready_by is not None]
    if unscheduled:
        print(f"note: the SLA of {', '.join(unscheduled)} is not watched: no schedule, so no run to watch")
    return 0


def cmd_schema(args) -> int:
    from bot.runbook.models import Runbook

    print(json.dumps(Runbook.model_json_schema(mode="validation"), indent=2))
    return 0


def _audience_json(d) -> dict:
    """The policy's answer in the words every surface uses: page | notify | quiet | deferred | none."""
    from bot.domain.timeutil import iso

    return {"mode": d.how, "notify": list(d.people), "paged": list(d.paged), "deferred_until": iso(d.until),
            "reason": d.reason}


def cmd_who(args) -> int:
    from bot.domain.timeutil import iso
    from bot.domain.answers import pipeline_decisions, oncall_now

    loaded = _load(args)
    rb = loaded.runbook
    at = _instant(args.at, loaded)
    spans = _store_overrides()
    if args.rotation and args.rotation not in rb.rotations:
        raise UsageError(f"unknown rotation {args.rotation!r}; known: {', '.join(rb.rotations) or 'none'}")
    current = oncall_now(rb, at, spans, args.rotation)
    decisions = pipeline_decisions(rb, at, spans)
    if args.json:
        print(json.dumps({
            "at": iso(at),
            "oncall": {
                "rotation": current.rotation,
                "person": current.shift.person if current.shift else None,
                "since": iso(current.shift.start) if current.shift else None,
                "until": iso(current.shift.end) if current.shift else None,
                "next": current.next.person if current.next else None,
                "next_since": iso(current.next.start) if current.next else None,
                "covering": current.shift.scheduled if current.shift and current.shift.is_override else None,
            },
            "pipelines": {
                key: _audience_json(d) for key, d in decisions.items()
            },
        }, indent=2))
        return 0
    from bot.describe import when
    from bot.domain.calendar import day_kind, local_date

    print(f"At {when(rb, at)} ({day_kind(rb, local_date(rb, at))[:-1]})")
    if current.shift:
        print(f"On call ({current.rotation}): {current.shift.person}"
              + (f" (covering {current.shift.scheduled})" if current.shift.is_override else ""))
        print(f"  since  {when(rb, current.shift.start)}")
        print(f"  until  {when(rb, current.shift.end)}")
    else:
        print(f"On call ({current.rotation}): nobody")
    if current.next:
        print(f"  next   {current.next.person} from {when(rb, current.next.start)}")
    print("\nIf a pipeline failed now:")
    width = max(len(k) for k in decisions)
    for key, d in decisions.items():
        people = ", ".join(d.people) or "-"
        print(f"  {key:<{width}}  {d.how:<8}  {people:<22}  {d.reason}")
    return 0


def cmd_schedule(args) -> int:
    from bot.domain.rotation import Roster
    from bot.domain.timeutil import iso

    loaded = _load(args)
    rb = loaded.runbook
    rotation = args.rotation or rb.default_rotation
    if rotation not in rb.rotations:
        raise UsageError(f"unknown rotation {rotation!r}; known: {', '.join(rb.rotations) or 'none'}")
    start = _instant(args.start, loaded)
    roster = Roster(rb, rotation, _store_overrides())
    shifts = roster.shifts(start, start + timedelta(weeks=args.weeks))
    if args.json:
        print(json.dumps([
            {"start": iso(s.start), "end": iso(s.end), "person": s.person,
             "scheduled": s.scheduled or None, "override": s.is_override}
            for s in shifts], indent=2))
        return 0
    from bot.describe import when

    print(f"Rotation {rotation}: {len(shifts)} shift(s) from {when(rb, start)}")
    for s in shifts:
        note = f"  (override, covering {s.scheduled})" if s.is_override else ""
        print(f"  {when(rb, s.start):<36} -> {when(rb, s.end):<36} {s.person}{note}")
    return 0


def cmd_runbook(args) -> int:
    from bot.describe import policy_text, schedule_text, sla_text
    from bot.domain.lookup import find_pipeline

    rb = _load(args).runbook
    name = " ".join(args.name)
    key = find_pipeline(rb, name)
    if key is None:
        print(f"No pipeline called {name!r}. Known pipelines:", file=sys.stderr)
        for k, p in rb.pipelines.items():
            print(f"  {k:<14} {p.name}", file=sys.stderr)
        return 1
    p = rb.pipelines[key]
    owners = f"{p.owners.primary} (primary), {p.owners.secondary or '-'} (secondary)" if p.owners else "not given"
    rows = [
        ("Description", p.description or "not given"),
        ("Owners", owners),
        ("Schedule", schedule_text(p, rb.clock_zone(key).key)),
        ("Upstream", ", ".join(p.upstream) or "-"),
        ("Downstream", ", ".join(p.downstream) or "-"),
    ]
    print(f"{p.name} ({key})")
    for label, value in rows:
        print(f"  {label:<12} {value}")
    for label, lines in (("SLA", sla_text(p, rb.clock_zone(key).key)), ("On call", policy_text(rb, p))):
        for i, line in enumerate(lines or ["not given"]):
            print(f"  {label if i == 0 else '':<12} {line}")
    print("  Common issues")
    for issue in p.common_issues:
        print(f"    - {issue.title}\n      fix: {issue.remediation}")
    if not p.common_issues:
        print("    none listed; team-wide signatures still apply")
    if missing := p.missing():
        print(f"  INCOMPLETE: the runbook has no {', '.join(missing)} for this pipeline")
    return 0


def cmd_triage(args) -> int:
    from bot.describe import span, when
    from bot.domain.answers import assess
    from bot.domain.lookup import exact_pipeline, find_pipeline
    from bot.domain.timeutil import iso

    loaded = _load(args)
    rb = loaded.runbook
    at = _instant(args.at, loaded)
    error = sys.stdin.read() if args.error == "-" else args.error
    # What an alert would do: alerts are machines, so a near miss is another, unknown pipeline.
    key = exact_pipeline(rb, args.name)
    a = assess(rb, key, error, at, _store_overrides())
    if args.json:
        match = a.match
        print(json.dumps({
            "pipeline": key or args.name,
            "known": key is not None,
            "matched": {"title": match.title, "remediation": match.remediation, "pattern": match.pattern,
                        "line": match.line, "scope": match.scope} if match else None,
            **_audience_json(a.decision),
            "run_at": iso(a.deadlines.run_at),
            "deadlines": {"data_ready_by": iso(a.deadlines.data_ready_by), "fix_by": iso(a.deadlines.fix_by)},
        }, indent=2))
        return 0
    title = rb.pipelines[key].name if key else f"{args.name} (unknown pipeline)"
    print(f"{title} failed at {when(rb, at)}")
    if key is None and (near := find_pipeline(rb, args.name)):
        print(f"  Note         an alert naming {args.name!r} is an unknown pipeline; did you mean {near!r}?")
    if a.match:
        print(f"  Matched      {a.match.title}  [{a.match.scope} pattern {a.match.pattern!r}]")
        print(f"  Line {a.match.line_number:<7} {a.match.line[:160]}")
        print(f"  Remediation  {a.match.remediation}")
    else:
        print(f"  Matched      no known issue matched; see `oncall-bot runbook {key or args.name}`")
    later = f" at {when(rb, a.decision.until)}" if a.decision.until else ""
    print(f"  Notify       {a.decision.how}: {', '.join(a.decision.people) or 'nobody'}{later}")
    print(f"               {a.decision.reason}")
    left = a.deadlines.left(at)
    print(f"  Data ready   {when(rb, a.deadlines.data_ready_by)}  ({span(left['data_ready_by'])})")
    print(f"  Fix by       {when(rb, a.deadlines.fix_by)}  ({span(left['fix_by'])})")
    return 0


def cmd_policy(args) -> int:
    from bot.policytable import KIND_TITLES, markdown

    if unknown := [k for k in args.kind or [] if k not in KIND_TITLES]:
        raise UsageError(f"unknown message kind {unknown[0]!r}; known: {', '.join(KIND_TITLES)}")
    loaded = _load(args)
    start = _instant(args.start, loaded).astimezone(loaded.runbook.tz).date()
    print(markdown(loaded.runbook, start, args.kind or ["open", "sla_breach", "fix_breach", "escalation"]), end="")
    return 0


def cmd_overrides(args) -> int:
    from bot.domain.rotation import runbook_overrides
    from bot.domain.timeutil import iso
    from bot.store.engine import database_url

    rb = _load(args).runbook
    from_yaml = [{"id": o.id, "rotation": o.rotation, "person": o.person, "start": iso(o.start), "end": iso(o.end),
                  "note": o.note} for o in runbook_overrides(rb)]
    records, requests = [], []
    store = _open_store(database_url())
    if store is not None:
        from bot.store import swaps

        try:
            records, requests = swaps.override_records(store), swaps.listing(store)
        finally:
            store.close()
    stored = [{"id": r.id, "rotation": r.rotation, "person": r.person, "start": iso(r.start_at), "end": iso(r.end_at),
               "note": r.note, "created_by": r.created_by, "created_by_name": r.created_by_name,
               "created_at": iso(r.created_at), "cancelled_by": r.cancelled_by,
               "cancelled_by_name": r.cancelled_by_name, "cancelled_at": iso(r.cancelled_at), "swap_id": r.swap_id}
              for r in records]
    asked = [{"id": q.id, "rotation": q.rotation, "requester": q.requester, "requester_id": q.requester_id,
              "start": iso(q.start_at), "end": iso(q.end_at), "note": q.note, "state": q.state,
              "created_at": iso(q.created_at), "accepted_by": q.accepted_by, "accepted_by_id": q.accepted_by_id,
              "accepted_at": iso(q.accepted_at), "cancelled_by": q.cancelled_by, "cancelled_at": iso(q.cancelled_at),
              "expired_at": iso(q.expired_at)} for q in requests]
    if args.json:
        print(json.dumps({"runbook": from_yaml, "overrides": stored, "swap_requests": asked}, indent=2))
        return 0
    print("Overrides (where they overlap, the most recent wins; store ones beat runbook ones)")
    for o in from_yaml:
        print(f"  {o['id']:<10} {o['person']:<10} {o['start']} -> {o['end']}  runbook.yaml {o['note']}")
    for o in stored:
        state = f"cancelled by {o['cancelled_by_name'] or o['cancelled_by']} at {o['cancelled_at']}" \
            if o["cancelled_at"] else "active"
        swap = f" (swap #{o['swap_id']})" if o["swap_id"] else ""
        print(f"  #{o['id']:<9} {o['person']:<10} {o['start']} -> {o['end']}  set by "
              f"{o['created_by_name'] or o['created_by']} at {o['created_at']}{swap}; {state} {o['note']}")
    print("Cover requests")
    for q in asked:
        taken = f" by {q['accepted_by']} at {q['accepted_at']}" if q["accepted_by"] else ""
        print(f"  #{q['id']:<9} {q['requester']:<10} {q['start']} -> {q['end']}  asked {q['created_at']}: "
              f"{q['state']}{taken}")
    if not (from_yaml or stored or asked):
        print("  none")
    return 0


def cmd_ics(args) -> int:
    from bot.domain.ics import calendar

    loaded = _load(args)
    now = datetime.now(UTC)
    start = _instant(args.start, loaded) if args.start else now
    sys.stdout.write(calendar(loaded.runbook, start, weeks=args.weeks, stamp=now,
                              overrides=_store_overrides()).decode())
    return 0


def cmd_serve(args) -> int:
    from bot.serve import serve

    return serve(runbook=args.runbook, host=args.host, port=args.port)


def cmd_manifest(args) -> int:
    from bot.slack.manifest import manifest_yaml

    rb = _load(args).runbook
    sys.stdout.write(manifest_yaml(rb.team.name, args.url, socket_mode=args.socket_mode))
    return 0


def cmd_alert(args) -> int:
    import os
    import urllib.error
    import urllib.request

    base = args.url or f"http://127.0.0.1:{os.environ.get('PORT') or 3000}"
    payload = {"pipeline": args.pipeline, "status": args.status,
               "error": sys.stdin.read() if args.error == "-" else args.error,
               "run_id": args.run_id, "log_url": args.log_url}
    body = json.dumps({k: v for k, v in payload.items() if v}).encode()
    request = urllib.request.Request(base.rstrip("/") + "/alerts", data=body, method="POST",
                                     headers={"content-type": "application/json"})
    token = args.token or os.environ.get("ALERTS_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(f"{response.status}: {response.read().decode()}")
            return 0
    except urllib.error.HTTPError as err:
        print(f"{err.code}: {err.read().decode()}", file=sys.stderr)
        return 1
    except urllib.error.URLError as err:
        print(f"cannot reach the bot at {base}: {err.reason}", file=sys.stderr)
        return 1
