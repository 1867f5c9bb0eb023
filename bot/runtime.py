"""Everything a running bot shares: settings, the runbook, the Slack client and the clock.

Handlers read the clock here, at the edge; the domain below always gets `now` as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.metrics import Metrics
from bot.runbook.models import Runbook
from bot.slack.client import SlackHealth, make_client
from bot.slack.people import Directory


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    runbook: Runbook
    runbook_path: str
    client: AsyncWebClient
    directory: Directory
    metrics: Metrics
    health: SlackHealth
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def build(cls, settings: Settings, runbook: Runbook, runbook_path: str) -> "Runtime":
        metrics, health = Metrics(), SlackHealth()
        client = make_client(settings, metrics, health)
        return cls(settings, runbook, runbook_path, client, Directory(runbook, client), metrics, health)

    async def database_status(self) -> dict:
        from bot.store.health import check

        return await check(self.settings.database_url)

    def overrides(self) -> list:
        """Overrides beyond the runbook's own (swaps made in Slack live in the store)."""
        return []
