"""`oncall-bot suggest`: the runbook learns from the store's incidents (bot.domain.suggest).

Recurring errors no common issue matched, each with a proposed `common_issues` entry ready to paste
(or appended by `--apply PIPELINE`, comments and formatting kept), and the remediations notes marked
wrong. Reads the store at $DATABASE_URL; SQLAlchemy and ruamel.yaml are imported only here.
"""

from __future__ import annotations

import difflib
import io
import json
import sys
from datetime import datetime
from pathlib import Path

from bot.cli.common import NO_DATABASE, UsageError, instant, load_args, read_store
from bot.runbook import RunbookError, load


def cmd_suggest(args) -> int:
    from bot.domain.suggest import WINDOW

    loaded = load_args(args)
    now = instant(args.at, loaded)
    since = _since(args.since, now, loaded) if args.since else now - WINDOW
    found, wrong = _read(loaded.runbook, since, now)
    if args.apply:
        return _apply(loaded, args.apply, found, since)
    if args.json:
        print(json.dumps(_json(found, wrong, since, now), indent=2))
    else:
        _text(found, wrong, since, loaded.runbook)
    return 0


def _since(text: str, now: datetime, loaded) -> datetime:
    """`--since 90d` (a duration back from now) or `--since 2026-09-01` (an instant)."""
    from bot.runbook.fields import parse_duration

    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return instant(text, loaded)
    except UsageError:
        raise UsageError(f"--since: not a duration or an instant: {text!r} (e.g. 90d, 12w, 2026-09-01)") from None


def _read(runbook, since: datetime, now: datetime):
    """(suggestions, wrong remediations) from the store; none while its database does not exist yet."""
    from bot.domain.suggest import recurring, suggestions, wrong_remediations
    from bot.store import suggest_reads as reads

    def read(store):
        past = reads.unmatched_incidents(store, since, now)
        groups = recurring(past, reads.shape_bands_of(store, {p.fingerprint for p in past}), runbook)
        found = suggestions(groups, reads.incident_errors(store) if groups else [], now)
        return found, wrong_remediations(reads.wrong_remediation_notes(store, since, now), runbook)

    found = read_store("suggest", read, "no suggestions")
    return ([], []) if found is NO_DATABASE else found


# Output ------------------------------------------------------------------------------------------------

def _note_json(note) -> dict:
    from bot.domain.timeutil import iso

    return {"incident": note.incident_id, "pipeline": note.pipeline, "fix": note.fix, "by": note.by,
            "by_user": note.by_user, "remediation": note.remediation, "category": note.category, "at": iso(note.at)}


def _json(found, wrong, since: datetime, now: datetime) -> dict:
    from bot.domain.timeutil import iso

    return {
        "since": iso(since), "until": iso(now),
        "suggestions": [{
            "count": s.count, "pipelines": s.pipelines, "by_pipeline": s.by_pipeline,
            "first_seen": iso(s.first_seen), "last_seen": iso(s.last_seen), "fingerprints": s.fingerprints,
            "example": s.example, "notes": [_note_json(n) for n in s.notes],
            "entry": s.entry.as_json(), "match_checked": s.entry.why,
        } for s in found],
        "wrong_remediations": [{
            "title": w.title, "pipeline": w.pipeline, "count": w.count, "remediation": w.remediation,
            "notes": [_note_json(n) for n in w.notes],
        } for w in wrong],
    }


def _text(found, wrong, since: datetime, runbook) -> None:
    from bot.domain.suggest import entry_yaml
    from bot.domain.timeutil import utc_text

    when = utc_text(since)
    if not found:
        print(f"No recurring errors without a common issue since {when}: nothing to suggest "
              f"(an error no common issue matched needs 2 incidents or more).")
    else:
        print(f"{len(found)} runbook suggestion(s) from errors no common issue matched, seen twice or more "
              f"since {when}:")
    for n, s in enumerate(found, start=1):
        where = ", ".join(f"{p} ({c})" for p, c in s.by_pipeline.items())
        print(f"\n{n}. {s.count} incidents on {where}; first {utc_text(s.first_seen)}, last {utc_text(s.last_seen)}")
        print(f"   error: {_clip(s.example, 160)}")
        if s.notes:
            print("   resolution notes:")
            for note in s.notes:
                print(f"     - #{note.incident_id} {note.pipeline}, {note.by} ({_verdict(note)}): {_clip(note.fix, 200)}")
        else:
            print("   resolution notes: none yet")
        target = next((p for p in s.by_pipeline if p in runbook.pipelines), None)
        if target:
            print(f"   proposed entry for pipelines.{target}.common_issues "
                  f"(`oncall-bot suggest --apply {target}` appends it):")
        else:  # only pipelines the runbook does not know: a team-wide signature
            print("   proposed entry for signatures (team-wide):")
        print(entry_yaml(s.entry, indent="      "))
        print(f"   regex checked: {s.entry.why}" if s.entry.match else f"   {s.entry.why}")
    if wrong:
        print(f"\nRemediations marked wrong in resolution notes since {when}: entries to fix")
        for w in wrong:
            print(f"  - \"{w.title}\" ({w.pipeline}): marked wrong {w.count} time(s)")
            print(f"    the runbook says: {w.remediation if w.remediation is not None else '(no such entry now)'}")
            for note in w.notes:
                print(f"      #{note.incident_id} {note.by}, {utc_text(note.at)}: {_clip(note.fix, 200)}")
    else:
        print(f"\nNo remediation was marked wrong in resolution notes since {when}.")


