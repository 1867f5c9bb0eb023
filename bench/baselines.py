"""Ceilings for the benches, served by uvicorn exactly like `oncall-bot serve`.

    python bench/baselines.py bolt PORT       # a bare Bolt AsyncApp that acks /oncall with a fixed text
    python bench/baselines.py starlette PORT  # a bare Starlette endpoint: the server's ceiling
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


def bare_starlette() -> Starlette:
    async def endpoint(request):
        await request.body()
        return JSONResponse({"text": "ok", "response_type": "ephemeral"})

    async def health(request):
        return JSONResponse({"status": "ok"})

    async def alerts(request):
        await request.json()
        return JSONResponse({"incident": 1, "deduplicated": False}, status_code=202)

    return Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"]),
                             Route("/alerts", alerts, methods=["POST"]),
                             Route("/healthz", health)])


def bare_bolt(secret: str) -> Starlette:
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.authorization import AuthorizeResult

    async def authorize(**_):
        return AuthorizeResult(enterprise_id=None, team_id="T", bot_token="xoxb-x", bot_user_id="U", bot_id="B")

    # Configured like oncall-bot's app (answers in the ack, process_before_response), so it is a ceiling.
    app = AsyncApp(signing_secret=secret, authorize=authorize, process_before_response=True)

    @app.command("/oncall")
    async def oncall(ack):
        await ack(text="Someone is on call.")

    handler = AsyncSlackRequestHandler(app)

    async def events(request):
        return await handler.handle(request)

    async def health(request):
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", health)])


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    app = bare_bolt(sys.argv[3] if len(sys.argv) > 3 else "bench-secret") if kind == "bolt" else bare_starlette()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
