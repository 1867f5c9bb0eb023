"""An incident's whole story, for a post-mortem: what came in, what the bot posted, whom it woke,
who acted, and how the deadlines went, as one list of entries in time order.

Pure: the records come in as arguments (duck-typed: the store's Incident, Action, OutboxItem and Note,
and alert events with received_at, occurred_at, source, status and run_id), and so does `now` (for a
deadline still ahead of an open incident). How a Slack user id is shown (`user`) and how stored text
is made safe (`quote`) are the renderer's: the CLI shows runbook names and raw text, Slack mentions
inside an ephemeral answer and escaped text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.timeutil import local_text
from bot.runbook.fields import format_duration

KEEP_REPEATS = 3        # a run of repeats longer than COLLAPSE_AFTER shows its first KEEP_REPEATS alerts...
COLLAPSE_AFTER = 5      # ...and "N more alerts until HH:MM" for the rest
SOURCES = {"sla": "the SLA watch", "generic": "the alert webhook", "alertmanager": "Alertmanager",
           "openlineage": "OpenLineage"}
VERDICTS = {"right": "the suggested remediation was right", "wrong": "the suggested remediation was wrong",
            "none": "there was no suggested remediation"}
ABOUT = {"open": "", "escalation": " (escalation)", "deferred_ping": " (deferred ping)",
         "sla_breach": " (SLA missed)", "fix_chase": " (fix deadline near)", "fix_chase_last": " (fix deadline near)",
         "fix_breach": " (fix deadline missed)"}
POSTS = {
    "open": "Posted the alert in {channel}",
    "repeat": "Thread reply: seen again ({count} alerts)",
    "resolve": "Thread reply: resolved",
    "escalate": "Thread reply: escalation, level {level}",
    "deferred_ping": "Thread reply: its people told, with what happened meanwhile",
    "note": "Thread reply: the resolution note",
    "seen_before": "Thread reply: past incidents with a similar error",
}
# Within one instant: what came in, then what the bot decided, then what people did, then what it posted.
ORDER = ["alert", "folded_into", "folded_under", "unfolded", "repeat", "repeats", "escalate", "deferred_ping",
         "held", "page", "page_folded", "ack", "resolve", "note", "post", "sla", "fix_deadline"]
# Actions said through other entries: the first alert (open), the incident's own fields (ack,
# resolve), the note table (note) and the fix-deadline outcome (fix_breached).
SAID_ELSEWHERE = {"open", "ack", "resolve", "note", "fix_breached"}


@dataclass(frozen=True)
class Entry:
    at: datetime              # UTC
    kind: str
    text: str                 # one line, people and stored text already shown as the renderer asked
    detail: dict[str, Any] = field(default_factory=dict)  # the facts, for --json (raw values, ISO instants)


@dataclass(frozen=True)
class Outcome:
    """How a deadline went. state: met | missed | unknown | in_time | late | open_past | pending | none."""

    state: str
    text: str
    deadline: datetime | None = None


@dataclass(frozen=True)
class Timeline:
    incident: Any
    entries: list[Entry]
    sla: Outcome
    fix: Outcome


# Instants ------------------------------------------------------------------------------------------------

def when(at: datetime, tz: ZoneInfo) -> str:
    """"Tue 01 Dec 02:31 CET (01:31 UTC)"; a team in UTC reads "Tue 01 Dec 01:31 UTC". The UTC day is
    said when it is not the local one."""
    local, utc = at.astimezone(tz), at.astimezone(UTC)
    shown = local_text(at, tz)
    if local.tzname() == "UTC":
        return shown
    day = f"{utc:%a} " if utc.date() != local.date() else ""
    return f"{shown} ({day}{utc:%H:%M} UTC)"


def clock_text(at: datetime, tz: ZoneInfo) -> str:
    """"03:10 CET": the time of day, for a run of alerts that ends the day it began."""
    local = at.astimezone(tz)
    return f"{local:%H:%M} {local.tzname()}"


def duration(value: timedelta) -> str:
    """To the nearest minute: "35m", "19h25m"; "under a minute"."""
    if abs(value) < timedelta(minutes=1):
        return "under a minute"
    return format_duration(timedelta(minutes=round(value.total_seconds() / 60)))


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Deadlines -----------------------------------------------------------------------------------------------

def sla_outcome(incident: Any, now: datetime | None = None) -> Outcome:
    """The data-ready deadline: met, missed by how much (a success report says), unknown (resolved by hand
    or with its upstream: nothing said when the data arrived), or still ahead or passed while open."""
    due = incident.data_ready_by
    if due is None:
        return Outcome("none", "no data-ready deadline")
    if incident.status == "resolved":
        if incident.sla_met is True:
            early = due - incident.resolved_at if incident.resolved_at else None
            return Outcome("met", f"met ({duration(early)} to spare)" if early and early > timedelta(0) else "met",
                           due)
        if incident.sla_met is False:
            return Outcome("missed", f"missed by {duration(incident.resolved_at - due)}", due)
        return Outcome("unknown", "unknown: resolved without a success report", due)
    if now is not None and now >= due:
        return Outcome("open_past", f"missed: still open {duration(now - due)} after it", due)
    return Outcome("pending", "not reached yet", due)


def fix_outcome(incident: Any, now: datetime | None = None) -> Outcome:
    """The fix deadline against the resolution: fixed in time, late by how much, or still open past it."""
    due = incident.fix_by
    if due is None:
        return Outcome("none", "no fix deadline")
    if incident.status == "resolved" and incident.resolved_at is not None:
        if incident.resolved_at <= due:
            return Outcome("in_time", f"fixed in time ({duration(due - incident.resolved_at)} to spare)", due)
        return Outcome("late", f"fixed late by {duration(incident.resolved_at - due)}", due)
    if now is not None and now >= due:
        return Outcome("open_past", f"still open past it (by {duration(now - due)})", due)
    return Outcome("pending", "not reached yet", due)


# The story -----------------------------------------------------------------------------------------------

def _line(text: Any) -> str:
    return " ".join(str(text).split()) if text is not None else ""


def build(incident: Any, events: Iterable[Any], actions: Iterable[Any], posts: Iterable[Any], note: Any | None,
          tz: ZoneInfo, *, now: datetime | None = None, user: Callable[[str], str] = str,
          quote: Callable[[str], str] = lambda text: text) -> Timeline:
    """Every entry of the incident's story, in time order, with repeat storms collapsed.

    `user(slack_id)` shows a person the store knows by Slack id (acknowledged_by, resolved_by, actors);
    `quote(text)` makes stored text (run ids, reasons, notes, names) safe for the renderer."""
    def q(text: Any) -> str:
        return quote(_line(text))

    events = sorted(events, key=lambda e: (e.received_at, getattr(e, "id", 0)))
    actions = sorted(actions, key=lambda a: (a.at, getattr(a, "id", 0)))
    posts = list(posts)
    entries: list[Entry] = []
    opened = next((a for a in actions if a.kind == "open"), None)
    entries += _alerts(incident, events, opened, q)
    if incident.folded_into:
        entries.append(Entry(incident.opened_at, "folded_into",
                             f"Said in the flood summary of {q(incident.pipeline)}, without a message of its own",
                             {"flood": incident.folded_into}))
    pages = [p for p in posts if p.kind == "page"]
    for action in actions:
        if action.kind not in SAID_ELSEWHERE:
            entries.append(_action(action, pages, tz, user, q))
    if incident.acknowledged_at is not None:
        entries.append(Entry(incident.acknowledged_at, "ack", f"Acknowledged by {_who(incident.acknowledged_by, user)}",
                             {"by": incident.acknowledged_by}))
    if incident.status == "resolved" and incident.resolved_at is not None:
        entries.append(_resolution(incident, events, actions, tz, user, q))
    if note is not None:
        by = q(note.by_name) if note.by_name else _who(note.by_user, user)
        verdict = VERDICTS.get(note.remediation, q(note.remediation))
        cause = f"; cause: {q(note.category)}" if note.category else ""
        entries.append(Entry(note.at, "note", f"Resolution note by {by}: {q(note.fix)} ({verdict}{cause})",
                             {"by": note.by_user, "by_name": note.by_name, "fix": note.fix,
                              "remediation": note.remediation, "category": note.category}))
    for post in posts:
        if post.kind != "page" and (entry := _post(post, q)) is not None:
            entries.append(entry)
    sla, fix = sla_outcome(incident, now), fix_outcome(incident, now)
    if sla.deadline is not None:
        entries.append(Entry(sla.deadline, "sla", f"Data-ready deadline (SLA): {sla.text}", {"outcome": sla.state}))
    if fix.deadline is not None:
        entries.append(Entry(fix.deadline, "fix_deadline", f"Fix deadline: {fix.text}", {"outcome": fix.state}))
    rank = {kind: n for n, kind in enumerate(ORDER)}
    ordered = [e for _, _, _, e in sorted((e.at, rank.get(e.kind, len(ORDER)), n, e) for n, e in enumerate(entries))]
    return Timeline(incident, collapse(ordered, tz), sla, fix)


def _who(user_id: str | None, user: Callable[[str], str]) -> str:
    if not user_id:
        return "nobody"
    if user_id == "bot":
        return "the bot"
    if user_id == "alert":
        return "a success report"
    return user(user_id)


def _run(run_id: str | None, q) -> str:
    return f", run {q(run_id)}" if run_id else ""


def _alerts(incident: Any, events: Sequence[Any], opened: Any, q) -> list[Entry]:
    """The first failure and each repeat (a success report is said with the resolution)."""
    failures = [e for e in events if e.status != "succeeded"]
    found = []
    detail = (opened.detail or {}) if opened is not None else {}
    people = ", ".join(q(p) for p in detail.get("people") or [])
    policy = f" Policy: {q(detail['mode'])}{': ' + people if people else ''}." if detail.get("mode") else ""
    if not failures:  # rows from before alert events were kept: the incident's own opening
        return [Entry(incident.opened_at, "alert", f"Opened{_run(incident.run_id, q)}.{policy}",
                      {"run_id": incident.run_id, "mode": detail.get("mode"), "people": detail.get("people")})]
    for n, event in enumerate(failures, start=1):
        source = SOURCES.get(event.source, q(event.source))
        late = event.received_at - event.occurred_at
        occurred = f" (occurred {duration(late)} before)" if late >= timedelta(minutes=1) else ""
        facts = {"source": event.source, "status": event.status, "run_id": event.run_id,
                 "occurred_at": _iso(event.occurred_at), "alert": n}
        if n == 1:
            what = "SLA watch: no success report" if event.source == "sla" else f"First alert from {source}"
            found.append(Entry(event.received_at, "alert", f"{what}{_run(event.run_id, q)}{occurred}.{policy}",
                               facts | {"mode": detail.get("mode"), "people": detail.get("people"),
                                        "reason": detail.get("reason")}))
        else:
            found.append(Entry(event.received_at, "repeat", f"Alert {n} from {source}{_run(event.run_id, q)}{occurred}",
                               facts))
    return found


def _page_outcome(row: Any | None) -> tuple[str, str]:
    """(outcome, words) of a page's direct message, from its outbox row."""
    if row is None:
        return "unknown", "no delivery recorded"
    result = row.result or {}
    if row.state == "sent":
        if "undeliverable" in result:
            return "undeliverable", "undeliverable: Slack does not know them"
        if "not_needed" in result:
            return "not_needed", f"not needed: {result['not_needed']} before it went out"
        return "sent", "direct message sent"
    if row.state == "failed":
        return "failed", "delivery failed"
    return "pending", "not sent yet"


