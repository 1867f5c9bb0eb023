"""Checks that span the whole runbook: references between sections, and what is merely incomplete."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from bot.runbook.models import Runbook

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Finding:
    path: Path
    message: str
    hint: str = ""


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"known: {', '.join(sorted(known))}" if known else ""


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _names(value) -> list[tuple[int, str]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, str)] if isinstance(value, list) else []


def cross_reference_errors(data: dict) -> list[Finding]:
    """References between sections, read from the raw file data so that they are reported in the same
    run as any field errors (a section with a wrong shape is skipped here; the model reports it)."""
    errors: list[Finding] = []
    people = _mapping(data.get("people"))
    rotations = _mapping(data.get("rotations"))
    team = _mapping(data.get("team"))

    def person(path: Path, name) -> None:
        if isinstance(name, str) and name not in people:
            errors.append(Finding(path, f"unknown person {name!r}", _did_you_mean(name, people) + " (add them under people:)"))

    def rotation(path: Path, name) -> None:
        if isinstance(name, str) and name not in rotations:
            errors.append(Finding(path, f"unknown rotation {name!r}", _did_you_mean(name, rotations)))

    for i, name in _names(team.get("admins")):
        person(("team", "admins", i), name)
    if team.get("default_rotation"):
        rotation(("team", "default_rotation"), team["default_rotation"])
    holidays = _mapping(team.get("holidays"))
    if isinstance(holidays.get("country"), str):
        subdiv = holidays.get("subdiv") if isinstance(holidays.get("subdiv"), str) else None
        errors.extend(_holiday_calendar_errors(holidays["country"], subdiv))
    for key, rot in rotations.items():
        members = [name for _, name in _names(_mapping(rot).get("members"))]
        for i, name in _names(_mapping(rot).get("members")):
            person(("rotations", key, "members", i), name)
        if len(set(members)) != len(members):
            errors.append(Finding(("rotations", key, "members"), "a person appears twice in members",
                                  "list each person once; use overrides for extra shifts"))
    overrides = data.get("overrides") if isinstance(data.get("overrides"), list) else []
    for i, override in enumerate(overrides):
        override = _mapping(override)
        person(("overrides", i, "person"), override.get("person"))
        if override.get("rotation"):
            rotation(("overrides", i, "rotation"), override["rotation"])
        elif not rotations:
            errors.append(Finding(("overrides", i), "an override needs a rotation, and none is defined"))
    aliases: dict[str, str] = {}
    for key, pipeline in _mapping(data.get("pipelines")).items():
        pipeline = _mapping(pipeline)
        owners = _mapping(pipeline.get("owners"))
        for role in ("primary", "secondary"):
            if owners.get(role):
                person(("pipelines", key, "owners", role), owners[role])
        on_call = _mapping(pipeline.get("on_call"))
        if on_call.get("rotation"):
            rotation(("pipelines", key, "on_call", "rotation"), on_call["rotation"])
        extra = pipeline.get("aliases")
        extra = [extra] if isinstance(extra, str) else [a for _, a in _names(extra)]
        for name in [str(key), *([pipeline["name"]] if isinstance(pipeline.get("name"), str) else []), *extra]:
            other = aliases.setdefault(name.casefold(), key)
            if other != key:
                errors.append(Finding(("pipelines", key), f"name or alias {name!r} is also used by pipeline {other!r}",
                                      "names and aliases must be unique"))
    return errors + _lineage_errors(_mapping(data.get("pipelines")))


def _lineage_errors(pipelines: dict) -> list[Finding]:
    """`depends_on` names pipelines of this file and never loops back; an OpenLineage job belongs to
    one pipeline (its events could not say whose they are otherwise)."""
    errors: list[Finding] = []
    graph: dict[str, list[tuple[int, str]]] = {}
    jobs: dict[tuple[str, str], str] = {}
    for key, pipeline in pipelines.items():
        pipeline = _mapping(pipeline)
        depends = pipeline.get("depends_on")
        depends = [(0, depends)] if isinstance(depends, str) else _names(depends)
        for i, other in depends:
            path = ("pipelines", key, "depends_on", i)
            if other not in pipelines:
                errors.append(Finding(path, f"unknown pipeline {other!r}", _did_you_mean(other, pipelines)))
            elif other == key:
                errors.append(Finding(path, f"pipeline {key!r} depends on itself", "remove it from depends_on"))
            else:
                graph.setdefault(key, []).append((i, other))
        mapped = pipeline.get("openlineage")
        mapped = [mapped] if isinstance(mapped, dict) else mapped if isinstance(mapped, list) else []
        for i, job in enumerate(mapped):
            job = _mapping(job)
            if not isinstance(job.get("namespace"), str) or not isinstance(job.get("job"), str):
                continue
            name = (job["namespace"].casefold(), job["job"].casefold())
            other = jobs.setdefault(name, key)
            if other != key:
                errors.append(Finding(("pipelines", key, "openlineage", i),
                                      f"OpenLineage job {job['namespace']}/{job['job']} is also mapped to pipeline {other!r}",
                                      "a job's events belong to one pipeline"))
    errors.extend(_cycles(graph))
    return errors


def _cycles(graph: dict[str, list[tuple[int, str]]]) -> list[Finding]:
    """One finding per loop in depends_on, at the entry that closes it."""
    found: list[Finding] = []
    state: dict[str, str] = {}  # "open" while on the current path, "done" after

    def visit(key: str, path: list[str]) -> None:
        state[key] = "open"
        for i, other in graph.get(key, []):
            if state.get(other) == "open":
                loop = path[path.index(other):] + [key, other] if other in path else [key, other]
                found.append(Finding(("pipelines", key, "depends_on", i),
                                     f"depends_on makes a loop (each feeds the next): {' → '.join(reversed(loop))}",
                                     "a pipeline cannot wait for its own data; remove one entry of the loop"))
            elif other not in state:
                visit(other, path + [key])
        state[key] = "done"

    for key in graph:
        if key not in state:
            visit(key, [])
    return found


def _holiday_calendar_errors(country: str, subdiv: str | None) -> list[Finding]:
    from bot import holiday_calendars

    # Listing the supported countries imports every country module (~0.25 s): only done to explain an error.
    if holiday_calendars.known(country, subdiv):
        return []
    import holidays

    supported = holidays.list_supported_countries()
    if country not in supported:
        close = difflib.get_close_matches(country.upper(), list(supported), n=1, cutoff=0.6)
        # The full list has hundreds of codes: name a close one, if any, rather than all of them.
        return [Finding(("team", "holidays", "country"), f"unknown holiday country {country!r}",
                        "use an ISO 3166 code such as US, GB, DE" + (f"; did you mean {close[0]!r}?" if close else ""))]
    return [Finding(("team", "holidays", "subdiv"), f"unknown subdivision {subdiv!r} of {country}",
                    _did_you_mean(subdiv or "", supported[country]))]


def warnings_for(runbook: Runbook) -> list[Finding]:
    warnings: list[Finding] = []
    for key, pipeline in runbook.pipelines.items():
        if missing := pipeline.missing():
            fallback = runbook.default_rotation
            routed = f"alerts go to the on-call person of {fallback!r}" if fallback else "alerts are posted unrouted"
            warnings.append(Finding(("pipelines", key), f"pipeline {key!r} is incomplete: no {', '.join(missing)}", routed))
    for name, person in runbook.people.items():
        if person.placeholder:
            warnings.append(Finding(("people", name), f"person {name!r} has a placeholder Slack identity",
                                    "set slack_id or a real email, then remove placeholder: true"))
        elif not person.slack_id and not person.email:
            warnings.append(Finding(("people", name), f"person {name!r} has no slack_id or email",
                                    "they are shown by name and cannot be mentioned"))
    if not runbook.rotations:
        warnings.append(Finding(("rotations",), "no rotation defined: nobody is ever on call"))
    warnings.extend(_dead_end_chains(runbook))
    warnings.extend(_unclear_local_times(runbook))
    warnings.extend(_utc_clocks_in_a_local_team(runbook))
    return warnings


def _utc_clocks_in_a_local_team(runbook: Runbook) -> list[Finding]:
    """A team outside UTC whose pipeline clocks say no zone: they are read in UTC (what the file meant
    before `timezone:` existed) and move against the team's day twice a year."""
    if runbook.team.timezone == "UTC":
        return []
    return [Finding(("pipelines", key), f"pipeline {key!r}: its schedule and SLA times are read in UTC",
                    f"add `timezone: team` to read them in {runbook.team.timezone}, or `timezone: UTC` to keep UTC")
            for key, p in runbook.pipelines.items()
            if p.timezone is None and (p.schedule or (p.sla and p.sla.data_ready_by is not None))]


