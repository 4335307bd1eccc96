"""Pure rendering of an Alert: Slack Block Kit with a mrkdwn fallback, and plain console text.

Every piece of text that comes from a feed or a rule file is escaped here; links are built only
from http(s) URLs, so a story cannot mention ``<!channel>`` or smuggle in a link of its own.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from daemon.alerts.text import (
    ELLIPSIS,
    Segment,
    escape_fit,
    escape_mrkdwn,
    host_of,
    join_within,
    one_line,
    render_mrkdwn,
    render_plain,
    safe_url,
    truncate,
)
from daemon.models import Alert, Hit, Match, Story

METADATA_EVENT_TYPE = "sanctionwatch_alert"

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_TEXT = 2000

SNIPPET_CHARS = 480
SNIPPET_LEAD = 160
TITLE_CHARS = 300
RULE_TITLE_CHARS = 200
OUTLET_CHARS = 100
TERMS_PER_GROUP = 6

SEVERITY_EMOJI = {
    "critical": "🚨",
    "high": "🔴",
    "medium": "🟠",
    "low": "🟡",
}
DEFAULT_SEVERITY_EMOJI = "⚪"
STORY_FIELDS = ("title", "summary", "content")


@dataclass(frozen=True)
class Message:
    """A rendered alert, ready for any Sender.

    ``text`` is the mrkdwn fallback Slack shows in notifications, ``blocks`` the Block Kit layout,
    ``metadata`` the Slack message metadata carrying the alert id (used to find a message again
    after a crash), ``console_text`` the plain rendering for standard output.
    """

    text: str
    blocks: tuple[dict[str, Any], ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    console_text: str = ""


def format_alert(alert: Alert, now: datetime) -> Message:
    story, hit = alert.story, alert.hit
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header(hit), "emoji": True}},
        _section(_story_text(story, hit, now)),
    ]
    snippet = _snippet_mrkdwn(story, hit)
    if snippet:
        blocks.append(_section(snippet))
    matched = _matched_mrkdwn(hit)
    if matched:
        blocks.append(_section(matched))
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _context_mrkdwn(alert), "verbatim": True}],
        }
    )
    return Message(
        text=_fallback_text(story, hit),
        blocks=tuple(blocks[:MAX_BLOCKS]),
        metadata={
            "event_type": METADATA_EVENT_TYPE,
            "event_payload": {"alert_id": alert.id, "story_id": story.id, "rule": hit.rule_id},
        },
        console_text=format_console(alert, now),
    )


def format_console(alert: Alert, now: datetime) -> str:
    story, hit = alert.story, alert.hit
    lines = [
        f"{_severity_label(hit)} · {_category_label(hit)} — "
        + truncate(one_line(hit.rule_title), RULE_TITLE_CHARS),
        "  " + truncate(one_line(story.title) or "(untitled story)", TITLE_CHARS),
    ]
    if story.link:
        lines.append("  " + truncate(one_line(story.link), 500))
    lines.append(f"  {_outlet(story)} · {_published(story, now)}")
    snippet = _snippet_segments(story, hit)
    if snippet:
        lines.append("  “" + render_plain(snippet, SNIPPET_CHARS + 40) + "”")
    terms = _terms_by_group(hit)
    if terms:
        lines.append("  Matched: " + "; ".join(f"{g}: {', '.join(ts)}" for g, ts in terms.items()))
    lines.append("  " + _context_plain(alert))
    return "\n".join(lines) + "\n"


def relative_time(then: datetime, now: datetime) -> str:
    seconds = (_as_utc(now) - _as_utc(then)).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        amount = f"{int(seconds // 60)} min"
    elif seconds < 48 * 3600:
        amount = f"{int(seconds // 3600)} h"
    else:
        amount = f"{int(seconds // 86400)} d"
    return f"in {amount}" if future else f"{amount} ago"


def _header(hit: Hit) -> str:
    emoji = SEVERITY_EMOJI.get(hit.severity.lower(), DEFAULT_SEVERITY_EMOJI)
    return truncate(f"{emoji} {_severity_label(hit)} · {_category_label(hit)}", MAX_HEADER_TEXT)


def _severity_label(hit: Hit) -> str:
    return truncate(one_line(hit.severity).upper() or "UNRATED", 20)


def _category_label(hit: Hit) -> str:
    label = one_line(hit.category.replace("_", " "))
    return truncate(label[:1].upper() + label[1:], 80) if label else "Uncategorised"


def _section(text: str) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_TEXT], "verbatim": True},
    }


def _story_text(story: Story, hit: Hit, now: datetime) -> str:
    rule_title = escape_fit(one_line(hit.rule_title), RULE_TITLE_CHARS)
    title = escape_fit(one_line(story.title) or "(untitled story)", TITLE_CHARS)
    url = safe_url(story.link)
    story_line = f"<{url}|{title}>" if url else title
    outlet = escape_fit(_outlet(story), OUTLET_CHARS)
    return f"*{rule_title}*\n{story_line}\n{outlet} · {_published(story, now)}"


def _outlet(story: Story) -> str:
    return (
        one_line(story.source or "")
        or host_of(story.link)
        or host_of(story.feed_url)
        or "unknown outlet"
    )


def _published(story: Story, now: datetime) -> str:
    if story.published is None:
        return "publication time unknown"
    published = _as_utc(story.published)
    return f"{published:%Y-%m-%d %H:%M} UTC ({relative_time(published, now)})"


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _snippet_mrkdwn(story: Story, hit: Hit) -> str:
    segments = _snippet_segments(story, hit)
    if not segments:
        return ""
    return "> " + render_mrkdwn(segments, SNIPPET_CHARS * 3)


def _snippet_segments(story: Story, hit: Hit) -> list[Segment]:
    """The most telling passage: the body field with most matches, else the matched title."""
    spans_by_field = {
        name: _spans(_field_text(story, name), hit.matches, name) for name in STORY_FIELDS
    }
    body_fields = [name for name in ("summary", "content") if spans_by_field[name]]
    if body_fields:
        chosen = max(body_fields, key=lambda name: len(spans_by_field[name]))
    elif spans_by_field["title"]:
        chosen = "title"
    else:
        chosen = next((name for name in ("summary", "content") if _field_text(story, name)), "")
        if not chosen:
            return []
    return _window(_field_text(story, chosen), spans_by_field.get(chosen, []))


def _field_text(story: Story, name: str) -> str:
    value = getattr(story, name, "") if name in STORY_FIELDS else ""
    return value or ""


def _spans(text: str, matches: tuple[Match, ...], field_name: str) -> list[tuple[int, int]]:
    """Matched character ranges in one field, widened to whole words, sorted and merged."""
    ranges = sorted(
        _widen_to_word(text, m.start, m.end)
        for m in matches
        if m.field == field_name and 0 <= m.start < m.end <= len(text)
    )
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _widen_to_word(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen to whole words in spaced scripts (*Путину*, not *Путин*у); not in Chinese/Japanese."""
    while start > 0 and _joins_word(text[start - 1]) and _joins_word(text[start]):
        start -= 1
    while end < len(text) and _joins_word(text[end]) and _joins_word(text[end - 1]):
        end += 1
    return start, end


