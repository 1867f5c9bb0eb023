"""Values derived from a runbook alone, computed once per runbook object.

Runbooks are frozen but unhashable (their fields are dicts), so functools' caches cannot key on them.
This keys on identity and holds the runbook weakly: a reloaded runbook gets fresh values, and an id
reused by a later object is never mistaken for the old one.
"""

from __future__ import annotations

import functools
import weakref
from typing import Callable, TypeVar

from bot.runbook.models import Runbook

T = TypeVar("T")

_KEEP = 16  # runbooks alive at once: one in the server, a few in tests


def per_runbook(fn: Callable[[Runbook], T]) -> Callable[[Runbook], T]:
    cache: dict[int, tuple[weakref.ref, T]] = {}

    @functools.wraps(fn)
    def cached(runbook: Runbook) -> T:
        hit = cache.get(id(runbook))
        if hit is not None and hit[0]() is runbook:
            return hit[1]
        value = fn(runbook)
        if len(cache) >= _KEEP:
            cache.clear()
        cache[id(runbook)] = (weakref.ref(runbook), value)
        return value

    return cached
