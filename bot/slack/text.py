"""Safe mrkdwn: untrusted text escaped, dates as Slack tokens, lengths cut to Slack's limits."""

from __future__ import annotations

import re
from datetime import datetime

from bot.domain.timeutil import utc_text

_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
# Bidirectional controls (U+202A-U+202E, U+2066-U+2069) reorder what follows them on screen: an
# error text could show "exe.txt" for "txt.exe", or a different run id. They are made visible.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
ELLIPSIS = "…"


def escape(text: str | None) -> str:
    """Neutralise untrusted text: no <!channel>, no forged <@U..> mention, no disguised <url|label> link.

    Slack parses only `&`, `<` and `>` as control characters; a zero-width joiner after `@` keeps a
    literal "@channel" from being linked even where Slack's auto-linking would do it.
    """
    if not text:
        return ""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _BIDI.sub(lambda m: f"[U+{ord(m[0]):04X}]", text)
    return _BROADCAST.sub(lambda m: "@\u2060" + m.group(1), text)


def is_user_id(value: str | None) -> bool:
    """A Slack user ID (U… or W…), as a click or a command gives it: safe to put in a mention."""
    return bool(value) and value[0] in "UW" and value.isalnum()


def user_mention(user_id: str | None, name: str | None = None, nobody: str = "_nobody_") -> str:
    """The one way a person is shown: a mention from their Slack ID, else their name in bold."""
    if is_user_id(user_id):
        return f"<@{user_id}>"
    return f"*{escape(name)}*" if name else nobody


def unescape(text: str | None) -> str:
    """Slash-command text arrives with `&`, `<`, `>` typed by the user already escaped by Slack;
    undo that before storing, so escaping on the way out does not double it."""
    return (text or "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def date_token(at: datetime, style: str = "{date_short_pretty} {time}") -> str:
    """A date every reader sees in their own zone, with a UTC fallback for old clients."""
    fallback = utc_text(at)
    return f"<!date^{int(at.timestamp())}^{style}|{fallback}>"


def code_block(text: str, limit: int) -> str:
    body = cut(text.replace("```", "'''"), limit - 8)
    return f"```{body}```"
