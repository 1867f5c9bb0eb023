"""App Home: published on every visit, so it is always current."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from bot.runtime import Runtime
from bot.slack.replies.home import home_view

log = logging.getLogger("oncall_bot.home")


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict) -> None:
        if event.get("tab", "home") != "home":
            return
        view = await home_view(rt.runbook, rt.directory, event["user"], rt.clock(), rt.overrides())
        await rt.client.views_publish(user_id=event["user"], view=view)
