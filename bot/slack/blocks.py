"""Block Kit for replies and views, built with slack_sdk.models.blocks and always with a text fallback.

Every section is cut to Slack's 3,000 characters and every message to 50 blocks (100 for views),
so long runbooks or schedules degrade to an ellipsis instead of a failed post.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.slack.text import cut, escape

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
TEXT_LIMIT = 3900


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[Block]

    @cached_property
    def _dicts(self) -> list[dict]:
        return [b.to_dict() for b in self.blocks]  # validates every block against Slack's limits

    def payload(self) -> dict:
        return {"text": self.text, "blocks": self._dicts}


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=cut(text, HEADER_LIMIT))


def section(mrkdwn: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=cut(mrkdwn, SECTION_LIMIT)))


def fields(pairs: list[tuple[str, str]]) -> SectionBlock:
    return SectionBlock(fields=[MarkdownTextObject(text=cut(f"*{label}*\n{value}", 2000)) for label, value in pairs[:10]])


def context(mrkdwn: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=cut(mrkdwn, SECTION_LIMIT))])


def divider() -> DividerBlock:
    return DividerBlock()


def message(text: str, blocks: list[Block], limit: int = MESSAGE_BLOCKS) -> Message:
    if len(blocks) > limit:
        blocks = blocks[: limit - 1] + [context(f"{len(blocks) - limit + 1} more block(s) left out…")]
    return Message(cut(text, TEXT_LIMIT), blocks)


def bullet_list(lines: list[str]) -> str:
    return "\n".join(f"• {line}" for line in lines)


__all__ = ["Message", "bullet_list", "context", "divider", "escape", "fields", "header", "message", "section"]
