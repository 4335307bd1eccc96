"""The alert formatter: Block Kit snapshots, mrkdwn safety, Slack limits, console text."""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alerts_stories import (
    INJECTION_TITLE,
    NOW,
    alert_for,
    founding_alert,
    injection_alert,
    korean_alert,
    match,
    multi_hit_alert,
    russian_alert,
    title_only_alert,
)
from slack_blockkit import validate_message

from daemon.alerts.console import ConsoleSender
from daemon.alerts.formatter import Message, format_alert, format_console, relative_time
from daemon.alerts.text import escape_fit, safe_url
from daemon.models import Alert, Story

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("SANCTIONWATCH_UPDATE_SNAPSHOTS") == "1"
UNESCAPED_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def snapshot_of(message: Message) -> dict:
    return {"text": message.text, "blocks": list(message.blocks), "metadata": message.metadata}


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("alert_founding_story", founding_alert),
        ("alert_title_only", title_only_alert),
        ("alert_russian", russian_alert),
        ("alert_korean", korean_alert),
        ("alert_multi_hit", multi_hit_alert),
    ],
)
def test_block_kit_snapshot(name: str, make: object) -> None:
    rendered = snapshot_of(format_alert(make(), NOW))  # type: ignore[operator]
    path = SNAPSHOTS / f"{name}.json"
    if UPDATE or not path.exists():
        assert UPDATE, f"missing snapshot {path.name}: run with SANCTIONWATCH_UPDATE_SNAPSHOTS=1"
        path.write_text(json.dumps(rendered, ensure_ascii=False, indent=2) + "\n", "utf-8")
    assert rendered == json.loads(path.read_text("utf-8"))


def test_founding_story_layout() -> None:
    message = format_alert(founding_alert(), NOW)
    header, story, snippet, matched, context = message.blocks
    assert header["text"]["text"] == "🔴 HIGH · Luxury goods"
    assert story["text"]["text"].startswith("*Luxury goods supplied to North Korea*\n<https://")
    assert "Example Wire · 2024-02-20 06:15 UTC (3 h ago)" in story["text"]["text"]
    assert "*gifted*" in snippet["text"]["text"]
    assert "*Kim Jong Un*" in snippet["text"]["text"]
    assert matched["text"]["text"].startswith("*Matched* — dprk: *Kim Jong Un*")
    assert "Rule dprk-luxury-goods" in context["elements"][0]["text"]
    assert "<https://www.un.org/securitycouncil/sanctions/1718>" in context["elements"][0]["text"]
    assert all(block["text"]["verbatim"] for block in message.blocks if block["type"] == "section")


def test_inflected_words_are_bold_whole() -> None:
    snippet = format_alert(russian_alert(), NOW).blocks[2]["text"]["text"]
    assert "*Ким Чен Ыну*" in snippet
    assert "*подарил*" in snippet


