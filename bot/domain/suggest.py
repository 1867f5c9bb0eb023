"""The runbook learns: recurring errors no common issue matched, each with a proposed `common_issues`
entry (title, a checked regex, a remediation drafted from the resolution notes), and the common
issues whose remediation people marked wrong.

Pure: the store reads (bot.store.suggest_reads) hand in incidents and errors, the caller hands in
`now`. Errors are grouped by fingerprint, and groups whose shapes are near (fingerprint.NEAR) are
one group. A proposed regex is derived from one line's shape (its stable words literal, what varies
a non-greedy wildcard) and kept only if triage's own matching finds it in every error of the group
and in no other error the store holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Iterable, Sequence

from bot.domain.fingerprint import NEAR, normalize, similarity
from bot.domain.triage import triage
from bot.runbook.models import CommonIssue, Runbook

WINDOW = timedelta(days=90)   # the handoff's look-back, and `suggest`'s default
RECURRING = 2                 # incidents a group needs to be suggested
TITLE_MAX = 80
SCANNED_LINES = 40            # lines of an error tried as the source of a regex
NOTES_SHOWN = 3               # fixes a drafted remediation quotes
CANDIDATES = 100              # regexes tried per group at most (each is run over every error in the store)

_PLACEHOLDER = re.compile(r"<(?:uuid|hex|ts|ip|host|tmp|str|size|dur|n)>")
_FRAME = re.compile(r"^\s*(?:at\s|file\s)", re.IGNORECASE)    # stack frames: tried last
_NOISE = re.compile(r"^\s*(?:traceback \(most recent call last\):?|\.\.\. ?\d+ (?:more|common frames omitted)"
                    r"|[\^~=*-]+|driver stacktrace:?)\s*$", re.IGNORECASE)   # never a regex nor a title
_PY_FRAME = re.compile(r'^\s*File "([^"\n]*)", line \d+(.*)$')
_CLASS = re.compile(r"^\s*(?:caused by:\s*)?(?:[A-Za-z_][\w$]*\.)*([A-Za-z_][\w$]*)\s*:\s+(\S.*)$")
_CLASS_WORD = re.compile(r"(?:error|exception|failure|fault|exit|interrupt|timeout)$", re.IGNORECASE)
_SPECIAL = re.compile(r"([.^$*+?{}\[\]\\|()])")
_WILD = ".*?"


# Inputs ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FixNote:
    """A resolution note as the suggestions quote it."""

    incident_id: int
    pipeline: str
    fix: str
    remediation: str          # right | wrong | none
    category: str | None
    by_user: str
    by_name: str | None
    at: datetime

    @property
    def by(self) -> str:
        return self.by_name or self.by_user


@dataclass(frozen=True)
class Past:
    """An incident no common issue matched when it opened."""

    id: int
    pipeline: str
    error: str
    fingerprint: str
    shape: str                # normalize(error), as the store keeps it
    opened_at: datetime
    note: FixNote | None = None


@dataclass(frozen=True)
class Tally:
    """Unmatched incidents of one fingerprint on one pipeline, counted by SQL (the handoff's cheap read)."""

    fingerprint: str
    shape: str
    pipeline: str
    count: int
    sample: str               # one of their errors


@dataclass(frozen=True)
class Wronged:
    """An incident whose note says the matched remediation was wrong."""

    id: int
    pipeline: str
    issue_title: str | None
    opened_at: datetime
    note: FixNote


# Outputs -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    title: str
    match: str | None         # None: no line gave a regex that passed the check (`why` says so)
    remediation: str
    why: str = ""             # how the regex was checked, or why there is none

    def as_json(self) -> dict:
        return {"title": self.title, "match": [self.match] if self.match else [], "remediation": self.remediation}


@dataclass(frozen=True)
class Suggestion:
    incidents: tuple[Past, ...]       # latest first
    entry: Entry
    by_pipeline: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.incidents)

    @property
    def pipelines(self) -> list[str]:
        return list(self.by_pipeline)

    @property
    def first_seen(self) -> datetime:
        return min(i.opened_at for i in self.incidents)

    @property
    def last_seen(self) -> datetime:
        return max(i.opened_at for i in self.incidents)

    @property
    def fingerprints(self) -> list[str]:
        return sorted({i.fingerprint for i in self.incidents})

    @property
    def notes(self) -> list[FixNote]:
        return sorted((i.note for i in self.incidents if i.note), key=lambda n: n.at, reverse=True)

    @property
    def example(self) -> str:
        return first_line(self.incidents[0].error)


