"""Commands that check, describe or run the bot: validate, schema, serve, manifest, a test alert."""

from __future__ import annotations

import json
import os
import sys

from bot.cli.common import load_args


def cmd_validate(args) -> int:
    loaded = load_args(args)
    rb = loaded.runbook
    print(f"{loaded.path}: OK: team {rb.team.name!r}, {len(rb.people)} people, {len(rb.rotations)} rotation(s), "
          f"{len(rb.pipelines)} pipelines, {len(rb.signatures)} team-wide signatures")
    for warning in loaded.warnings:
        print(f"warning: {warning}")
    waiting = [k for k, p in rb.pipelines.items() if p.schedule and p.sla and p.sla.data_ready_by is not None
               and p.sla.watch == "after_first_success"]
    if waiting:  # the file alone cannot say whether they have reported yet: `/healthz` and the handoff can
        print(f"note: the SLA of {', '.join(waiting)} is watched once each has reported a success "
              f"(sla.watch: always watches from the start)")
    unscheduled = [k for k, p in rb.pipelines.items() if not p.schedule and p.sla and p.sla.data_ready_by is not None]
    if unscheduled:
        print(f"note: the SLA of {', '.join(unscheduled)} is not watched: no schedule, so no run to watch")
    return 0


def cmd_schema(args) -> int:
    from bot.runbook.models import Runbook

    print(json.dumps(Runbook.model_json_schema(mode="validation"), indent=2))
    return 0


def cmd_serve(args) -> int:
    from bot.serve import serve

    return serve(runbook=args.runbook, host=args.host, port=args.port)


def cmd_manifest(args) -> int:
    from bot.slack.manifest import manifest_yaml

    rb = load_args(args).runbook
    sys.stdout.write(manifest_yaml(rb.team.name, args.url, socket_mode=args.socket_mode))
    return 0


def cmd_alert(args) -> int:
    import urllib.error
    import urllib.request

    base = args.url or f"http://127.0.0.1:{os.environ.get('PORT') or 3000}"
    payload = {"pipeline": args.pipeline, "status": args.status,
               "error": sys.stdin.read() if args.error == "-" else args.error,
               "run_id": args.run_id, "log_url": args.log_url}
    body = json.dumps({k: v for k, v in payload.items() if v}).encode()
    request = urllib.request.Request(base.rstrip("/") + "/alerts", data=body, method="POST",
                                     headers={"content-type": "application/json"})
    token = args.token or os.environ.get("ALERTS_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(f"{response.status}: {response.read().decode()}")
            return 0
    except urllib.error.HTTPError as err:
        print(f"{err.code}: {err.read().decode()}", file=sys.stderr)
        return 1
    except urllib.error.URLError as err:
        print(f"cannot reach the bot at {base}: {err.reason}", file=sys.stderr)
        return 1

