"""Messages of the rotation's clocks: the weekly handoff, transition meeting and shift reminders.

Pure builders (no Slack calls): people come in already resolved, times go out as Slack date tokens.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.calendar import day_kind, holiday_name
from bot.domain.rotation import Shift
from bot.domain.timeutil import utc_text
from bot.domain.policy import owners_of
from bot.report_chart import INSTALL, WEEKS
from bot.runbook.fields import format_duration
from bot.runbook.models import Runbook
from bot.slack.blocks import Message, bullet_list, context, header, message, section
from bot.slack.text import date_token, escape
from bot.store.records import Incident

DAY_WORDS = {"weekdays": "working day", "weekends": "weekend", "holidays": "holiday"}


def paging_pipelines(runbook: Runbook, rotation: str, kind: str) -> list[str]:
    return [p.name for p in runbook.pipelines.values()
            if p.on_call and p.on_call.rotation == rotation and kind in p.on_call.page]


def week_lines(runbook: Runbook, people, rotation: str, start: datetime, shifts: list[Shift]) -> list[str]:
    """One line a day for the 7 days from `start`: who is on call, what kind of day, which pipelines page."""
    tz = runbook.tz
    first = start.astimezone(tz).date()
    lines = []
    for offset in range(7):
        day = first + timedelta(days=offset)
        lo = datetime.combine(day, datetime.min.time(), tz)
        hi = lo + timedelta(days=1)
        names = []
        for s in shifts:
            if s.start < hi and s.end > lo and s.person not in names:
                names.append(s.person)
        kind = day_kind(runbook, day)
        what = holiday_name(runbook, day) if kind == "holidays" else DAY_WORDS[kind]
        paging = paging_pipelines(runbook, rotation, kind)
        pages = f"pages for {', '.join(escape(n) for n in paging)}" if paging else "no paging"
        who = ", ".join(people.plain(n) for n in names) or "_nobody_"  # named: the handoff is not about them
        lines.append(f"*{day:%a %d %b}* ({escape(what)}): {who} · {pages}")
    return lines


def incident_lines(runbook: Runbook, incidents: list[Incident]) -> list[str]:
    lines = []
    for i in incidents:
        name = runbook.pipelines[i.pipeline].name if i.pipeline in runbook.pipelines else i.pipeline
        clocks = []
        if i.data_ready_by:
            clocks.append(f"data due {date_token(i.data_ready_by)}")
        if i.fix_by:
            clocks.append(f"fix by {date_token(i.fix_by)}")
        lines.append(f"*{escape(name)}* #{i.id} ({i.status} since {date_token(i.opened_at)})"
                     + (f": {', '.join(clocks)}" if clocks else ""))
    return lines


def swap_lines(people, shifts: list[Shift]) -> list[str]:
    return [f"{people.plain(s.person)} covers {people.plain(s.scheduled) if s.scheduled else 'a gap'} "
            f"{date_token(s.start)} → {date_token(s.end)}" for s in shifts if s.is_override]


def weekly_check_lines(runbook: Runbook, people) -> list[str]:
    lines = []
    for key, p in runbook.pipelines.items():
        check = p.on_call.weekly_check if p.on_call else None
        if check and not p.on_call.rotation:
            owners = owners_of(runbook, key)
            lines.append(f"*{escape(p.name)}*: no on-call; {', '.join(people.plain(n) for n in owners) or 'nobody'} "
                         f"check it every {check.day.capitalize()} {check.time:%H:%M} ({runbook.team.timezone})")
    return lines


def meeting_time(runbook: Runbook, rotation: str, handoff_at: datetime) -> tuple[datetime, timedelta] | None:
    meeting = runbook.rotations[rotation].transition_meeting
    return (handoff_at + meeting.offset, meeting.duration) if meeting else None


def handoff(runbook: Runbook, people, rotation: str, prev: Shift | None, shift: Shift, shifts: list[Shift],
            incidents: list[Incident], current: bool = False, unwatched: list[tuple[str, str]] = (),
            suggestions: int = 0, last_week: list[str] = (), picture: str | None = None) -> Message:
    """The handoff; `current` when the bot starts during the shift: who is on call, not who takes over.
    `suggestions`: how many runbook suggestions `oncall-bot suggest` has (said only when there are some).
    `last_week`: how the 7 days before the handoff went (bot.describe_report.week_summary); `picture`:
    "thread" when the weekly picture follows in the thread, "missing" when matplotlib is not installed."""
    incoming, outgoing = shift.person, prev.person if prev else None
    covering = f" (covering {people.plain(shift.scheduled)})" if shift.is_override else ""
    if current:
        lead = f"{people.mention(incoming)}{covering} is on call since {date_token(shift.start)}"
        blocks = [header(f"On call: {rotation}"), section(f"{lead}, until {date_token(shift.end)}.")]
    else:
        lead = (f"{people.mention(outgoing)} hands over to {people.mention(incoming)}" if outgoing
                else f"{people.mention(incoming)} takes the first shift")
        blocks = [header(f"On-call handoff: {rotation}"),
                  section(f"{lead}{covering}.\n{people.mention(incoming)} is on call from {date_token(shift.start)} "
                          f"until {date_token(shift.end)}.")]
    blocks.append(section("*The coming week*\n" + "\n".join(week_lines(runbook, people, rotation, shift.start, shifts))))
    swaps = swap_lines(people, shifts)
    if swaps:
        blocks.append(section("*Swaps and overrides*\n" + bullet_list(swaps)))
    open_lines = incident_lines(runbook, incidents)
    blocks.append(section("*Open incidents*\n" + (bullet_list(open_lines) if open_lines else "None.")))
    if last_week or picture:
        blocks.append(section(fit(["*Last week*", *(escape(line) for line in last_week),
                                   *picture_lines(picture)], 3000)))
    checks = weekly_check_lines(runbook, people)
    if checks:
        blocks.append(section("*Pipelines without on-call*\n" + bullet_list(checks)))
    if unwatched:
        blocks.append(section("*SLA not watched*\n" + bullet_list([f"{escape(name)}: {escape(why)}"
                                                                  for name, why in unwatched])))
    if suggestions:
        blocks.append(section(f"{suggestions} runbook suggestion{'s' if suggestions != 1 else ''} from recurring "
                              f"unmatched errors: run `oncall-bot suggest`"))
    meeting = meeting_time(runbook, rotation, shift.start)
    if meeting and outgoing:
        blocks.append(context(f"Transition meeting {date_token(meeting[0])} ({format_duration(meeting[1])}) · "
                              f"times in your zone"))
    text = (f"On-call handoff ({rotation}): {outgoing + ' → ' if outgoing else ''}{incoming}, "
            f"from {utc_text(shift.start)} until {utc_text(shift.end)}")
    if current:
        text = f"On call ({rotation}): {incoming} since {utc_text(shift.start)}, until {utc_text(shift.end)}"
    return message(text, blocks)


def picture_lines(picture: str | None) -> list[str]:
    if picture == "thread":
        return [f"_The weekly picture ({WEEKS} weeks of data-ready times per pipeline) follows in the thread._"]
    if picture == "missing":
        return [f"The weekly picture of data-ready times needs matplotlib: `{INSTALL}`"]
    return []


def meeting_reminder(runbook: Runbook, people, rotation: str, person: str, outgoing: str, shift: Shift,
                     meeting_at: datetime, duration: timedelta, incidents: list[Incident],
                     week: list[Shift]) -> Message:
    other = shift.person if person == outgoing else outgoing
    role = "hand over to" if person == outgoing else "take over from"
    blocks = [section(f"{people.mention(person)}, on-call transition meeting {date_token(meeting_at)} "
                      f"({format_duration(duration)}): you {role} {people.mention(other)}. "
                      f"The shift changes {date_token(shift.start)}.")]
    def part(title: str, lines: list[str]) -> list[str]:
        return [title, *(f"• {line}" for line in lines or ["none"])]

    def deadline(i: Incident) -> str:
        return f"{escape(i.pipeline)} #{i.id}: fix by {date_token(i.fix_by)}"

    agenda = part("Open incidents:", incident_lines(runbook, incidents))
    agenda += part("Pending deadlines:", [deadline(i) for i in incidents if i.fix_by and i.fix_by > meeting_at])
    missed = [deadline(i) for i in incidents if i.fix_by and i.fix_by <= meeting_at]
    if missed:
        agenda += part("Fix deadlines already missed:", missed)
    agenda += part("Swaps in the coming week:", swap_lines(people, week))
    blocks.append(section(fit(["*Agenda*", *agenda], 3000)))
    blocks.append(context(f"Rotation `{rotation}` · times in your zone"))
    text = (f"{person}: on-call transition meeting at {utc_text(meeting_at)} "
            f"({outgoing} → {shift.person})")
    return message(text, blocks)


def fit(lines: list[str], limit: int) -> str:
    """Whole lines up to `limit` characters, then how many were left out: never a cut mid-word."""
    kept: list[str] = []
    size = 0
    for n, line in enumerate(lines):
        tail = f"\n… and {len(lines) - n} more line(s): see `/oncall` and the alert threads"
        if size + len(line) + 1 + len(tail) > limit:
            return "\n".join(kept) + tail
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def shift_reminder(runbook: Runbook, people, rotation: str, shift: Shift) -> Message:
    covering = f" (covering {people.plain(shift.scheduled)})" if shift.is_override else ""
    pages = {kind: paging_pipelines(runbook, rotation, kind) for kind in DAY_WORDS}
    paged = "; ".join(f"{DAY_WORDS[k]}s: {', '.join(escape(n) for n in v)}" for k, v in pages.items() if v)
    blocks = [section(f"{people.mention(shift.person)}, your on-call shift{covering} starts {date_token(shift.start)} "
                      f"and ends {date_token(shift.end)}."),
              context(f"Rotation `{rotation}` · you are paged for {paged or 'nothing'} · `/oncall schedule`")]
    return message(f"{shift.person}: your on-call shift starts {utc_text(shift.start)}", blocks)
