"""Match an error text to the runbook's common issues: the pipeline's own first, then team-wide ones."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.runbook.models import CommonIssue, Runbook

# Logs can be huge; remediation signatures show up near the top or in the "Caused by" lines.
MAX_SCAN = 200_000


@dataclass(frozen=True)
class Match:
    title: str
    remediation: str
    pattern: str
    line: str
    line_number: int
    scope: str  # "pipeline" or "team"
    id: str | None = None


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE | re.MULTILINE)


def candidates(runbook: Runbook, pipeline: str | None) -> list[tuple[str, CommonIssue]]:
    spec = runbook.pipelines.get(pipeline) if pipeline else None
    own = [("pipeline", issue) for issue in (spec.common_issues if spec else [])]
    return own + [("team", issue) for issue in runbook.signatures]


def triage(runbook: Runbook, pipeline: str | None, error: str | None) -> Match | None:
    """The first common issue whose pattern occurs in `error`, or None: an honest "no known issue"."""
    text = (error or "")[:MAX_SCAN]
    if not text.strip():
        return None
    for scope, issue in candidates(runbook, pipeline):
        for pattern in issue.match:
            found = _compiled(pattern).search(text)
            if found:
                start = text.rfind("\n", 0, found.start()) + 1
                end = text.find("\n", found.end())
                line = text[start: end if end != -1 else len(text)].strip()
                return Match(issue.title, issue.remediation, pattern, line, text.count("\n", 0, found.start()) + 1,
                             scope, issue.id)
    return None
