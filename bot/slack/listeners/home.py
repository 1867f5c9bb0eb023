"""App Home: published on every visit, so it is always current."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.runtime import Runtime
from bot.slack.replies.home import home_view

log = logging.getLogger("oncall_bot.home")


async def home_opened(event: dict, context: AsyncBoltContext) -> None:
    rt: Runtime = context["rt"]
    if event.get("tab", "home") != "home":
        return
    rt.spawn(publish(rt, event["user"]))


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(home_opened)


async def publish(rt: Runtime, user_id: str) -> None:
    view = await home_view(rt.runbook, rt.directory, user_id, rt.clock(), rt.overrides())
    await rt.client.views_publish(user_id=user_id, view=view)