def _action(action: Any, pages: list[Any], tz: ZoneInfo, user: Callable[[str], str], q) -> Entry:
    d = action.detail or {}
    about = ABOUT.get(d.get("kind"), f" ({q(d.get('kind'))})" if d.get("kind") else "")
    people = ", ".join(q(p) for p in d.get("people") or [])
    if action.kind == "page":
        row = next((p for p in pages if (p.args or {}).get("person") == d.get("person")
                    and (p.args or {}).get("kind") == d.get("kind") and p.created_at >= action.at), None)
        if row is not None:
            pages.remove(row)
        outcome, words = _page_outcome(row)
        reason = f": {q(d['reason'])}" if d.get("reason") else ""
        return Entry(action.at, "page", f"Paged {q(d.get('person'))}{about}, {words}{reason}",
                     {"person": d.get("person"), "page": d.get("kind"), "outcome": outcome, "reason": d.get("reason")})
    if action.kind == "page_folded":
        return Entry(action.at, "page_folded", f"{q(d.get('person'))} not paged again{about}: already paged about "
                                               f"another open incident of the pipeline",
                     {"person": d.get("person"), "page": d.get("kind")})
    if action.kind == "held":
        until = datetime.fromisoformat(d["until"]) if d.get("until") else None
        later = f" until {when(until, tz)}" if until else ""
        return Entry(action.at, "held", f"Held{about}{later}: its people may not be told now",
                     {"held": d.get("kind"), "until": _iso(until)})
    if action.kind == "deferred_ping":
        meanwhile = len(d.get("meanwhile") or [])
        also = f", with {meanwhile} thing(s) that happened meanwhile" if meanwhile else ""
        return Entry(action.at, "deferred_ping", f"Deferred ping: {people or 'nobody'} told ({q(d.get('how'))}){also}",
                     {"people": d.get("people"), "how": d.get("how"), "reason": d.get("reason")})
    if action.kind == "escalate":
        by = "by the clock (nobody acknowledged in time)" if action.actor == "bot" else f"by {_who(action.actor, user)}"
        reached = (f": {people} ({q(d.get('how'))})" if people else
                   ": everyone in the chain had been told, nobody else called")
        return Entry(action.at, "escalate", f"Escalated to level {d.get('level')} {by}{reached}",
                     {"level": d.get("level"), "people": d.get("people"), "how": d.get("how"), "by": action.actor,
                      "reason": d.get("reason")})
    if action.kind == "folded_under":
        upstream = f" ({q(d['upstream'])})" if d.get("upstream") else ""
        return Entry(action.at, "folded_under", f"Folded under incident {d.get('root')}{upstream}: said in its thread, "
                                                f"nobody paged", {"root": d.get("root"), "upstream": d.get("upstream")})
    if action.kind == "unfolded":
        policy = f" Policy: {q(d['mode'])}{': ' + people if people else ''}." if d.get("mode") else ""
        return Entry(action.at, "unfolded", f"Unfolded: still failing after incident {d.get('root')} was resolved, "
                                            f"now an incident of its own.{policy}",
                     {"root": d.get("root"), "mode": d.get("mode"), "people": d.get("people")})
    return Entry(action.at, action.kind, q(action.kind.replace("_", " ").capitalize()),
                 {"actor": action.actor, **{k: v for k, v in d.items() if k not in ("at", "kind", "text", "local")}})


