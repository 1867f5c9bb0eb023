"""The tests' fake Slack as a process for the benches: logs every call as a JSON line to a file.

    python bench/fake_slack_server.py PORT LOGFILE
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakeslack import FakeSlack  # noqa: E402


def main() -> None:
    port, log_path = int(sys.argv[1]), Path(sys.argv[2])
    fake = FakeSlack(port=port)
    log = log_path.open("a")
    original = fake._answer

    def logged(method, args, headers):
        status, extra, body = original(method, args, headers)
        call = fake.calls[-1]
        log.write(json.dumps({"method": method, "channel": args.get("channel"), "at": call.at,
                              "thread": bool(args.get("thread_ts")), "status": status,
                              "text": str(args.get("text") or "")[:80]}) + "\n")
        log.flush()
        return status, extra, body

    fake._answer = logged
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    fake.close()


if __name__ == "__main__":
    main()