@dataclass(frozen=True)
class WrongRemediation:
    title: str
    pipeline: str
    notes: tuple[FixNote, ...]         # latest first
    remediation: str | None            # what the runbook says now (None: the entry is gone)

    @property
    def count(self) -> int:
        return len(self.notes)


# Grouping ----------------------------------------------------------------------------------------------

def clusters(shapes: dict[str, str], bands: dict[str, set[str]] | None = None) -> list[list[str]]:
    """Fingerprints in groups: two whose shapes are near (similarity >= NEAR) are in one group. With
    `bands` (fingerprint -> LSH keys), only fingerprints sharing a key are compared, as the incident
    memory looks near errors up; without, every pair is."""
    keys = sorted(shapes)
    parent = {fp: fp for fp in keys}

    def root(fp: str) -> str:
        while parent[fp] != fp:
            parent[fp] = parent[parent[fp]]
            fp = parent[fp]
        return fp

    if bands is None:
        pairs: Iterable[tuple[str, str]] = ((a, b) for i, a in enumerate(keys) for b in keys[i + 1:])
    else:
        by_band: dict[str, list[str]] = {}
        for fp in keys:
            for band in bands.get(fp, ()):
                by_band.setdefault(band, []).append(fp)
        pairs = sorted({(a, b) for members in by_band.values() for i, a in enumerate(members) for b in members[i + 1:]})
    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb and similarity(shapes[a], shapes[b]) >= NEAR:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for fp in keys:
        groups.setdefault(root(fp), []).append(fp)
    return list(groups.values())


def still_unmatched(runbook: Runbook | None, pipeline: str, error: str) -> bool:
    """True unless the runbook as it is now matches the error: an entry added since (`--apply`) settles it."""
    return runbook is None or triage(runbook, pipeline, error) is None


def recurring(incidents: Sequence[Past], bands: dict[str, set[str]] | None = None,
              runbook: Runbook | None = None) -> list[list[Past]]:
    """Groups of at least RECURRING incidents (latest first in each), most incidents first. With the
    `runbook`, an incident whose error it now matches is left out."""
    kept = [i for i in incidents if still_unmatched(runbook, i.pipeline, i.error)]
    shapes = {i.fingerprint: i.shape or normalize(i.error) for i in kept}
    by_fp: dict[str, list[Past]] = {}
    for i in kept:
        by_fp.setdefault(i.fingerprint, []).append(i)
    groups = [sorted((i for fp in fps for i in by_fp[fp]), key=lambda i: (i.opened_at, i.id), reverse=True)
              for fps in clusters(shapes, bands)]
    groups = [g for g in groups if len(g) >= RECURRING]
    return sorted(groups, key=lambda g: (-len(g), -g[0].opened_at.timestamp(), g[0].id))


def waiting(tallies: Sequence[Tally], bands: dict[str, set[str]] | None = None,
            runbook: Runbook | None = None) -> int:
    """How many suggestions `suggest` would make, from counts (the handoff's line): one sample error
    per fingerprint and pipeline stands for the others when the runbook is asked whether it matches now."""
    kept = [t for t in tallies if still_unmatched(runbook, t.pipeline, t.sample)]
    counts: dict[str, int] = {}
    for t in kept:
        counts[t.fingerprint] = counts.get(t.fingerprint, 0) + t.count
    shapes = {t.fingerprint: t.shape or normalize(t.sample) for t in kept}
    return sum(sum(counts[fp] for fp in group) >= RECURRING for group in clusters(shapes, bands))


# The regex -----------------------------------------------------------------------------------------------