def test_injection_is_escaped_everywhere() -> None:
    message = format_alert(injection_alert(), NOW)
    texts = [message.text, json.dumps(message.blocks, ensure_ascii=False)]
    for text in texts:
        for forbidden in ("<!channel>", "<!here>", "<!everyone>", "<@U", "<#C", "<http://evil"):
            assert forbidden not in text
        assert not UNESCAPED_AMPERSAND.search(text.replace("&amp;", ""))
    assert "&lt;!channel&gt; Kim gets a yacht &lt;http://evil.example|click&gt; &amp; more" in (
        message.text
    )
    assert "<https://evil.example/a%7Cb%3Ec%3C!channel%3E|" in message.blocks[1]["text"]["text"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a?b=1&c=2", "https://example.com/a?b=1&amp;c=2"),
        ("http://example.com/x|y>z", "http://example.com/x%7Cy%3Ez"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("javascript:alert(1)", None),
        ("ftp://example.com/file", None),
        ("https:///no-host", None),
        ("<!channel>", None),
        ("", None),
        (None, None),
    ],
)
def test_only_http_links_survive(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_story_without_safe_link_shows_plain_title() -> None:
    alert = founding_alert()
    bad = replace(alert, story=replace(alert.story, link="javascript:alert(1)"))
    text = format_alert(bad, NOW).blocks[1]["text"]["text"]
    assert "javascript" not in text
    assert "\nPutin gifts Kim Jong Un an Aurus limousine\n" in text


def test_escaping_never_splits_an_entity() -> None:
    for budget in range(1, 40):
        cut = escape_fit("a&b<c>d" * 10, budget)
        assert len(cut) <= budget
        assert not re.search(r"&(?:a|am|l|g)?$", cut.removesuffix("…"))


def test_huge_story_stays_within_slack_limits() -> None:
    title = "Kim & <Putin> " * 2000
    summary = ("Kim receives an Aurus & more <b> " * 3000).strip()
    story = Story(
        id="x" * 5000,
        feed_url="https://example.com/rss",
        title=title,
        summary=summary,
        link="https://example.com/" + "a" * 5000,
        published=NOW - timedelta(days=3),
        source="S" * 1000,
    )
    matches = [match(f"group{i}", "kim", "summary", summary, "Kim", i) for i in range(200)]
    matches += [match("title", "kim", "title", title, "Kim", i) for i in range(100)]
    alert = alert_for(story, matches, rule_title="R&D " * 500, references=("ref & " * 900,) * 30)
    message = format_alert(alert, NOW)
    validate_message(message.text, list(message.blocks))
    for block in message.blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        elif block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        else:
            assert all(len(element["text"]) <= 3000 for element in block["elements"])
    assert not UNESCAPED_AMPERSAND.search(json.dumps(message.blocks))


def test_matches_outside_the_text_are_ignored() -> None:
    alert = founding_alert()
    broken = replace(
        alert.hit,
        matches=(*alert.hit.matches, replace(alert.hit.matches[0], start=500, end=510)),
    )
    assert format_alert(replace(alert, hits=(broken,)), NOW).blocks


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3, minutes=25), "3 h ago"),
        (timedelta(hours=47), "47 h ago"),
        (timedelta(days=9), "9 d ago"),
        (timedelta(minutes=-10), "in 10 min"),
    ],
)
def test_relative_time(age: timedelta, expected: str) -> None:
    assert relative_time(NOW - age, NOW) == expected


def test_naive_and_missing_publication_times() -> None:
    alert = founding_alert()
    naive = replace(alert, story=replace(alert.story, published=datetime(2024, 2, 20, 8, 40)))
    assert "08:40 UTC (1 h ago)" in format_alert(naive, NOW).blocks[1]["text"]["text"]
    unknown = replace(alert, story=replace(alert.story, published=None))
    assert "publication time unknown" in format_alert(unknown, NOW).blocks[1]["text"]["text"]


def test_outlet_falls_back_to_the_link_host() -> None:
    text = format_alert(title_only_alert(), NOW).blocks[1]["text"]["text"]
    assert "\nwire.example.org · 2024-02-18 22:05 UTC (35 h ago)" in text


def test_console_text_is_plain_and_readable() -> None:
    text = format_console(founding_alert(), NOW)
    assert text.splitlines()[:4] == [
        "HIGH · Luxury goods — Luxury goods supplied to North Korea",
        "  Putin gifts Kim Jong Un an Aurus limousine",
        "  https://example.com/world/putin-gifts-kim-aurus?utm=rss&ref=feed",
        "  Example Wire · 2024-02-20 06:15 UTC (3 h ago)",
    ]
    assert "[gifted]" in text
    assert "*" not in text
    assert "&amp;" not in text


def test_console_strips_terminal_escapes() -> None:
    alert = founding_alert()
    hostile = replace(alert, story=replace(alert.story, title="\x1b[2J\x1b]0;pwned\x07Kim\u202e"))
    text = format_console(hostile, NOW)
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\u202e" not in text
    assert INJECTION_TITLE in format_console(injection_alert(), NOW)


def test_console_sender_prints_the_alert() -> None:
    stream = io.StringIO()
    delivery = ConsoleSender(stream).send(format_alert(founding_alert(), NOW), "#sanctions-dprk")
    assert (delivery.channel, delivery.ts) == ("#sanctions-dprk", None)
    printed = stream.getvalue()
    assert printed.startswith("── alert for #sanctions-dprk ──\nHIGH · Luxury goods")
    assert "Putin gifts Kim Jong Un an Aurus limousine" in printed


def test_metadata_carries_the_alert_identity() -> None:
    alert: Alert = korean_alert()
    assert format_alert(alert, NOW).metadata == {
        "event_type": "sanctionwatch_alert",
        "event_payload": {
            "alert_id": 45,
            "story_id": "yna-aurus",
            "rule": "dprk-luxury-goods",
            "rules": ["dprk-luxury-goods"],
        },
    }


