"""Forgiving pipeline names: the key, the name, an alias, any case, or a close typo all find the pipeline."""

from __future__ import annotations

import difflib

from bot.domain.memo import per_runbook
from bot.runbook.models import Runbook


@per_runbook  # alerts look names up thousands of times a second
def _names(runbook: Runbook) -> dict[str, str]:
    names: dict[str, str] = {}
    for key, spec in runbook.pipelines.items():
        for name in (key, spec.name, *spec.aliases):
            names.setdefault(name.casefold().strip(), key)
    return names


def exact_pipeline(runbook: Runbook, text: str | None) -> str | None:
    """Key, name or alias, ignoring case and spacing, and nothing looser: for machines (alerts), where
    a near miss such as `sales_v2` is another pipeline, not a typo of `sales`."""
    return _names(runbook).get(" ".join((text or "").casefold().split()))


def find_pipeline(runbook: Runbook, text: str | None) -> str | None:
    """For people: also a unique prefix or a close typo (`grwth`)."""
    wanted = " ".join((text or "").casefold().split())
    if not wanted:
        return None
    names = _names(runbook)
    if wanted in names:
        return names[wanted]
    partial = {key for name, key in names.items() if wanted in name.split() or name.startswith(wanted)}
    if len(partial) == 1:
        return partial.pop()
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.75)
    return names[close[0]] if close else None
