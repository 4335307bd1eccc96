"""The daily digest: hits per category and rule over a period, the top stories, failing feeds.
Pure, like the alert formatter; every piece of outside text is escaped for mrkdwn."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from daemon.alerts.formatter import MAX_SECTION_TEXT, Message
from daemon.alerts.text import escape_fit, join_within, one_line, safe_url, truncate
from daemon.models import SEVERITY_RANK, Story
from daemon.store import FeedHealth, HitRecord

TOP_STORIES = 5
MAX_FAILING_FEEDS = 10


def format_digest(
    records: Sequence[HitRecord], feeds: Sequence[FeedHealth], since: datetime, now: datetime
) -> Message:
    hours = round((now - since).total_seconds() / 3600)
    header = f"📋 Daily digest · {now:%Y-%m-%d}"
    summary = (
        f"*{len(records)} hits* on {len({r.story.id for r in records})} stories "
        f"in the last {hours} h (since {since:%Y-%m-%d %H:%M} UTC)"
    )
    failing = [feed for feed in feeds if not feed.healthy]
    sections = [summary, _by_category(records), _top_stories(records), _failing(failing)]
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}}]
    blocks += [
        {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}
        for text in sections
        if text
    ]
    text = f"{header}: {len(records)} hits, {len(failing)} failing feeds"
    return Message(text=text, blocks=tuple(blocks), console_text=_console(sections, header))


def _label(category: str) -> str:
    label = one_line(category.replace("_", " "))
    return label[:1].upper() + label[1:] if label else "Uncategorised"


def _by_category(records: Sequence[HitRecord]) -> str:
    if not records:
        return "No hits."
    rules: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        rules[record.hit.category][record.hit.rule_id] += 1
    lines = []
    for category, counts in sorted(rules.items(), key=lambda item: -sum(item[1].values())):
        per_rule = ", ".join(f"{escape_fit(rule, 120)} {n}" for rule, n in counts.most_common())
        lines.append(f"• *{escape_fit(_label(category), 80)}*: {sum(counts.values())} ({per_rule})")
    return join_within(lines, "\n", MAX_SECTION_TEXT)


def _top_stories(records: Sequence[HitRecord]) -> str:
    stories: dict[str, Story] = {}
    score: Counter[str] = Counter()
    for record in records:
        stories[record.story.id] = record.story
        score[record.story.id] += 10 * SEVERITY_RANK.get(record.hit.severity.lower(), 0) + 1
    if not stories:
        return ""
    lines = []
    for story_id, _ in score.most_common(TOP_STORIES):
        story = stories[story_id]
        title = escape_fit(one_line(story.title) or "(untitled story)", 200)
        url = safe_url(story.link)
        lines.append("• " + (f"<{url}|{title}>" if url else title))
    return "*Top stories*\n" + join_within(lines, "\n", MAX_SECTION_TEXT - 20)


def _failing(feeds: Sequence[FeedHealth]) -> str:
    if not feeds:
        return ""
    lines = [
        f"• {escape_fit(one_line(feed.name or feed.url), 150)}: "
        f"{escape_fit(one_line(feed.last_error_kind or 'error'), 40)}, "
        f"{feed.consecutive_failures} failures in a row"
        for feed in sorted(feeds, key=lambda f: -f.consecutive_failures)[:MAX_FAILING_FEEDS]
    ]
    more = len(feeds) - MAX_FAILING_FEEDS
    if more > 0:
        lines.append(f"… and {more} more")
    return f"*Failing feeds ({len(feeds)})*\n" + join_within(lines, "\n", MAX_SECTION_TEXT - 30)


def _console(sections: list[str], header: str) -> str:
    plain = [truncate(header, 200)]
    for section in sections:
        if section:
            plain.append(
                section.replace("*", "")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
            )
    return "\n".join(plain) + "\n"
