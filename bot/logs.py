"""Logging for `serve`: bounded lines, and no flood of one message.

A library may log what it was given: Bolt logs the body of a request whose signature fails, which
an attacker chooses (one 200 MB POST, one 200 MB line). Every record is cut to MAX_LINE characters.
The same line repeated many times a second (asyncio's "socket.accept() out of system resource" when
the process runs out of file descriptors) is shown BURST times per FLOOD_INTERVAL, then once more
with the count of those held back.
"""

from __future__ import annotations

import logging
import sys
import time

MAX_LINE = 2000
BURST = 5
FLOOD_INTERVAL = 60.0


class Bounded(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[tuple[str, str], list] = {}  # (logger, line) → [window start, shown, held back]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > MAX_LINE:
            message = f"{message[:MAX_LINE]}… ({len(message) - MAX_LINE} more characters cut)"
        now = time.monotonic()
        key = (record.name, message[:300])
        window = self.seen.get(key)
        if window is None or now - window[0] >= FLOOD_INTERVAL:
            if len(self.seen) > 10_000:
                self.seen.clear()
            held = window[2] if window else 0
            self.seen[key] = window = [now, 0, 0]
            if held:
                message += f" (and {held} more times in the last {FLOOD_INTERVAL:.0f} s)"
        window[1] += 1
        if window[1] > BURST:
            window[2] += 1
            return False
        record.msg, record.args = message, None
        return True


def configure() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Bounded())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
