"""Commands about the rotation: who is on call, the schedule, the calendar, the overrides."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

from bot.cli.common import UsageError, audience_json, instant, load_args, open_store, store_overrides


def cmd_who(args) -> int:
    from bot.domain.timeutil import iso
    from bot.domain.answers import pipeline_decisions, oncall_now

    loaded = load_args(args)
    rb = loaded.runbook
    at = instant(args.at, loaded)
    spans = store_overrides()
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
                key: audience_json(d) for key, d in decisions.items()
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

    loaded = load_args(args)
    rb = loaded.runbook
    rotation = args.rotation or rb.default_rotation
    if rotation not in rb.rotations:
        raise UsageError(f"unknown rotation {rotation!r}; known: {', '.join(rb.rotations) or 'none'}")
    start = instant(args.start, loaded)
    roster = Roster(rb, rotation, store_overrides())
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


def cmd_ics(args) -> int:
    from bot.domain.ics import calendar

    loaded = load_args(args)
    now = datetime.now(UTC)
    start = instant(args.start, loaded) if args.start else now
    sys.stdout.write(calendar(loaded.runbook, start, weeks=args.weeks, stamp=now,
                              overrides=store_overrides()).decode())
    return 0


def cmd_overrides(args) -> int:
    from bot.domain.rotation import runbook_overrides
    from bot.domain.timeutil import iso
    from bot.config import database_url

    rb = load_args(args).runbook
    from_yaml = [{"id": o.id, "rotation": o.rotation, "person": o.person, "start": iso(o.start), "end": iso(o.end),
                  "note": o.note} for o in runbook_overrides(rb)]
    records, requests = [], []
    store = open_store(database_url())
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

