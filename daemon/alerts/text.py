"""Making outside text safe for Slack mrkdwn and for a terminal, and fitting it into limits."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

ELLIPSIS = "…"
MAX_LINK_URL = 2000

_MRKDWN_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_WHITESPACE = re.compile(r"\s+")
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f<>|\"`\\^{}]")


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as control sequences in mrkdwn and text."""
    return "".join(_MRKDWN_ESCAPES.get(char, char) for char in text)


_BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def strip_controls(text: str) -> str:
    """Drop control characters (terminal escapes, NUL) and bidi overrides; keep newlines, tabs."""
    return "".join(
        char
        for char in text
        if char in "\n\t" or (unicodedata.category(char) != "Cc" and char not in _BIDI_OVERRIDES)
    )


def one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", strip_controls(text)).strip()


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def escape_fit(text: str, budget: int) -> str:
    """Escape ``text`` for mrkdwn, cutting the raw text so the escaped result fits ``budget``.

    Cutting happens between raw characters, so an entity such as ``&amp;`` is never split.
    """
    escaped = escape_mrkdwn(text)
    if len(escaped) <= budget:
        return escaped
    parts: list[str] = []
    used = 0
    room = budget - len(ELLIPSIS)
    for char in text:
        piece = _MRKDWN_ESCAPES.get(char, char)
        if used + len(piece) > room:
            break
        parts.append(piece)
        used += len(piece)
    return "".join(parts).rstrip() + ELLIPSIS


def safe_url(url: str | None) -> str | None:
    """Return ``url`` in a form that is safe inside ``<url|label>``, or None if it is not http(s).

    Characters that would end or split the link (``|``, ``>``, ``<``, spaces, controls) are
    percent-encoded and ``&`` is written as ``&amp;``, as Slack expects inside angle brackets.
    """
    if not url:
        return None
    candidate = url.strip()
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    encoded = _URL_UNSAFE.sub(lambda found: quote(found.group(0), safe=""), candidate)
    encoded = encoded.replace("&", "&amp;")
    if len(encoded) > MAX_LINK_URL:
        return None
    return encoded


def host_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.removeprefix("www.")


def join_within(parts: list[str], separator: str, budget: int) -> str:
    """Join already-rendered parts, dropping whole parts (never splitting one) to fit ``budget``."""
    kept: list[str] = []
    used = 0
    for index, part in enumerate(parts):
        cost = len(part) + (len(separator) if kept else 0)
        reserve = len(separator) + len(ELLIPSIS) if index < len(parts) - 1 else 0
        if used + cost + reserve > budget:
            kept.append(ELLIPSIS)
            break
        kept.append(part)
        used += cost
    return separator.join(kept)


@dataclass(frozen=True)
class Segment:
    """A run of raw story text, highlighted or not."""

    text: str
    highlighted: bool = False


def render_mrkdwn(segments: list[Segment], budget: int) -> str:
    """Escape and join segments, highlighted ones in ``*bold*``, within ``budget`` characters.

    A literal ``*`` in the story becomes ``∗`` so it cannot open or close bold. Where a highlight
    touches a letter (Chinese, Japanese), a zero-width space lets Slack see the bold markers.
    """
    out: list[str] = []
    used = 0
    for index, segment in enumerate(segments):
        before = segments[index - 1].text[-1:] if index > 0 else ""
        after = segments[index + 1].text[:1] if index + 1 < len(segments) else ""
        text = segment.text.replace("*", "∗")
        if segment.highlighted:
            opening = ("\u200b" if before.isalnum() else "") + "*"
            closing = "*" + ("\u200b" if after.isalnum() else "")
        else:
            opening = closing = ""
        marks = len(opening) + len(closing)
        reserve = len(ELLIPSIS) if index < len(segments) - 1 else 0
        escaped = escape_mrkdwn(text)
        if used + len(escaped) + marks <= budget - reserve:
            out.append(opening + escaped + closing)
            used += len(escaped) + marks
            continue
        room = budget - used - marks - len(ELLIPSIS)
        if room > 1:
            cut = escape_fit(text, room + len(ELLIPSIS)).removesuffix(ELLIPSIS).rstrip()
            if cut:
                out.append(opening + cut + closing)
        out.append(ELLIPSIS)
        break
    return "".join(out)


def render_plain(segments: list[Segment], budget: int) -> str:
    """Join segments for a terminal, highlighted ones in [brackets], within ``budget``."""
    text = "".join(f"[{s.text}]" if s.highlighted else s.text for s in segments)
    return truncate(text, budget)