def _verdict(note) -> str:
    said = {"right": "remediation right", "wrong": "remediation wrong", "none": "no remediation suggested"}
    return "; ".join(x for x in (said.get(note.remediation, note.remediation), note.category) if x)


def _clip(text: str, size: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[:size - 1] + "…"


# --apply -----------------------------------------------------------------------------------------------

# (mapping, sequence, offset) indents tried in turn: the first that writes the file back unchanged is
# the file's own style, so the entry is added in it and nothing else moves.
_STYLES = [(2, 4, 2), (2, 2, 0), (4, 6, 4), (4, 4, 0), (4, 4, 2), (2, 4, 0), (3, 5, 3), (3, 3, 0)]


def _round_trip(text: str):
    """(YAML instance, data) that dumps `text` back as it was, or as close as the first style comes."""
    from ruamel.yaml import YAML

    first = None
    for mapping, sequence, offset in _STYLES:
        yaml = YAML()
        yaml.preserve_quotes = True
        yaml.width = 1 << 30
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        data = yaml.load(text)
        first = first or (yaml, data)
        if _dump(yaml, data) == text:
            return yaml, data
    return first


def _dump(yaml, data) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _take_trailing(node):
    """Detach what follows the last line of `node` (blank lines, comments before the next key) and return
    it as a comment token, or None; the last line's own end-of-line comment stays where it is."""
    import copy

    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    while isinstance(node, (CommentedMap, CommentedSeq)) and len(node):
        last = next(reversed(node)) if isinstance(node, CommentedMap) else len(node) - 1
        slot = node.ca.items.get(last)
        token = slot[2 if isinstance(node, CommentedMap) else 0] if slot else None
        if token is not None and "\n" in token.value:
            cut = token.value.index("\n") + 1
            rest = token.value[cut:]
            if not rest:
                return None
            moved = copy.copy(token)
            moved.value = "\n" + rest
            token.value = token.value[:cut]
            return moved
        node = node[last]
    return None


def _apply(loaded, name: str, found, since: datetime) -> int:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    from bot.domain.lookup import find_pipeline
    from bot.domain.suggest import entry_yaml, needs_quotes
    from bot.domain.timeutil import utc_text

    rb = loaded.runbook
    key = find_pipeline(rb, name)
    if key is None:
        raise UsageError(f"--apply: no pipeline {name!r} in the runbook (known: {', '.join(rb.pipelines)})")
    mine = sorted((s for s in found if key in s.by_pipeline), key=lambda s: (-s.count, -s.by_pipeline[key]))
    if not mine:
        raise UsageError(f"no suggestion for {key}: no error that no common issue matched recurred on it since "
                         f"{utc_text(since)}")
    ready = [s for s in mine if s.entry.match]
    if not ready:
        print(f"oncall-bot: the suggestion for {key} has no checked regex ({mine[0].entry.why}); "
              f"write its match by hand:\n{entry_yaml(mine[0].entry, indent='  ')}", file=sys.stderr)
        return 2
    entry = ready[0].entry
    path = Path(loaded.path)
    original = path.read_text(encoding="utf-8")
    yaml, data = _round_trip(original)
    spec = data["pipelines"][key]
    issue = CommentedMap()
    issue["title"] = SingleQuotedScalarString(entry.title) if needs_quotes(entry.title) else entry.title
    match = CommentedSeq([SingleQuotedScalarString(entry.match)])
    match.fa.set_flow_style()
    issue["match"] = match
    issue["remediation"] = (SingleQuotedScalarString(entry.remediation) if needs_quotes(entry.remediation)
                            else entry.remediation)
    trailing = _take_trailing(spec)  # the blank line or comments that close the pipeline now close the entry
    if spec.get("common_issues") is None:
        spec["common_issues"] = CommentedSeq()
    spec["common_issues"].append(issue)
    if trailing:
        issue.ca.items["remediation"] = [None, None, trailing, None]
    updated = _dump(yaml, data)
    try:
        path.write_text(updated, encoding="utf-8")
        checked = load(path)
    except RunbookError:
        path.write_text(original, encoding="utf-8")
        print(f"oncall-bot: the runbook would not validate with the entry added; {path} is as it was",
              file=sys.stderr)
        raise
    except BaseException:
        path.write_text(original, encoding="utf-8")
        raise
    moved = [line for line in difflib.ndiff(original.splitlines(), updated.splitlines()) if line.startswith("- ")]
    if moved:
        print(f"warning: the YAML writer also rewrote {len(moved)} other line(s) of {path}; check `git diff`",
              file=sys.stderr)
    print(f"Added to pipelines.{key}.common_issues in {path} ({ready[0].count} incidents, "
          f"the regex {ready[0].entry.why}):")
    print(entry_yaml(entry, indent="  "))
    print(f"{path}: OK: team {checked.runbook.team.name!r}, {len(checked.runbook.pipelines)} pipelines "
          f"(the bot reads it when it next starts)")
    return 0
