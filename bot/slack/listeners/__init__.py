"""One registration point, one module per kind of listener (as in bolt-python's samples)."""

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners import commands, home, incidents, swaps, weekly_checks


def register(app: AsyncApp) -> None:
    commands.register(app)
    home.register(app)
    incidents.register(app)
    swaps.register(app)
    weekly_checks.register(app)
