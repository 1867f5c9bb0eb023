"""Who is on call: a rotation's scheduled shifts with overrides laid over them.

Model (after PagerDuty layers and GoAlert rotations): an anchor date, an ordered member list and
a turn length in whole days; handoffs happen at a local wall time, so they stay put across DST.
Overrides cover any span, partial shifts included; where two overlap, the later one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable, Sequence

from bot.domain.memo import per_runbook
from bot.domain.timeutil import local_instant, utc
from bot.runbook.models import Rotation, Runbook


@dataclass(frozen=True)
class OverrideSpan:
    """Someone on call instead of the schedule for [start, end). Later spans win over earlier ones.

    One of three override types, each for its own layer: `runbook.models.Override` is what a person
    writes in the file (local times allowed, validated); this is what the roster applies (instants in
    UTC, from the file or the store alike); `store.swaps.OverrideRecord` is the stored row with its
    audit trail (who set it, who cancelled it, the swap it came from)."""

    person: str
    start: datetime
    end: datetime
    rotation: str
    note: str = ""
    source: str = "runbook"
    id: str = ""


@dataclass(frozen=True)
class Shift:
    """A stretch of time with one person on call; `scheduled` names whose turn it was."""

    rotation: str
    person: str
    start: datetime
    end: datetime
    scheduled: str
    override: OverrideSpan | None = None

    @property
    def is_override(self) -> bool:
        return self.override is not None and self.person != self.scheduled


@per_runbook  # every routing decision applies them
def runbook_overrides(runbook: Runbook) -> tuple[OverrideSpan, ...]:
    spans = []
    for i, item in enumerate(runbook.overrides):
        start, end = (
            value if value.tzinfo else local_instant(value.date(), value.time(), runbook.tz)
            for value in (item.start, item.end)
        )
        spans.append(OverrideSpan(item.person, utc(start), utc(end), item.rotation or runbook.default_rotation or "",
                                  item.note, "runbook", f"runbook-{i}"))
    return tuple(spans)


class Roster:
    """The final schedule of one rotation: its turns, with overrides applied."""

    def __init__(self, runbook: Runbook, rotation: str, overrides: Iterable[OverrideSpan]):
        """`overrides`: the store's (made in Slack), required so that no answer forgets them; the
        runbook's own come first, always (later spans win)."""
        self.runbook = runbook
        self.key = rotation
        self.rotation: Rotation = runbook.rotations[rotation]
        self.overrides: list[OverrideSpan] = [o for o in (*runbook_overrides(runbook), *overrides)
                                              if o.rotation == rotation]
        self._turn_days = self.rotation.turn.days

    # Scheduled turns -------------------------------------------------------------------------
    def handoff(self, turn: int) -> datetime:
        """Start of turn `turn` (turn 0 starts on the rotation's start date)."""
        day = self.rotation.start + timedelta(days=turn * self._turn_days)
        return local_instant(day, self.rotation.handoff.time, self.runbook.tz)

    def turn_at(self, at: datetime) -> int:
        local = at.astimezone(self.runbook.tz)
        turn = (local.date() - self.rotation.start).days // self._turn_days
        # The estimate is off by one around the handoff hour; the instants settle it.
        while self.handoff(turn) > at:
            turn -= 1
        while self.handoff(turn + 1) <= at:
            turn += 1
        return turn

    def scheduled_person(self, turn: int) -> str | None:
        if turn < 0:
            return None  # before the rotation begins nobody is scheduled
        members = self.rotation.members
        return members[turn % len(members)]

    # Final schedule --------------------------------------------------------------------------
    def shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """Shifts overlapping [start, end), in order: one per person and label, so a cover that runs into
        the person's own turn is two shifts ("Felix (covering Sören)", then "Felix")."""
        return [p for p in _merge(self._pieces(start, end), _label) if p.end > start and p.start < end]

    def stretches(self, start: datetime, end: datetime) -> list[Shift]:
        """Time on call per person, whatever the labels: what a handoff announces and a swap changes.
        A stretch carries the label of its first piece."""
        return [p for p in _merge(self._pieces(start, end), _person) if p.end > start and p.start < end]

    def _pieces(self, start: datetime, end: datetime) -> list[Shift]:
        start, end = utc(start), utc(end)
        pieces: list[Shift] = []
        turn = self.turn_at(start)
        while True:
            turn_start, turn_end = self.handoff(turn), self.handoff(turn + 1)
            if turn_start >= end:
                break
            pieces.extend(self._apply_overrides(turn, turn_start, turn_end))
            turn += 1
        # Overrides that fall before the rotation starts still put someone on call.
        first = self.handoff(0)
        if start < first:
            pieces = [p for p in pieces if p.start >= first] + [
                Shift(self.key, o.person, max(o.start, start), min(o.end, first), "", o)
                for o in self.overrides if o.start < first and o.end > start
            ]
            pieces.sort(key=lambda s: s.start)
        return pieces

    def _apply_overrides(self, turn: int, turn_start: datetime, turn_end: datetime) -> list[Shift]:
        scheduled = self.scheduled_person(turn) or ""
        relevant = [o for o in self.overrides if o.start < turn_end and o.end > turn_start]
        cuts = sorted({turn_start, turn_end, *(t for o in relevant for t in (o.start, o.end) if turn_start < t < turn_end)})
        pieces = []
        for a, b in zip(cuts, cuts[1:]):
            winner = next((o for o in reversed(relevant) if o.start <= a and o.end >= b), None)
            person = winner.person if winner else scheduled
            if person:
                pieces.append(Shift(self.key, person, a, b, scheduled, winner))
        return pieces

    def person_at(self, at: datetime) -> str | None:
        """Just the name: cheaper than `at`, which also finds where the stretch begins and ends."""
        winner = next((o for o in reversed(self.overrides) if o.start <= at < o.end), None)
        return winner.person if winner else self.scheduled_person(self.turn_at(at))

    def at(self, at: datetime) -> Shift | None:
        """The person on call at `at`, with the whole stretch they are on call for and the label
        (covering whom) that holds at `at`."""
        horizon = self._horizon()
        stretch = next((s for s in self.stretches(at - horizon, at + horizon) if s.start <= at < s.end), None)
        piece = next((s for s in self.shifts(at, at + timedelta(seconds=1)) if s.start <= at < s.end), None)
        if stretch is None or piece is None:
            return None
        return Shift(stretch.rotation, stretch.person, stretch.start, stretch.end, piece.scheduled, piece.override)

    def after(self, shift: Shift | None, at: datetime) -> Shift | None:
        """The next stretch with someone on call, after `shift` ends (or after `at` with nobody on call)."""
        since = shift.end if shift else at
        for weeks in (1, 8, 104):
            upcoming = self.stretches(since, since + self._horizon() * weeks)
            for s in upcoming:
                if s.start >= since and (shift is None or s.person != shift.person):
                    return s
        return None

    def _horizon(self) -> timedelta:
        longest = max((o.end - o.start for o in self.overrides), default=timedelta(0))
        return self.rotation.turn * 2 + longest


def _person(shift: Shift) -> str:
    return shift.person


def _label(shift: Shift) -> tuple[str, str | None]:
    return shift.person, shift.scheduled if shift.is_override else None


def _merge(pieces: Sequence[Shift], key: Callable[[Shift], object]) -> list[Shift]:
    """Join back-to-back pieces with the same key: one stretch on call reads as one shift."""
    merged: list[Shift] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if last and key(last) == key(piece) and last.end == piece.start:
            merged[-1] = Shift(last.rotation, last.person, last.start, piece.end,
                               last.scheduled or piece.scheduled, last.override or piece.override)
        else:
            merged.append(piece)
    return merged
