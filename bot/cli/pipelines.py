"""Commands about pipelines: the runbook card, what a failure would do, the paging table."""

from __future__ import annotations

import json
import sys

from bot.cli.common import UsageError, audience_json, instant, load_args, store_dataset_edges, store_overrides


def cmd_runbook(args) -> int:
    from bot.describe import lineage_text, policy_text, schedule_text, sla_text
    from bot.domain.lookup import find_pipeline

    rb = load_args(args).runbook
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
    if lineage := lineage_text(rb, key, [(a, b) for a, b, *_ in store_dataset_edges()]):
        rows.append(("Lineage", lineage))
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

    loaded = load_args(args)
    rb = loaded.runbook
    at = instant(args.at, loaded)
    error = sys.stdin.read() if args.error == "-" else args.error
    # What an alert would do: alerts are machines, so a near miss is another, unknown pipeline.
    key = exact_pipeline(rb, args.name)
    a = assess(rb, key, error, at, store_overrides())
    if args.json:
        match = a.match
        print(json.dumps({
            "pipeline": key or args.name,
            "known": key is not None,
            "matched": {"title": match.title, "remediation": match.remediation, "pattern": match.pattern,
                        "line": match.line, "scope": match.scope} if match else None,
            **audience_json(a.decision),
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
    from bot.cli.policytable import KIND_TITLES, markdown

    if unknown := [k for k in args.kind or [] if k not in KIND_TITLES]:
        raise UsageError(f"unknown message kind {unknown[0]!r}; known: {', '.join(KIND_TITLES)}")
    loaded = load_args(args)
    start = instant(args.start, loaded).astimezone(loaded.runbook.tz).date()
    print(markdown(loaded.runbook, start, args.kind or ["open", "sla_breach", "fix_breach", "escalation"]), end="")
    return 0

