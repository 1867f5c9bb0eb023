"""Settings from the environment (the contract in DESIGN.md), checked once at start-up."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///oncall.db"
DEFAULT_RUNBOOKS_PATH = "runbooks.yaml"


def configured_database_url(env: dict[str, str] | None = None) -> str | None:
    """DATABASE_URL as set, or None: the one reading of it (`serve`, the CLI and the store ask here)."""
    env = os.environ if env is None else env
    return env.get("DATABASE_URL") or None


def database_url(env: dict[str, str] | None = None) -> str:
    return configured_database_url(env) or DEFAULT_DATABASE_URL


def runbooks_path(env: dict[str, str] | None = None) -> str:
    """RUNBOOKS_PATH: the one reading of it."""
    env = os.environ if env is None else env
    return env.get("RUNBOOKS_PATH") or DEFAULT_RUNBOOKS_PATH


class ConfigError(Exception):
    """A setting that stops start-up; the message says how to fix it."""


@dataclass(frozen=True)
class Settings:
    bot_token: str | None
    signing_secret: str
    app_token: str | None
    api_url: str
    runbooks_path: str
    database_url: str
    alerts_token: str | None
    port: int
    generated_secret: bool = False
    calendar_key: str | None = None  # ICS_KEY: the secret that makes /oncall.ics?key=… a private feed URL

    @property
    def dry_run(self) -> bool:
        return not self.bot_token

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    @property
    def mode(self) -> str:
        return "dry-run" if self.dry_run else ("socket" if self.socket_mode else "http")


def from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    token = env.get("SLACK_BOT_TOKEN") or None
    secret = env.get("SLACK_SIGNING_SECRET") or ""
    app_token = env.get("SLACK_APP_TOKEN") or None
    generated = False
    if env.get("SLACK_CLIENT_ID") and env.get("SLACK_CLIENT_SECRET"):
        # Bolt would silently switch to a multi-workspace OAuth flow and drop the bot token.
        raise ConfigError("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set, but oncall-bot installs into one "
                          "workspace with SLACK_BOT_TOKEN: unset them")
    if token and not token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb- (OAuth & Permissions page)")
    if app_token and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp- (Basic Information page)")
    if not secret:
        if token and not app_token:
            raise ConfigError("SLACK_SIGNING_SECRET is required to verify Slack's requests over HTTP "
                              "(Basic Information > App Credentials), or set SLACK_APP_TOKEN for Socket Mode")
        # Dry-run and Socket Mode get no signed HTTP requests from Slack; a random secret keeps
        # /slack/events closed to unsigned callers.
        secret, generated = secrets.token_hex(16), True
    try:
        port = int(env.get("PORT") or 3000)
    except ValueError:
        raise ConfigError(f"PORT must be a number, not {env.get('PORT')!r}") from None
    api_url = env.get("SLACK_API_URL") or DEFAULT_API_URL
    if not api_url.endswith("/"):
        api_url += "/"
    return Settings(
        bot_token=token,
        signing_secret=secret,
        app_token=app_token,
        api_url=api_url,
        runbooks_path=runbooks_path(env),
        database_url=database_url(env),
        alerts_token=env.get("ALERTS_TOKEN") or None,
        port=port,
        generated_secret=generated,
        calendar_key=env.get("ICS_KEY") or None,
    )
