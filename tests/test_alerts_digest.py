"""The daily digest: pure formatting, and posting it through the Slack test server."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from alerts_stories import INJECTION_TITLE, NOW, founding_alert, injection_alert, korean_alert
from slack_blockkit import validate_message
from slackserver import TOKEN, SlackServer

from daemon.alerts.digest import format_digest
from daemon.alerts.outbox import Deliverer
from daemon.alerts.slack import SlackSender
from daemon.store import FeedHealth, HitRecord, Store

SINCE = NOW - timedelta(hours=24)


def record(alert: object, rule: str | None = None, category: str | None = None) -> HitRecord:
    hit = alert.hit  # type: ignore[attr-defined]
    hit = replace(hit, rule_id=rule or hit.rule_id, category=category or hit.category)
    return HitRecord(alert.story, hit, NOW - timedelta(hours=1), "sent")  # type: ignore[attr-defined]


def feed(url: str, failures: int, kind: str | None = None) -> FeedHealth:
    return FeedHealth(url, None, NOW, NOW, kind, kind, failures, NOW, 10)


RECORDS = [
    record(founding_alert()),
    record(founding_alert(), rule="leader-gifts", category="sanctioned_leader"),
    record(korean_alert()),
    record(injection_alert(), rule="evasion-ship-to-ship", category="sanctions_evasion"),
]


def test_digest_counts_per_category_and_rule_and_lists_top_stories_and_failing_feeds() -> None:
    feeds = [feed("https://ok.example/rss", 0), feed("https://down.example/rss", 5, "timeout")]
    message = format_digest(RECORDS, feeds, SINCE, NOW)
    header, summary, categories, top, failing = message.blocks

    assert header["text"]["text"] == "📋 Daily digest · 2024-02-20"
    assert summary["text"]["text"].startswith("*4 hits* on 3 stories in the last 24 h")
    assert categories["text"]["text"].splitlines() == [
        "• *Luxury goods*: 2 (dprk-luxury-goods 2)",
        "• *Sanctioned leader*: 1 (leader-gifts 1)",
        "• *Sanctions evasion*: 1 (evasion-ship-to-ship 1)",
    ]
    first_top = top["text"]["text"].splitlines()[1]
    assert first_top.startswith("• <https://example.com/world/putin-gifts-kim-aurus?")
    assert failing["text"]["text"] == (
        "*Failing feeds (1)*\n• https://down.example/rss: timeout, 5 failures in a row"
    )
    assert "&lt;!channel&gt;" in top["text"]["text"]
    assert "<!channel>" not in json.dumps(message.blocks)
    validate_message(message.text, list(message.blocks))
    assert INJECTION_TITLE in message.console_text


def test_an_empty_day_says_so() -> None:
    message = format_digest([], [], SINCE, NOW)
    assert [b["text"]["text"] for b in message.blocks[1:]] == [
        "*0 hits* on 0 stories in the last 24 h (since 2024-02-19 09:40 UTC)",
        "No hits.",
    ]


def test_digest_is_posted_to_the_default_channel(
    slack_server: SlackServer, sqlite_url: str
) -> None:
    store = Store.connect(sqlite_url)
    store.upgrade()
    sender = SlackSender(TOKEN, base_url=slack_server.api_url)
    try:
        assert Deliverer(store, sender, lambda: NOW, "#general").send_digest()
        assert not Deliverer(store, sender, lambda: NOW, None).send_digest()
        assert not Deliverer(store, sender, lambda: NOW, "#no-such-channel").send_digest()
    finally:
        store.close()
    [posted] = slack_server.messages
    assert posted.channel == slack_server.channel("general").id  # type: ignore[union-attr]
    assert posted.text.startswith("📋 Daily digest · 2024-02-20: 0 hits")
