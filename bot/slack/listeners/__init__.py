"""One registration point, one module per kind of listener (as in bolt-python's samples)."""

from slack_bolt.async_app import AsyncApp

from bot.runtime import Runtime
from bot.slack.listeners import commands, home, incidents, swaps, weekly_checks


def register(app: AsyncApp, runtime: Runtime) -> None:
    commands.register(app, runtime)
    home.register(app, runtime)
    incidents.register(app, runtime)
    swaps.register(app, runtime)
    weekly_checks.register(app, runtime)