def _resolution(incident: Any, events: Sequence[Any], actions: Sequence[Any], tz: ZoneInfo,
                user: Callable[[str], str], q) -> Entry:
    done = next((a for a in reversed(actions) if a.kind == "resolve"), None)
    via = ((done.detail or {}).get("via") if done else None)
    facts = {"by": incident.resolved_by, "via": via, "sla_met": incident.sla_met}
    if incident.resolved_by == "alert":
        success = next((e for e in reversed(events) if e.status == "succeeded"), None)
        source = SOURCES.get(via or (success.source if success else ""), q(via or "an alert"))
        run = _run(success.run_id if success else None, q)
        text = f"Resolved: success reported by {source}{run}"
        if done is not None and done.at - incident.resolved_at >= timedelta(minutes=1):
            text += f" (received {when(done.at, tz)})"
    elif via == "root":
        text = f"Resolved by {_who(incident.resolved_by, user)} with its upstream incident {incident.root_id}" \
            if incident.root_id else f"Resolved by {_who(incident.resolved_by, user)} with its upstream incident"
    else:
        text = f"Resolved by {_who(incident.resolved_by, user)}"
    return Entry(incident.resolved_at, "resolve", text, facts)


def _post(post: Any, q) -> Entry | None:
    """A message the bot posted about the incident; rows that posted nothing (a repeat that said nothing
    new, nothing alike to show, an edit, an incident said in a flood summary) are not in the story."""
    result = post.result or {}
    if post.state != "sent" or post.sent_at is None or not result.get("ts"):
        return None
    args = post.args or {}
    channel = q(result.get("channel") or post.channel or "the alerts channel")
    if post.kind == "open" and result.get("folded_under") is not None:
        text = f"Posted in the thread of incident {result['folded_under']}"
    else:
        template = POSTS.get(post.kind, "Posted ({kind})")
        text = template.format(channel=channel, count=result.get("count") or "more", level=args.get("level"),
                               kind=q(post.kind))
    return Entry(post.sent_at, "post", text, {"post": post.kind, "channel": result.get("channel"),
                                              "ts": result.get("ts")})