class _Only:
    """A runbook of one team-wide signature: triage() itself decides whether a proposed pattern matches."""

    def __init__(self, pattern: str) -> None:
        self.pipelines: dict = {}
        self.signatures = [CommonIssue(title="proposed", match=[pattern], remediation="-")]


@lru_cache(maxsize=256)
def _only(pattern: str) -> _Only:
    return _Only(pattern)


def matches(pattern: str, error: str) -> bool:
    """Whether triage, with `pattern` as a common issue's `match`, would match `error`."""
    return triage(_only(pattern), None, error) is not None  # type: ignore[arg-type]


def _units(raw_line: str, trim: bool = True) -> list[tuple[str, str]] | None:
    """A raw line as ("word", text) / ("space", " ") / ("wild", "") units: its shape's stable words in
    the raw line's own spelling (case kept), what the shape replaced by a placeholder as a wildcard.
    None when the shape cannot be laid back onto the line."""
    frame = _PY_FRAME.match(raw_line)
    if frame:  # normalize() rewrites a Python frame's quotes and comma: lay it out here, its path stable
        head = [("word", w) for w in f'File "{frame.group(1)}", line'.split(" ")]
        head = [u for w in head for u in (w, ("space", " "))]
        rest = _units(frame.group(2), trim) if frame.group(2).strip() else []
        return None if rest is None else _tidy([*head, ("wild", ""), *rest], trim)
    shape = normalize(raw_line)
    if not shape or " | " in shape:
        return None
    pieces = _PLACEHOLDER.split(shape)
    capture = "(.*?)".join(r"\s+".join(re.escape(w) for w in piece.split(" ")) for piece in pieces)
    found = re.fullmatch(r"\s*" + capture + r"\s*", raw_line, re.IGNORECASE)
    if not found:
        return None
    bounds = [found.start(), *(x for g in range(1, len(pieces)) for x in found.span(g)), found.end()]
    units: list[tuple[str, str]] = []
    for n in range(len(pieces)):
        if n:
            units.append(("wild", ""))
        for token in re.split(r"(\s+)", raw_line[bounds[2 * n]:bounds[2 * n + 1]]):
            if token:
                units.append(("space", " ") if token.isspace() else ("word", token))
    return _tidy(units, trim)


def _tidy(units: list[tuple[str, str]], trim: bool = True) -> list[tuple[str, str]]:
    """No doubled spaces or wildcards; none at either end when `trim` (a regex needs none there)."""
    out: list[tuple[str, str]] = []
    for unit in units:
        if out and unit[0] in ("space", "wild") and out[-1][0] == unit[0]:
            continue
        out.append(unit)
    ends = ("space", "wild") if trim else ("space",)
    while out and out[0][0] in ends:
        out.pop(0)
    while out and out[-1][0] in ends:
        out.pop()
    return out


def _pattern(units: list[tuple[str, str]], spaces: str = " ") -> str:
    return "".join(_SPECIAL.sub(r"\\\1", text) if kind == "word" else spaces if kind == "space" else _WILD
                   for kind, text in units)


def _literal(units: list[tuple[str, str]]) -> str:
    return " ".join(text for kind, text in units if kind == "word")


def _meaningful(units: list[tuple[str, str]]) -> bool:
    words = [text for kind, text in units if kind == "word" and re.search(r"[A-Za-z]{2}", text)]
    return len(words) >= 3 and len(_literal(units)) >= 15


