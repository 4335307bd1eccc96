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
from daemon.models import SEVERITY_RANK, Alert, Hit, Match, Story

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
MAX_RULE_TITLES = 600
MAX_RULES_IN_METADATA = 20

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
    """Block Kit for an alert with one or several hits; the most severe hit leads."""
    story, hits = alert.story, ordered_hits(alert)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _header(hits), "emoji": True}},
        _section(_story_text(story, hits, now)),
    ]
    snippet = _snippet_mrkdwn(story, hits)
    if snippet:
        blocks.append(_section(snippet))
    matched = _matched_mrkdwn(hits)
    if matched:
        blocks.append(_section(matched))
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _context_mrkdwn(alert), "verbatim": True}],
        }
    )
    return Message(
        text=_fallback_text(story, hits),
        blocks=tuple(blocks[:MAX_BLOCKS]),
        metadata={
            "event_type": METADATA_EVENT_TYPE,
            "event_payload": {
                "alert_id": alert.id,
                "story_id": story.id,
                "rule": hits[0].rule_id,
                "rules": [hit.rule_id for hit in hits][:MAX_RULES_IN_METADATA],
            },
        },
        console_text=format_console(alert, now),
    )


def ordered_hits(alert: Alert) -> tuple[Hit, ...]:
    """The most severe hit first, then the others by severity, ties in recorded order."""
    return tuple(sorted(alert.hits, key=lambda hit: -SEVERITY_RANK.get(hit.severity.lower(), 0)))


def format_console(alert: Alert, now: datetime) -> str:
    story, hits = alert.story, ordered_hits(alert)
    lines = [
        f"{_severity_label(hits[0])} · {_categories_label(hits)} — "
        + truncate(one_line(hits[0].rule_title), RULE_TITLE_CHARS),
    ]
    lines += ["  also: " + truncate(one_line(hit.rule_title), RULE_TITLE_CHARS) for hit in hits[1:]]
    lines.append("  " + truncate(one_line(story.title) or "(untitled story)", TITLE_CHARS))
    if story.link:
        lines.append("  " + truncate(one_line(story.link), 500))
    lines.append(f"  {_outlet(story)} · {_published(story, now)}")
    snippet = _snippet_segments(story, _all_matches(hits))
    if snippet:
        lines.append("  “" + render_plain(snippet, SNIPPET_CHARS + 40) + "”")
    for hit in hits:
        terms = _terms_by_group(hit)
        if terms:
            label = "  Matched: " if len(hits) == 1 else f"  Matched ({one_line(hit.rule_id)}): "
            lines.append(label + "; ".join(f"{g}: {', '.join(ts)}" for g, ts in terms.items()))
    lines.append("  " + _context_plain(alert, hits))
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


def _header(hits: tuple[Hit, ...]) -> str:
    emoji = SEVERITY_EMOJI.get(hits[0].severity.lower(), DEFAULT_SEVERITY_EMOJI)
    return truncate(
        f"{emoji} {_severity_label(hits[0])} · {_categories_label(hits)}", MAX_HEADER_TEXT
    )


def _categories_label(hits: tuple[Hit, ...]) -> str:
    return ", ".join(dict.fromkeys(_category_label(hit) for hit in hits))


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


def _story_text(story: Story, hits: tuple[Hit, ...], now: datetime) -> str:
    titles = dict.fromkeys(escape_fit(one_line(h.rule_title), RULE_TITLE_CHARS) for h in hits)
    rule_titles = join_within([f"*{title}*" for title in titles], " · ", MAX_RULE_TITLES)
    title = escape_fit(one_line(story.title) or "(untitled story)", TITLE_CHARS)
    url = safe_url(story.link)
    story_line = f"<{url}|{title}>" if url else title
    outlet = escape_fit(_outlet(story), OUTLET_CHARS)
    return f"{rule_titles}\n{story_line}\n{outlet} · {_published(story, now)}"


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


def _all_matches(hits: tuple[Hit, ...]) -> tuple[Match, ...]:
    return tuple(match for hit in hits for match in hit.matches)


def _snippet_mrkdwn(story: Story, hits: tuple[Hit, ...]) -> str:
    segments = _snippet_segments(story, _all_matches(hits))
    if not segments:
        return ""
    return "> " + render_mrkdwn(segments, SNIPPET_CHARS * 3)


def _snippet_segments(story: Story, matches: tuple[Match, ...]) -> list[Segment]:
    """The most telling passage: the body field with most matches, else the matched title."""
    spans_by_field = {
        name: _spans(_field_text(story, name), matches, name) for name in STORY_FIELDS
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


def _groups_mrkdwn(hit: Hit, budget: int) -> str:
    parts = [
        f"{escape_mrkdwn(group)}: " + ", ".join(f"*{escape_mrkdwn(t)}*" for t in found)
        for group, found in _terms_by_group(hit).items()
    ]
    return join_within(parts, " · ", budget)


def _matched_mrkdwn(hits: tuple[Hit, ...]) -> str:
    """The groups that matched: on one line for one rule, one line per rule for several."""
    if len(hits) == 1:
        if not _terms_by_group(hits[0]):
            return ""
        prefix = "*Matched* — "
        return prefix + _groups_mrkdwn(hits[0], MAX_SECTION_TEXT - len(prefix))
    lines = []
    for hit in hits:
        if _terms_by_group(hit):
            rule = escape_fit(one_line(hit.rule_id), 200)
            lines.append(f"• {rule} — " + _groups_mrkdwn(hit, MAX_SECTION_TEXT // len(hits)))
    if not lines:
        return ""
    return "*Matched*\n" + join_within(lines, "\n", MAX_SECTION_TEXT - len("*Matched*\n"))


def _references_mrkdwn(references: tuple[str, ...]) -> list[str]:
    rendered = []
    for reference in references:
        text = one_line(reference)
        url = safe_url(text) if " " not in text else None
        rendered.append(f"<{url}>" if url else escape_fit(text, 300))
    return rendered


def _references(hits: tuple[Hit, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reference for hit in hits for reference in hit.references))


def _rules_label(hits: tuple[Hit, ...], limit: int) -> str:
    ids = [truncate(one_line(hit.rule_id), limit) for hit in hits]
    return ("Rule " if len(ids) == 1 else "Rules ") + ", ".join(ids)


def _context_mrkdwn(alert: Alert) -> str:
    hits = ordered_hits(alert)
    parts = [escape_fit(_rules_label(hits, 200), 1000), f"Alert {alert.id}"]
    if alert.follow_up:
        parts.append(f"Follow-up to alert {alert.thread_of}")
    parts += _references_mrkdwn(_references(hits))
    return join_within(parts, " · ", MAX_CONTEXT_TEXT)


def _context_plain(alert: Alert, hits: tuple[Hit, ...]) -> str:
    parts = [_rules_label(hits, 200), f"alert {alert.id}"]
    if alert.follow_up:
        parts.append(f"follow-up to alert {alert.thread_of}")
    parts += [one_line(reference) for reference in _references(hits)]
    return " · ".join(parts)


def _fallback_text(story: Story, hits: tuple[Hit, ...]) -> str:
    title = escape_fit(one_line(story.title) or "(untitled story)", TITLE_CHARS)
    url = safe_url(story.link)
    linked = f"<{url}|{title}>" if url else title
    more = f" (+{len(hits) - 1} more)" if len(hits) > 1 else ""
    headline = escape_fit(f"{_header(hits)}: {one_line(hits[0].rule_title)}{more}", 400)
    return f"{headline} — {linked} ({escape_fit(_outlet(story), OUTLET_CHARS)})"