def _joins_word(char: str) -> bool:
    return char.isalnum() and not _is_unspaced_script(char)


def _is_unspaced_script(char: str) -> bool:
    return unicodedata.name(char, "").startswith(("CJK", "HIRAGANA", "KATAKANA"))


def _window(text: str, spans: list[tuple[int, int]]) -> list[Segment]:
    if len(text) <= SNIPPET_CHARS:
        start, end = 0, len(text)
    else:
        first = spans[0][0] if spans else 0
        start = max(0, first - SNIPPET_LEAD)
        if start > 0:
            space = text.find(" ", start, first)
            start = space + 1 if space != -1 else start
        end = min(len(text), start + SNIPPET_CHARS)
        if end < len(text):
            space = text.rfind(" ", max(start, end - 40), end)
            end = space if space > (spans[0][1] if spans else start) else end
    segments: list[Segment] = []
    if start > 0:
        segments.append(Segment(ELLIPSIS))
    cursor = start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_start >= span_end:
            continue
        if span_start > cursor:
            segments.append(Segment(text[cursor:span_start]))
        segments.append(Segment(text[span_start:span_end], highlighted=True))
        cursor = span_end
    if cursor < end:
        segments.append(Segment(text[cursor:end]))
    if end < len(text):
        segments.append(Segment(ELLIPSIS))
    return _flatten(segments)


def _flatten(segments: list[Segment]) -> list[Segment]:
    """Collapse whitespace to single spaces, keeping highlights; drop empty runs."""
    flat: list[Segment] = []
    for index, segment in enumerate(segments):
        text = " ".join(segment.text.split())
        if segment.text[:1].isspace() and index > 0:
            text = " " + text
        if segment.text[-1:].isspace() and index < len(segments) - 1:
            text = text + " "
        if text.strip():
            flat.append(Segment(text, segment.highlighted))
        elif text and flat and not flat[-1].text.endswith(" "):
            flat.append(Segment(" "))
    return flat


def _terms_by_group(hit: Hit) -> dict[str, list[str]]:
    terms: dict[str, list[str]] = {}
    for match in hit.matches:
        text = truncate(one_line(match.text), 80)
        group = truncate(one_line(match.group), 60)
        seen = terms.setdefault(group, [])
        if text and text.casefold() not in {t.casefold() for t in seen}:
            seen.append(text)
    return {group: found[:TERMS_PER_GROUP] for group, found in terms.items() if found}


def _matched_mrkdwn(hit: Hit) -> str:
    terms = _terms_by_group(hit)
    if not terms:
        return ""
    parts = [
        f"{escape_mrkdwn(group)}: " + ", ".join(f"*{escape_mrkdwn(t)}*" for t in found)
        for group, found in terms.items()
    ]
    prefix = "*Matched* — "
    return prefix + join_within(parts, " · ", MAX_SECTION_TEXT - len(prefix))


def _references_mrkdwn(references: tuple[str, ...]) -> list[str]:
    rendered = []
    for reference in references:
        text = one_line(reference)
        url = safe_url(text) if " " not in text else None
        rendered.append(f"<{url}>" if url else escape_fit(text, 300))
    return rendered


def _context_mrkdwn(alert: Alert) -> str:
    parts = [f"Rule {escape_fit(one_line(alert.hit.rule_id), 200)}"]
    parts += _references_mrkdwn(alert.hit.references)
    parts.insert(1, f"Alert {alert.id}")
    return join_within(parts, " · ", MAX_CONTEXT_TEXT)


def _context_plain(alert: Alert) -> str:
    parts = [f"Rule {one_line(alert.hit.rule_id)}"]
    parts += [one_line(reference) for reference in alert.hit.references]
    parts.insert(1, f"alert {alert.id}")
    return " · ".join(parts)


def _fallback_text(story: Story, hit: Hit) -> str:
    title = escape_fit(one_line(story.title) or "(untitled story)", TITLE_CHARS)
    url = safe_url(story.link)
    linked = f"<{url}|{title}>" if url else title
    headline = escape_fit(f"{_header(hit)}: {one_line(hit.rule_title)}", 400)
    return f"{headline} — {linked} ({escape_fit(_outlet(story), OUTLET_CHARS)})"
