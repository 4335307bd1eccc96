"""Delivery through the real command: `sanctionwatch once` against the Slack test server.

Rules are written here (not the shipped pack): yachts and limousines reaching North Korea,
one rule routed to a channel of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clirun import sanctionwatch
from feedserver import FeedServer
from rssfeed import Item
from rssfeed import rss as feed_document
from slackserver import TOKEN, SlackServer

YACHT_RULE = """\
id: yachts-to-dprk
title: Yachts supplied to North Korea
category: luxury_goods
severity: high
references: ["UNSCR 1718 (2006) para 8(a)(iii)"]
terms:
  boat: [yacht*]
  dprk: [kim jong un, north korea*, pyongyang]
condition: boat and dprk
window: story
"""
CAR_RULE = """\
id: cars-to-dprk
title: Limousines supplied to North Korea
category: luxury_goods
severity: medium
channel: "{channel}"
terms:
  car: [aurus, limousine*]
  dprk: [kim jong un, north korea*, pyongyang]
condition: car and dprk
window: story
"""


def rss(items: list[Item], now: datetime, title: str = "Wire") -> str:
    return feed_document(items, now, title, step=timedelta(minutes=1))


def yacht_stories(count: int, outlet: str = "news.example") -> list[Item]:
    """Distinct stories: a few unrelated words each, so none looks like another's follow-up."""
    stories = []
    for number in range(count):
        words = hashlib.sha1(f"{outlet}{number}".encode()).hexdigest()
        tag = " ".join(words[i : i + 6] for i in range(0, 18, 6))
        stories.append(
            (
                f"https://{outlet}/2024/yacht-{number}",
                f"Report {tag}: a yacht delivered to Pyongyang",
                "The vessel reached North Korea despite UN sanctions.",
            )
        )
    return stories


def setup(
    tmp_path: Path,
    feed_server: FeedServer,
    slack: SlackServer,
    database_url: str,
    items: list[Item],
    car_channel: str = "#arms-transfers",
) -> dict[str, str]:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "yachts.yaml").write_text(YACHT_RULE)
    (rules / "cars.yaml").write_text(CAR_RULE.format(channel=car_channel))
    feed_url = feed_server.serve("/wire.xml", rss(items, datetime.now(UTC)))
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - url: {feed_url}\n    name: Wire\n")
    return {
        "SANCTIONWATCH_DATABASE_URL": database_url,
        "SANCTIONWATCH_RULES": str(rules),
        "SLACK_BOT_TOKEN": TOKEN,
        "SANCTIONWATCH_SLACK_API_URL": slack.api_url,
        "SANCTIONWATCH_SLACK_CHANNEL": "#sanctions-dprk",
        "SANCTIONWATCH_SLACK_PACE": "20ms",
    }


def status_of(tmp_path: Path, env: dict[str, str]) -> dict:
    result = sanctionwatch("status", "--format", "json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_rate_limits_and_server_errors_still_deliver_every_alert_once(
    tmp_path: Path, feed_server: FeedServer, slack_server: SlackServer, database_url: str
) -> None:
    env = setup(tmp_path, feed_server, slack_server, database_url, yacht_stories(50))
    slack_server.fail_next(10, status=503)
    slack_server.rate_limit_above(per_second=5, retry_after=1)

    result = sanctionwatch("once", cwd=tmp_path, env=env, timeout=110)

    assert result.returncode == 0, result.stderr
    print(result.stderr.splitlines()[-1])
    links = Counter(
        next(word for word in m.text.split("|")[0].split("<") if word.startswith("https://"))
        for m in slack_server.messages
    )
    assert len(links) == 50
    assert max(links.values()) == 1
    assert sorted(slack_server.alert_ids()) == list(range(1, 51))
    outbox = status_of(tmp_path, env)["outbox"]
    assert (outbox["sent"], outbox["pending"], outbox["failed"]) == (50, 0, 0)
    assert outbox.get("sending", 0) == 0
    assert len(slack_server.method_calls("chat.postMessage")) > 60, "faults were answered"


