"""Which pipeline's data feeds which: the runbook's `depends_on`, plus the edges OpenLineage datasets show.

An edge (a, b) means b reads what a writes: a failure of a explains b's failure or lateness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from bot.runbook.models import Runbook


@dataclass(frozen=True)
class Lineage:
    declared: frozenset[tuple[str, str]]
    seen: frozenset[tuple[str, str]]      # from datasets one pipeline wrote and another read

    @property
    def edges(self) -> frozenset[tuple[str, str]]:
        return self.declared | self.seen

    def upstream(self, key: str) -> list[str]:
        return sorted(a for a, b in self.edges if b == key)

    def feeds(self, key: str) -> list[str]:
        return sorted(b for a, b in self.edges if a == key)

    def ancestors(self, key: str) -> list[str]:
        """Every pipeline whose data reaches `key`, nearest first (a loop among seen edges ends the walk)."""
        order: list[str] = []
        frontier = [key]
        while frontier:
            nearer = []
            for node in frontier:
                for parent in self.upstream(node):
                    if parent != key and parent not in order:
                        order.append(parent)
                        nearer.append(parent)
            frontier = nearer
        return order

    def how(self, a: str, b: str) -> str:
        """Why a feeds b: declared in the runbook, or seen in OpenLineage datasets."""
        return "declared" if (a, b) in self.declared else "datasets"


def lineage_of(runbook: Runbook, seen: Iterable[tuple[str, str]] = ()) -> Lineage:
    """The runbook's graph plus `seen` edges; edges naming pipelines the runbook no longer has are dropped."""
    declared = frozenset((up, key) for key, p in runbook.pipelines.items() for up in p.depends_on
                         if up in runbook.pipelines)
    known = frozenset((a, b) for a, b in seen if a != b and a in runbook.pipelines and b in runbook.pipelines)
    return Lineage(declared, known - declared)