def test_highlights_inside_unspaced_scripts_keep_their_bold() -> None:
    title = "普京向金正恩赠送奥鲁斯轿车"
    story = Story(id="zh", feed_url="https://example.cn/rss", title=title, language="zh")
    alert = alert_for(story, [match("dprk", "金正恩", "title", title, "金正恩")])
    snippet = format_alert(alert, NOW).blocks[2]["text"]["text"]
    assert snippet == "> 普京向\u200b*金正恩*\u200b赠送奥鲁斯轿车"


def test_story_asterisks_cannot_break_the_bold() -> None:
    snippet = format_alert(injection_alert(), NOW).blocks[2]["text"]["text"]
    assert "∗*Kim Jong Un*∗" in snippet
    assert "**" not in snippet


def test_console_sender_renders_an_alert_itself() -> None:
    stream = io.StringIO()
    ConsoleSender(stream).send_alert(title_only_alert(), "console", NOW)
    assert "N. Korea's [Kim] [receives] second [Aurus] from Putin" in stream.getvalue()


def test_several_hits_make_one_message_led_by_the_most_severe() -> None:
    message = format_alert(multi_hit_alert(), NOW)
    header, story, snippet, matched, context = message.blocks
    assert header["text"]["text"] == "🔴 HIGH · Luxury goods, Sanctioned leader"
    assert story["text"]["text"].startswith(
        "*Luxury goods supplied to North Korea* · *Gifts between sanctioned leaders*\n"
    )
    assert "*Vladimir Putin*" in snippet["text"]["text"]
    assert "*Aurus*" in snippet["text"]["text"]
    assert matched["text"]["text"].splitlines() == [
        "*Matched*",
        "• dprk-luxury-goods — dprk: *Kim Jong Un* · luxury: *Aurus*, *limousine* · "
        "supply: *gifts*, *gifted*",
        "• leader-gifts — giver: *Putin*, *Vladimir Putin* · receiver: *Kim Jong Un* · "
        "gift: *gifted*",
    ]
    context_text = context["elements"][0]["text"]
    assert context_text.startswith("Rules dprk-luxury-goods, leader-gifts · Alert 46 · ")
    assert context_text.count("UNSCR 1718 (2006) para 8(a)(iii)") == 1
    assert "EU Regulation 2017/1509" in context_text
    assert message.metadata["event_payload"]["rules"] == ["dprk-luxury-goods", "leader-gifts"]
    assert message.text.startswith(
        "🔴 HIGH · Luxury goods, Sanctioned leader: Luxury goods supplied to North Korea (+1 more)"
    )
    validate_message(message.text, list(message.blocks))


def test_console_lists_every_rule_of_a_multi_hit_alert() -> None:
    text = format_console(multi_hit_alert(), NOW)
    lines = text.splitlines()
    assert lines[0] == (
        "HIGH · Luxury goods, Sanctioned leader — Luxury goods supplied to North Korea"
    )
    assert lines[1] == "  also: Gifts between sanctioned leaders"
    assert (
        "  Matched (leader-gifts): giver: Putin, Vladimir Putin; receiver: Kim Jong Un; "
        "gift: gifted"
    ) in lines
    assert lines[-1].startswith("  Rules dprk-luxury-goods, leader-gifts · alert 46 · ")


def test_injection_in_a_second_hit_is_escaped_too() -> None:
    hostile = injection_alert()
    second = replace(
        hostile.hit,
        rule_id="<!channel>",
        rule_title="<!here> & <http://evil.example|x>",
        references=("<@U123> & co",),
        severity="low",
    )
    message = format_alert(replace(hostile, hits=(hostile.hit, second)), NOW)
    for text in (message.text, json.dumps(message.blocks, ensure_ascii=False)):
        for forbidden in ("<!channel>", "<!here>", "<@U", "<http://evil"):
            assert forbidden not in text
        assert not UNESCAPED_AMPERSAND.search(text.replace("&amp;", ""))


def test_a_follow_up_names_the_alert_it_follows() -> None:
    alert = replace(title_only_alert(), thread_of=42)
    context = format_alert(alert, NOW).blocks[-1]["elements"][0]["text"]
    assert "Alert 43 · Follow-up to alert 42" in context
    assert "follow-up to alert 42" in format_console(alert, NOW)