def test_a_second_outlet_version_becomes_a_reply_in_the_first_thread(
    tmp_path: Path, feed_server: FeedServer, slack_server: SlackServer, sqlite_url: str
) -> None:
    first = (
        "https://wire-one.example/dprk/yacht?utm_source=rss",
        "Luxury yacht delivered to Kim Jong Un in Pyongyang, UN panel says",
        "A UN panel says the vessel reached North Korea.",
    )
    env = setup(tmp_path, feed_server, slack_server, sqlite_url, [first])
    assert sanctionwatch("once", cwd=tmp_path, env=env).returncode == 0
    [root] = slack_server.messages

    other_outlet = (
        "https://other-outlet.example/world/asia/9912",
        "UN panel says luxury yacht delivered to Kim Jong Un in Pyongyang",
        "Another outlet's version of the same report.",
    )
    same_link = (
        "https://wire-one.example/dprk/yacht?utm_medium=partner",
        "Partner feed: yacht for Pyongyang",
        "The same article, syndicated with other tracking parameters.",
    )
    unrelated = yacht_stories(1, outlet="third.example")[0]
    feed_server.serve(
        "/wire.xml", rss([first, other_outlet, same_link, unrelated], datetime.now(UTC))
    )
    result = sanctionwatch("once", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr

    by_link = {
        m.params["blocks"][1]["text"]["text"].split("|")[0]: m for m in slack_server.messages
    }
    reply = by_link["*Yachts supplied to North Korea*\n<" + other_outlet[0]]
    syndicated = by_link["*Yachts supplied to North Korea*\n<" + same_link[0]]
    fresh = by_link["*Yachts supplied to North Korea*\n<" + unrelated[0]]
    assert reply.thread_ts == root.ts
    assert syndicated.thread_ts == root.ts
    assert fresh.thread_ts is None
    assert len(slack_server.messages) == 4
    assert "Follow-up to alert 1" in reply.blocks[-1]["elements"][0]["text"]


def test_channel_not_found_fails_only_that_rules_alerts(
    tmp_path: Path, feed_server: FeedServer, slack_server: SlackServer, database_url: str
) -> None:
    items = [
        *yacht_stories(2),
        (
            "https://news.example/2024/aurus",
            "An Aurus limousine for Kim Jong Un",
            "The car reached Pyongyang.",
        ),
        (
            "https://news.example/2024/aurus-two",
            "Second Aurus shipment arrives in North Korea by rail",
            "Another car.",
        ),
    ]
    env = setup(
        tmp_path, feed_server, slack_server, database_url, items, car_channel="#no-such-channel"
    )

    result = sanctionwatch("once", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert len(slack_server.messages_in("sanctions-dprk")) == 2
    assert len(slack_server.messages) == 2
    status = status_of(tmp_path, env)
    assert (status["outbox"]["sent"], status["outbox"]["failed"]) == (2, 2)
    assert {(a["rule_id"], a["channel"], a["error"]) for a in status["failed_alerts"]} == {
        ("cars-to-dprk", "#no-such-channel", "channel_not_found")
    }
    table = sanctionwatch("status", cwd=tmp_path, env=env)
    print(table.stdout)
    assert "channel_not_found" in table.stdout
    assert "cars-to-dprk" in table.stdout


def test_webhook_mode_delivers_the_same_alerts(
    tmp_path: Path, feed_server: FeedServer, slack_server: SlackServer
) -> None:
    items = yacht_stories(3)
    bot_dir, hook_dir = tmp_path / "bot", tmp_path / "hook"
    bot_dir.mkdir()
    hook_dir.mkdir()
    bot_env = setup(bot_dir, feed_server, slack_server, f"sqlite:///{bot_dir / 'sw.db'}", items)
    assert sanctionwatch("once", cwd=bot_dir, env=bot_env).returncode == 0
    by_bot = [(m.text, m.blocks) for m in slack_server.messages]

    hook_env = setup(hook_dir, feed_server, slack_server, f"sqlite:///{hook_dir / 'sw.db'}", items)
    del hook_env["SLACK_BOT_TOKEN"], hook_env["SANCTIONWATCH_SLACK_API_URL"]
    hook_env["SLACK_WEBHOOK_URL"] = slack_server.webhook_url
    result = sanctionwatch("once", cwd=hook_dir, env=hook_env)

    assert result.returncode == 0, result.stderr
    by_hook = [(m.text, m.blocks) for m in slack_server.messages if m.via == "webhook"]
    assert len(by_hook) == 3
    assert by_hook == by_bot
    assert all(
        m.channel == slack_server.channel("sanctions-dprk").id for m in slack_server.messages
    )
    assert status_of(hook_dir, hook_env)["outbox"]["sent"] == 3


@pytest.mark.parametrize("minimum", ["high", "#arms-transfers=high,low"])
def test_a_channel_minimum_severity_keeps_weaker_alerts_out(
    tmp_path: Path, feed_server: FeedServer, slack_server: SlackServer, minimum: str
) -> None:
    items = [
        *yacht_stories(1),
        ("https://news.example/aurus", "An Aurus limousine for Kim Jong Un", "In Pyongyang."),
    ]
    env = setup(tmp_path, feed_server, slack_server, f"sqlite:///{tmp_path / 'sw.db'}", items)
    env["SANCTIONWATCH_SLACK_MIN_SEVERITY"] = minimum

    assert sanctionwatch("once", cwd=tmp_path, env=env).returncode == 0

    assert len(slack_server.messages_in("sanctions-dprk")) == 1
    assert slack_server.messages_in("arms-transfers") == []
    assert status_of(tmp_path, env)["outbox"]["suppressed"] == 1
