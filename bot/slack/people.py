"""Runbook people to Slack mentions: slack_id, else users.lookupByEmail (cached), else a bold name.

A mention is only ever built from an ID Slack gave us, so a typo in the runbook cannot produce a
broken or wrong mention.
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runbook.models import Runbook
from bot.slack.text import escape

log = logging.getLogger("oncall_bot.people")


class Directory:
    def __init__(self, runbook: Runbook, client: AsyncWebClient):
        self.runbook = runbook
        self.client = client
        self._ids: dict[str, str | None] = {
            name: person.slack_id for name, person in runbook.people.items() if person.slack_id
        }

    async def slack_id(self, name: str) -> str | None:
        if name in self._ids:
            return self._ids[name]
        person = self.runbook.people.get(name)
        found = None
        if person and person.email and not person.placeholder:
            try:
                response = await self.client.users_lookupByEmail(email=person.email)
                found = response["user"]["id"]
            except SlackApiError as err:
                code = err.response.get("error")
                if code != "users_not_found":  # a Slack hiccup: show the name now, ask again next time
                    log.warning("lookup of %s failed: %s", name, code)
                    return None
                log.info("no Slack user for %s <%s>", name, person.email)
            except Exception as err:  # Slack unreachable: try again next time, show the name meanwhile
                log.warning("lookup of %s failed: %s", name, err)
                return None
        self._ids[name] = found
        return found

    async def resolve(self, names) -> None:
        await asyncio.gather(*(self.slack_id(n) for n in set(names) if n not in self._ids))

    @property
    def version(self) -> int:
        """Grows as people are resolved; a rendered reply is reusable while it stays the same."""
        return sum(1 for found in self._ids.values() if found)

    def mention(self, name: str | None) -> str:
        """Call `resolve` first; an unresolved person is shown as a bold name."""
        if not name:
            return "_nobody_"
        found = self._ids.get(name)
        return f"<@{found}>" if found else f"*{escape(name)}*"

    def plain(self, name: str | None) -> str:
        return f"*{escape(name)}*" if name else "_nobody_"

    async def person_of(self, user_id: str) -> str | None:
        """The runbook name of a Slack user, if the runbook knows them."""
        await self.resolve(self.runbook.people)
        return next((name for name, found in self._ids.items() if found == user_id), None)
