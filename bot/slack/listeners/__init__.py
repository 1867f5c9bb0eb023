"""One registration point, one module per kind of listener (as in bolt-python's samples)."""

from slack_bolt.async_app import AsyncApp

from bot.runtime import Runtime
from bot.slack.listeners import checks, commands, home, incidents, swaps


def register(app: AsyncApp, runtime: Runtime) -> None:
    commands.register(app, runtime)
    home.register(app, runtime)
    incidents.register(app, runtime)
    swaps.register(app, runtime)
    checks.register(app, runtime)
