"""The one Slack Web API client the bot uses: counted, logged, rate-limit aware, or dry-run.

Bolt hands listeners a per-request copy of its client that drops subclasses, so our code always
calls this client, never Bolt's `client` argument.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.config import Settings
from bot.metrics import Metrics

log = logging.getLogger("oncall_bot.slack")


@dataclass
class SlackHealth:
    """What the last calls said about Slack; /healthz reports it."""

    ok: bool | None = None
    last_error: str | None = None
    calls: int = 0

    def as_dict(self) -> dict:
        return {"reachable": self.ok, "last_error": self.last_error, "calls": self.calls}


# A post whose answer was lost may have landed: only the outbox retries it, after looking for it in
# the channel's history. Every other method the bot calls can safely be sent twice.
NOT_RETRIED = ("chat.postMessage", "chat.postEphemeral")


def _idempotent_only(handler_class):
    class Handler(handler_class):
        async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:
            if request.url.rstrip("/").endswith(NOT_RETRIED):
                return False
            return await super()._can_retry_async(state=state, request=request, response=response, error=error)

    Handler.__name__ = f"IdempotentOnly{handler_class.__name__}"
    return Handler


class CountingClient(AsyncWebClient):
    """Counts calls and errors per method; 429 waits for Retry-After, 5xx and resets are retried,
    except for posts (see NOT_RETRIED)."""

    def __init__(self, *args, metrics: Metrics, health: SlackHealth, **kwargs):
        kwargs.setdefault("retry_handlers", [
            _idempotent_only(AsyncRateLimitErrorRetryHandler)(max_retry_count=3),
            _idempotent_only(AsyncServerErrorRetryHandler)(max_retry_count=2),
            _idempotent_only(AsyncConnectionErrorRetryHandler)(max_retry_count=2),
        ])
        super().__init__(*args, **kwargs)
        self.metrics = metrics
        self.health = health

    async def api_call(self, api_method: str, **kwargs) -> AsyncSlackResponse:
        self.metrics.slack_calls.labels(api_method).inc()
        self.health.calls += 1
        try:
            response = await super().api_call(api_method, **kwargs)
        except SlackApiError as err:
            code = str(err.response.get("error") or err.response.status_code)
            self._failed(api_method, code, reachable=err.response.status_code < 500)
            raise
        except Exception as err:  # connection refused, timeouts: Slack unreachable
            self._failed(api_method, type(err).__name__, reachable=False)
            raise
        self.health.ok = True
        return response

    def _failed(self, method: str, code: str, reachable: bool) -> None:
        self.metrics.slack_errors.labels(method, code).inc()
        log.warning("slack call %s failed: %s", method, code)
        if not reachable:
            self.health.ok = False
            self.health.last_error = f"{method}: {code}"


class DryRunClient(AsyncWebClient):
    """Prints each call as one JSON line instead of sending it, and answers like Slack would."""

    def __init__(self, *args, metrics: Metrics, health: SlackHealth, out=None, **kwargs):
        super().__init__(*args, token=None, **kwargs)
        self.metrics = metrics
        self.health = health
        self.out = out or sys.stdout

    async def api_call(self, api_method: str, **kwargs) -> AsyncSlackResponse:
        self.metrics.slack_calls.labels(api_method).inc()
        self.health.calls += 1
        args = {k: v for k, v in {**(kwargs.get("params") or {}), **(kwargs.get("data") or {}),
                                  **(kwargs.get("json") or {})}.items() if v is not None}
        print(json.dumps({"dry_run": True, "method": api_method, "args": args}, default=str), file=self.out, flush=True)
        data: dict = {"ok": True}
        if api_method in ("chat.postMessage", "chat.update"):
            data.update(channel=args.get("channel"), ts=args.get("ts") or f"{time.time():.6f}")
        elif api_method == "users.lookupByEmail":
            data = {"ok": False, "error": "users_not_found"}  # nobody to look up without Slack
        elif api_method == "conversations.open":
            data.update(channel={"id": f"D-{args.get('users')}"})
        response = AsyncSlackResponse(client=self, http_verb="POST", api_url=self.base_url + api_method,
                                      req_args={}, data=data, headers={}, status_code=200)
        return response.validate()


def make_client(settings: Settings, metrics: Metrics, health: SlackHealth) -> AsyncWebClient:
    if settings.dry_run:
        return DryRunClient(base_url=settings.api_url, metrics=metrics, health=health)
    return CountingClient(token=settings.bot_token, base_url=settings.api_url, timeout=10,
                          metrics=metrics, health=health)
