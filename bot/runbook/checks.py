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


def cross_reference_errors(runbook: Runbook) -> list[Finding]:
    errors: list[Finding] = []
    people = runbook.people

    def person(path: Path, name: str) -> None:
        if name not in people:
            errors.append(Finding(path, f"unknown person {name!r}", _did_you_mean(name, people) + " (add them under people:)"))

    def rotation(path: Path, name: str) -> None:
        if name not in runbook.rotations:
            errors.append(Finding(path, f"unknown rotation {name!r}", _did_you_mean(name, runbook.rotations)))

    for i, name in enumerate(runbook.team.admins):
        person(("team", "admins", i), name)
    if runbook.team.default_rotation:
        rotation(("team", "default_rotation"), runbook.team.default_rotation)
    if runbook.team.holidays.country:
        errors.extend(_holiday_calendar_errors(runbook.team.holidays.country, runbook.team.holidays.subdiv))
    for key, rot in runbook.rotations.items():
        for i, name in enumerate(rot.members):
            person(("rotations", key, "members", i), name)
        if len(set(rot.members)) != len(rot.members):
            errors.append(Finding(("rotations", key, "members"), "a person appears twice in members",
                                  "list each person once; use overrides for extra shifts"))
    for i, override in enumerate(runbook.overrides):
        person(("overrides", i, "person"), override.person)
        if override.rotation:
            rotation(("overrides", i, "rotation"), override.rotation)
        elif not runbook.rotations:
            errors.append(Finding(("overrides", i), "an override needs a rotation, and none is defined"))
    aliases: dict[str, str] = {}
    for key, pipeline in runbook.pipelines.items():
        if pipeline.owners:
            person(("pipelines", key, "owners", "primary"), pipeline.owners.primary)
            if pipeline.owners.secondary:
                person(("pipelines", key, "owners", "secondary"), pipeline.owners.secondary)
        if pipeline.on_call and pipeline.on_call.rotation:
            rotation(("pipelines", key, "on_call", "rotation"), pipeline.on_call.rotation)
        for name in [key, pipeline.name, *pipeline.aliases]:
            other = aliases.setdefault(name.casefold(), key)
            if other != key:
                errors.append(Finding(("pipelines", key), f"name or alias {name!r} is also used by pipeline {other!r}",
                                      "names and aliases must be unique"))
    return errors


def _holiday_calendar_errors(country: str, subdiv: str | None) -> list[Finding]:
    from bot.domain import public_holidays

    # Listing the supported countries imports every country module (~0.25 s): only done to explain an error.
    if public_holidays.known(country, subdiv):
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
    return warnings
