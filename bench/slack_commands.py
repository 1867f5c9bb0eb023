"""Bench: signed /oncall requests against `oncall-bot serve` (dry-run), a bare Bolt AsyncApp and a bare
Starlette endpoint, at concurrency 1 and 32.

    python bench/slack_commands.py [--seconds 10]

Prints requests/s, p50 and p99 per server and concurrency, serve's share of the bare Bolt app's
throughput, its resident memory after warm-up and its time to ready.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_sdk.signature import SignatureVerifier  # noqa: E402

from bench.loadgen import ROOT, Server, free_port, load, python  # noqa: E402

SECRET = "bench-secret"
BODY = ("token=x&team_id=T0TEAM&team_domain=fake&channel_id=C0&channel_name=data-oncall&user_id=U0ANNA"
        "&user_name=anna&command=%2Foncall&text=&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fr&trigger_id={trigger}"
        "&api_app_id=A0")
VERIFIER = SignatureVerifier(SECRET)
_triggers = itertools.count(1)


def signed():
    """Each request its own trigger_id and signature, as Slack sends them (`serve` refuses replays)."""
    now = str(int(time.time()))
    body = BODY.format(trigger=f"{next(_triggers)}.2.3")
    return body.encode(), {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": now,
                           "x-slack-signature": VERIFIER.generate_signature(timestamp=now, body=body)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oncall-bench-"))
    env = {"SLACK_SIGNING_SECRET": SECRET, "RUNBOOKS_PATH": str(ROOT / "runbooks.yaml"),
           "DATABASE_URL": f"sqlite:///{tmp}/bench.db", "SLACK_BOT_TOKEN": ""}
    servers = [
        ("oncall-bot serve", [python(), "-m", "bot", "serve", "--host", "127.0.0.1"]),
        ("bare Bolt AsyncApp", [python(), str(ROOT / "bench" / "baselines.py"), "bolt", "{port}", SECRET]),
        ("bare Starlette", [python(), str(ROOT / "bench" / "baselines.py"), "starlette", "{port}"]),
    ]
    results = {}
    notes = []
    for label, argv in servers:
        port = free_port()
        server = Server([a.replace("{port}", str(port)) for a in argv], env, port, cwd=tmp)
        try:
            for concurrency in (1, 32):
                result = load(label, server.url + "/slack/events", signed, concurrency, args.seconds)
                results[(label, concurrency)] = result
                print(result.row(), flush=True)
            if label == "oncall-bot serve":
                notes.append(f"serve: ready {server.ready:.2f} s after start, RSS after warm-up {server.rss_mb():.0f} MB")
        finally:
            server.stop()
    ours, ceiling = results[("oncall-bot serve", 32)], results[("bare Bolt AsyncApp", 32)]
    notes.append(f"serve at c=32: {ours.rate / ceiling.rate:.0%} of the bare Bolt app's throughput, "
                 f"p99 {ours.pct(0.99):.1f} ms")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