def _unclear_local_times(runbook: Runbook) -> list[Finding]:
    """Override times without an offset that a DST change skips or repeats in the team zone."""
    from dateutil import tz as dateutil_tz

    found = []
    for i, item in enumerate(runbook.overrides):
        for end in ("start", "end"):
            value = getattr(item, end)
            if value.tzinfo is not None:
                continue
            if not dateutil_tz.datetime_exists(value, runbook.tz):
                found.append(Finding(("overrides", i, end), f"{value:%Y-%m-%d %H:%M} does not exist in "
                                     f"{runbook.team.timezone} (the clocks jump forward): it is read as the same "
                                     f"time after the jump", "give an offset, e.g. +02:00, to say which instant"))
            elif dateutil_tz.datetime_ambiguous(value, runbook.tz):
                found.append(Finding(("overrides", i, end), f"{value:%Y-%m-%d %H:%M} happens twice in "
                                     f"{runbook.team.timezone} (the clocks go back): it is read as the first",
                                     "give an offset, e.g. +01:00 for the second, to say which instant"))
    return found


def _dead_end_chains(runbook: Runbook) -> list[Finding]:
    """Escalation chains that can only repeat themselves: a pipeline nobody pages tells its owners
    at once in work hours, so steps that name only owners (and admins among them) reach nobody new."""
    found = []
    for key, pipeline in runbook.pipelines.items():
        if not pipeline.owners or not pipeline.on_call or pipeline.on_call.page:
            continue
        owners = {pipeline.owners.primary, pipeline.owners.secondary} - {None}
        chain = (pipeline.escalation or runbook.team.escalation).chain
        if "oncall" in chain:  # whoever is on call then may be anyone
            continue
        reach = set().union(*(set(runbook.team.admins) if step == "admins" else owners for step in chain))
        if reach <= owners:
            path = ("pipelines", key, "escalation") if pipeline.escalation else ("team", "escalation")
            found.append(Finding(path, f"the escalation chain {chain} cannot reach anyone new for {key!r}: "
                                       f"its owners are told when it fails",
                                 "add oncall, or an admin who is not an owner, to the chain"))
    return found
