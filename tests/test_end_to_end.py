"""The whole flow through the real command: a feed on 127.0.0.1 → `sanctionwatch once` → Slack."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from clirun import REPO, sanctionwatch
from feedserver import FeedServer
from rssfeed import rss
from slackserver import TOKEN, SlackServer

from daemon.rules import load_rulebook

RULES = REPO / "rules"
FOUNDING = (
    "https://news.example/2024/02/putin-aurus-kim",
    "Putin gifts Kim Jong Un a Russian-made Aurus limousine",
    "The Russian president sent the car to North Korea's leader, although UN sanctions ban "
    "supplying luxury goods to Pyongyang.",
)
UNRELATED = [
    (
        "https://news.example/2024/02/aurus-senat-review",
        "Aurus Senat review: a Russian limousine with a V8 hybrid",
        "We drove the sedan for a week around Moscow.",
    ),
    (
        "https://news.example/2024/02/kardashian-party",
        "Kim Kardashian throws a party in Beverly Hills",
        "Guests arrived in limousines.",
    ),
]
SECOND = (
    "https://news.example/2024/03/yacht-pyongyang",
    "Two luxury yachts smuggled to North Korea for Kim Jong Un, UN panel says",
    "The vessels were shipped through third countries in breach of UN sanctions.",
)


@pytest.fixture
def slack(slack_server: SlackServer) -> SlackServer:
    for rule in load_rulebook(RULES).rules:
        if rule.channel and slack_server.channel(rule.channel) is None:
            slack_server.add_channel(rule.channel)
    return slack_server


def test_founding_story_becomes_exactly_one_slack_message(
    tmp_path: Path, feed_server: FeedServer, slack: SlackServer, database_url: str
) -> None:
    now = datetime.now(UTC)
    feed_url = feed_server.serve("/wire.xml", rss([FOUNDING, *UNRELATED], now))
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - url: {feed_url}\n    name: Wire\n")
    env = {
        "SANCTIONWATCH_DATABASE_URL": database_url,
        "SANCTIONWATCH_RULES": str(RULES),
        "SLACK_BOT_TOKEN": TOKEN,
        "SANCTIONWATCH_SLACK_API_URL": slack.api_url,
        "SANCTIONWATCH_SLACK_CHANNEL": "#general",
    }

    first = sanctionwatch("once", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert len(slack.messages) == 1, [m.text for m in slack.messages]
    message = slack.messages[0]
    assert FOUNDING[0] in message.text + str(message.blocks)

    second = sanctionwatch("once", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert len(slack.messages) == 1

    feed_server.serve("/wire.xml", rss([SECOND, FOUNDING, *UNRELATED], now))
    third = sanctionwatch("once", cwd=tmp_path, env=env)
    assert third.returncode == 0, third.stderr
    assert len(slack.messages) == 2
    assert SECOND[0] in slack.messages[1].text + str(slack.messages[1].blocks)

    status = sanctionwatch("status", "--format", "json", cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    assert '"sent": 2' in status.stdout


def test_console_alerts_without_slack_credentials(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    now = datetime.now(UTC)
    feed_url = feed_server.serve("/wire.xml", rss([FOUNDING, *UNRELATED], now))
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - url: {feed_url}\n")
    env = {"SANCTIONWATCH_DATABASE_URL": sqlite_url, "SANCTIONWATCH_RULES": str(RULES)}
    result = sanctionwatch("once", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert FOUNDING[1] in result.stdout
    assert FOUNDING[0] in result.stdout
    assert UNRELATED[0][1] not in result.stdout
    assert UNRELATED[1][1] not in result.stdout