def _prefixes(units: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """The line's units cut after about 40, 80 and 160 literal characters, then whole: shortest first."""
    cuts: list[list[tuple[str, str]]] = []
    for limit in (40, 80, 160, None):
        size, end = 0, len(units)
        if limit is not None:
            for k, (kind, text) in enumerate(units):
                size += len(text)
                if kind == "word" and size >= limit:
                    end = k + 1
                    break
        cut = _tidy(units[:end])
        if cut and _meaningful(cut) and cut not in cuts:
            cuts.append(cut)
    return cuts


def _lines(error: str) -> list[str]:
    """The error's lines worth a regex: headlines and messages first, stack frames after."""
    lines = [line.strip() for line in error.splitlines()[:SCANNED_LINES] if line.strip() and not _NOISE.match(line)]
    return [line for line in lines if not _FRAME.match(line)] + [line for line in lines if _FRAME.match(line)]


def first_line(error: str) -> str:
    """The error's first meaningful line (not a stack frame), or its first line."""
    lines = _lines(error)
    for line in lines:
        units = _units(line)
        if units and _meaningful(units) or _headline(line):
            return line
    return lines[0] if lines else ""


def _headline(line: str) -> re.Match | None:
    """`pkg.SomeError: message` (an exception class and its message), else None."""
    head = _CLASS.match(line)
    return head if head and (_CLASS_WORD.search(head.group(1)) or "." in line.split(":", 1)[0]) else None


def derive_match(errors: Sequence[str], others: Iterable[str]) -> tuple[str | None, str]:
    """A regex from one line's shape that triage finds in every one of `errors` and in none of
    `others`, and how it was checked; (None, why) when no line gives one. Lines are tried in order
    (the first meaningful line first), each shortest first, then with its spaces as \\s+."""
    others = [o for o in others if o]
    tried = over = 0
    seen: set[str] = set()
    for source in dict.fromkeys(errors):
        for line in _lines(source):
            units = _units(line)
            if not units:
                continue
            for cut in _prefixes(units):
                for spaces in (" ", r"\s+"):
                    pattern = _pattern(cut, spaces)
                    if pattern in seen:
                        continue
                    seen.add(pattern)
                    tried += 1
                    if tried > CANDIDATES:
                        return None, f"no regex proposed: none of the first {tried - 1} candidates passed the check"
                    if not all(matches(pattern, e) for e in errors):
                        continue
                    if any(matches(pattern, o) for o in others):
                        over += 1
                        continue
                    return pattern, (f"matches all {len(errors)} error(s) of this group and none of the "
                                     f"{len(others)} other error(s) in the store")
    if not tried:
        return None, "no regex proposed: no line of the error has enough stable words for one"
    if over:
        return None, (f"no regex proposed: each of the {tried} candidate(s) that matched this group also matched "
                      f"other errors in the store ({over} over-matched)")
    return None, f"no regex proposed: none of the {tried} candidate(s) matched every error of this group"


# Drafts ------------------------------------------------------------------------------------------------

def draft_title(error: str) -> str:
    """From the first meaningful line: the exception's short class name and its message's shape, what
    varies as "…" (`SparkException: Job aborted due to stage failure: Task … in stage …`)."""
    line = first_line(error)
    units = _units(line, trim=False)
    if units:
        text = "".join("…" if kind == "wild" else text for kind, text in units)
    else:
        text = _PLACEHOLDER.sub("…", normalize(line)) or line
    head = _headline(text)
    if head:
        text = f"{head.group(1)}: {head.group(2)}"
    text = " ".join(text.split()).rstrip(" .:;,")
    if len(text) > TITLE_MAX:
        cut = text[:TITLE_MAX - 1]
        cut = cut[:cut.rfind(" ")] if " " in cut[TITLE_MAX // 2:] else cut
        text = cut.rstrip(" .:;,(…") + "…"
    return text or "Recurring error"


def draft_remediation(notes: Sequence[FixNote], count: int, last_seen: datetime, now: datetime) -> str:
    """The latest fixes people wrote (latest first, distinct); a TODO when nobody wrote one."""
    fixes: list[str] = []
    for note in sorted(notes, key=lambda n: n.at, reverse=True):
        fix = " ".join(note.fix.split())
        if fix and fix.casefold() not in {f.casefold() for f in fixes}:
            fixes.append(fix)
    if not fixes:
        days = max(0, (now - last_seen).days)
        return (f"TODO: nobody has written what fixed this yet ({count} incidents, the last {days} day(s) ago); "
                f"write the fix here, or resolve the next one with a note.")
    text = fixes[0]
    if len(fixes) > 1:
        text += " Earlier fixes: " + "; ".join(f.rstrip(".") for f in fixes[1:NOTES_SHOWN]) + "."
    return text


def suggest(group: Sequence[Past], others: Iterable[tuple[str | None, str]], now: datetime) -> Suggestion:
    """The suggestion for one recurring group (latest incident first). `others`: (fingerprint, error)
    of every incident error in the store; those of a fingerprint in the group are the group's own,
    the rest are what the regex must not match."""
    fps = {i.fingerprint for i in group}
    # the group's distinct errors, the latest of each fingerprint first: the regex is drawn from those
    latest = list(dict.fromkeys(next(i.error for i in group if i.fingerprint == fp)
                                for fp in dict.fromkeys(i.fingerprint for i in group)))
    errors = latest + [e for e in dict.fromkeys(i.error for i in group) if e not in latest]
    own = set(errors)
    foreign = list(dict.fromkeys(e for fp, e in others if fp not in fps and e not in own))
    pattern, why = derive_match(errors, foreign)
    by_pipeline: dict[str, int] = {}
    for i in group:
        by_pipeline[i.pipeline] = by_pipeline.get(i.pipeline, 0) + 1
    by_pipeline = dict(sorted(by_pipeline.items(), key=lambda kv: (-kv[1], kv[0])))
    notes = [i.note for i in group if i.note]
    entry = Entry(draft_title(group[0].error), pattern, draft_remediation(notes, len(group), group[0].opened_at, now),
                  why)
    return Suggestion(tuple(group), entry, by_pipeline)


def suggestions(groups: Sequence[Sequence[Past]], others: Iterable[tuple[str | None, str]],
                now: datetime) -> list[Suggestion]:
    """One suggestion per group of recurring() (read the store's errors only when there is a group)."""
    others = list(others)
    return [suggest(group, others, now) for group in groups]


def wrong_remediations(rows: Sequence[Wronged], runbook: Runbook | None = None) -> list[WrongRemediation]:
    """The common issues whose remediation a note marked wrong, by title and pipeline, most often first."""
    by_key: dict[tuple[str, str], list[FixNote]] = {}
    for row in rows:
        by_key.setdefault((row.issue_title or "(no common issue)", row.pipeline), []).append(row.note)
    found = [WrongRemediation(title, pipeline, tuple(sorted(notes, key=lambda n: n.at, reverse=True)),
                              current_remediation(runbook, pipeline, title))
             for (title, pipeline), notes in by_key.items()]
    return sorted(found, key=lambda w: (-w.count, -w.notes[0].at.timestamp(), w.title, w.pipeline))


def current_remediation(runbook: Runbook | None, pipeline: str, title: str) -> str | None:
    if runbook is None:
        return None
    spec = runbook.pipelines.get(pipeline)
    for issue in [*(spec.common_issues if spec else []), *runbook.signatures]:
        if issue.title == title:
            return issue.remediation
    return None


# YAML ----------------------------------------------------------------------------------------------------

_RESERVED = {"yes", "no", "true", "false", "on", "off", "y", "n", "null", "~"}


def needs_quotes(text: str) -> bool:
    """Whether a block-context YAML scalar must be quoted to read back as this very string."""
    return (not text or text[0] in "-?:,[]{}#&*!|>'\"%@`0123456789.+ " or text[-1] in " :"
            or ": " in text or " #" in text or any(c < " " or c == "\x7f" for c in text)
            or text.lower() in _RESERVED)


def quoted(text: str) -> str:
    """A single-quoted YAML scalar: backslashes stay literal (what a regex wants), a quote is doubled."""
    return "'" + text.replace("'", "''") + "'"


def scalar(text: str) -> str:
    return quoted(text) if needs_quotes(text) else text


def entry_yaml(entry: Entry, indent: str = "") -> str:
    """The entry as an item of `common_issues`, in the runbook's own style (match as a flow list)."""
    lines = [f"- title: {scalar(entry.title)}"]
    if entry.match:
        lines.append(f"  match: [{quoted(entry.match)}]")
    else:
        lines.append("  match: []   # TODO: no regex passed the check; write one")
    lines.append(f"  remediation: {scalar(entry.remediation)}")
    return "\n".join(indent + line for line in lines)