def collapse(entries: list[Entry], tz: ZoneInfo) -> list[Entry]:
    """A long run of repeats (thread replies about them may fall in between) keeps its first alerts and
    says the rest in one entry: "12 more alerts until 03:10 CET"."""
    out: list[Entry] = []
    run: list[Entry] = []       # repeats of the current run
    between: list[Entry] = []   # repeat replies within it

    def flush() -> None:
        if len(run) > COLLAPSE_AFTER:
            rest = run[KEEP_REPEATS:]
            last = rest[-1].at
            until = clock_text(last, tz) if last.astimezone(tz).date() == rest[0].at.astimezone(tz).date() \
                else local_text(last, tz)
            folded = Entry(rest[0].at, "repeats", f"{len(rest)} more alerts until {until}",
                           {"count": len(rest), "first": _iso(rest[0].at), "last": _iso(last)})
            out.extend(sorted([*run[:KEEP_REPEATS], folded, *between], key=lambda e: e.at))
        else:
            out.extend(sorted([*run, *between], key=lambda e: e.at))
        run.clear()
        between.clear()

    for entry in entries:
        if entry.kind == "repeat":
            run.append(entry)
        elif run and entry.kind == "post" and entry.detail.get("post") == "repeat":
            between.append(entry)
        else:
            flush()
            out.append(entry)
    flush()
    return out


def runbook_names(runbook: Any) -> dict[str, str]:
    """Slack user id → runbook name, for the people whose runbook entry gives their `slack_id`."""
    return {person.slack_id: name for name, person in runbook.people.items() if person.slack_id}


def as_json(timeline: Timeline, tz: ZoneInfo) -> list[dict[str, Any]]:
    """The entries as --json gives them."""
    return [{"at": _iso(e.at), "local": local_text(e.at, tz), "kind": e.kind, "text": e.text, **e.detail}
            for e in timeline.entries]
