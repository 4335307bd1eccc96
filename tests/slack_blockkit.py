"""Slack's limits on a message and its Block Kit layout, as chat.postMessage enforces them."""

from __future__ import annotations

from typing import Any

KNOWN_BLOCKS = frozenset(
    {"section", "header", "context", "divider", "actions", "image", "rich_text", "input", "file"}
)
MAX_TEXT = 40000


class BlockKitError(Exception):
    """What Slack answers for a message it refuses: invalid_blocks, msg_too_long, no_text…"""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def validate_message(text: Any, blocks: Any) -> None:
    text = text or ""
    if not isinstance(text, str):
        raise BlockKitError("invalid_arguments")
    if not text.strip() and not blocks:
        raise BlockKitError("no_text")
    if len(text) > MAX_TEXT:
        raise BlockKitError("msg_too_long")
    if blocks is not None:
        _validate_blocks(blocks)


def _validate_blocks(blocks: Any) -> None:
    if not isinstance(blocks, list) or len(blocks) > 50:
        raise BlockKitError("invalid_blocks")
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in KNOWN_BLOCKS:
            raise BlockKitError("invalid_blocks")
        kind = block["type"]
        if kind == "header":
            _check_text(block.get("text"), 150, plain_only=True)
        elif kind == "section":
            if block.get("text") is None and not block.get("fields"):
                raise BlockKitError("invalid_blocks")
            if block.get("text") is not None:
                _check_text(block["text"], 3000)
            fields = block.get("fields") or []
            if len(fields) > 10:
                raise BlockKitError("invalid_blocks")
            for item in fields:
                _check_text(item, 2000)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                raise BlockKitError("invalid_blocks")
            for element in elements:
                if element.get("type") in {"mrkdwn", "plain_text"}:
                    _check_text(element, 3000)


def _check_text(obj: Any, limit: int, plain_only: bool = False) -> None:
    allowed = {"plain_text"} if plain_only else {"plain_text", "mrkdwn"}
    if not isinstance(obj, dict) or obj.get("type") not in allowed:
        raise BlockKitError("invalid_blocks")
    text = obj.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= limit:
        raise BlockKitError("invalid_blocks")
