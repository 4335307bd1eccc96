"""The real slack_sdk clients against the Slack-compatible test server."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alerts_stories import NOW, founding_alert, injection_alert
from slackserver import TOKEN, SlackServer

from daemon.alerts.formatter import Message, format_alert
from daemon.alerts.slack import SlackSender, WebhookSender, classify_error
from daemon.errors import DeliveryError

MESSAGE = format_alert(founding_alert(), NOW)


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


@pytest.fixture
def sender(slack: SlackServer) -> SlackSender:
    return SlackSender(TOKEN, base_url=slack.api_url, timeout=5)


def failure_of(send: object) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        send()  # type: ignore[operator]
    return caught.value


def test_post_lands_in_the_channel_with_the_story_link(
    slack: SlackServer, sender: SlackSender
) -> None:
    delivery = sender.send(MESSAGE, "#sanctions-dprk")

    [posted] = slack.messages_in("sanctions-dprk")
    assert delivery.channel == slack.channel("sanctions-dprk").id  # type: ignore[union-attr]
    assert delivery.ts == posted.ts
    link = "<https://example.com/world/putin-gifts-kim-aurus?utm=rss&amp;ref=feed|"
    assert link in posted.text
    assert any(link in block.get("text", {}).get("text", "") for block in posted.blocks)
    assert posted.metadata == {
        "event_type": "sanctionwatch_alert",
        "event_payload": {
            "alert_id": 42,
            "story_id": "https://example.com/world/putin-gifts-kim-aurus",
            "rule": "dprk-luxury-goods",
            "rules": ["dprk-luxury-goods"],
        },
    }
    assert posted.params["unfurl_links"] is False


def test_channel_by_bare_name_and_by_id(slack: SlackServer, sender: SlackSender) -> None:
    channel_id = slack.channel("arms-transfers").id  # type: ignore[union-attr]
    first = sender.send(MESSAGE, "arms-transfers")
    second = sender.send(MESSAGE, channel_id)
    assert first.channel == second.channel == channel_id
    assert float(second.ts or 0) > float(first.ts or 0)


def test_reply_goes_into_the_thread(slack: SlackServer, sender: SlackSender) -> None:
    parent = sender.send(MESSAGE, "#sanctions-dprk")
    reply = sender.send(MESSAGE, "#sanctions-dprk", thread_ts=parent.ts)
    assert slack.messages[-1].thread_ts == parent.ts
    assert reply.ts != parent.ts


def test_verify_names_the_workspace(slack: SlackServer, sender: SlackSender) -> None:
    assert sender.verify()["team_id"] == "T0TEST"
    error = failure_of(SlackSender("xoxb-wrong", base_url=slack.api_url).verify)
    assert (error.error, error.permanent) == ("invalid_auth", True)


def test_invalid_auth_is_permanent(slack: SlackServer) -> None:
    wrong = SlackSender("xoxb-wrong", base_url=slack.api_url)
    error = failure_of(lambda: wrong.send(MESSAGE, "#sanctions-dprk"))
    assert (error.error, error.permanent) == ("invalid_auth", True)
    assert slack.messages == []


def test_unknown_channel_is_permanent(sender: SlackSender) -> None:
    error = failure_of(lambda: sender.send(MESSAGE, "#no-such-channel"))
    assert (error.channel, error.error, error.permanent) == (
        "#no-such-channel",
        "channel_not_found",
        True,
    )


def test_archived_channel_is_permanent(slack: SlackServer, sender: SlackSender) -> None:
    slack.add_channel("old-alerts", archived=True)
    error = failure_of(lambda: sender.send(MESSAGE, "#old-alerts"))
    assert (error.error, error.permanent) == ("is_archived", True)


def test_rate_limit_reaches_the_caller_with_retry_after(
    slack: SlackServer, sender: SlackSender
) -> None:
    slack.rate_limit_next(1, retry_after=7)
    error = failure_of(lambda: sender.send(MESSAGE, "#sanctions-dprk"))
    assert (error.error, error.permanent, error.retry_after) == ("ratelimited", False, 7.0)
    assert len(slack.method_calls("chat.postMessage")) == 1, "slack_sdk must not retry by itself"
    assert sender.send(MESSAGE, "#sanctions-dprk").ts


def test_burst_above_the_rate_is_limited(slack: SlackServer, sender: SlackSender) -> None:
    slack.rate_limit_above(per_second=3, retry_after=2)
    for _ in range(3):
        sender.send(MESSAGE, "#sanctions-dprk")
    error = failure_of(lambda: sender.send(MESSAGE, "#sanctions-dprk"))
    assert (error.permanent, error.retry_after) == (False, 2.0)
    assert len(slack.messages) == 3


def test_server_error_is_retryable(slack: SlackServer, sender: SlackSender) -> None:
    slack.fail_next(1, status=503)
    error = failure_of(lambda: sender.send(MESSAGE, "#sanctions-dprk"))
    assert error.permanent is False
    assert error.retry_after is None
    assert slack.messages == []
    assert sender.send(MESSAGE, "#sanctions-dprk").ts


def test_not_in_channel_joins_then_posts(slack: SlackServer, sender: SlackSender) -> None:
    channel = slack.add_channel("dprk-leads", member=False)
    delivery = sender.send(MESSAGE, "#dprk-leads")
    assert delivery.channel == channel.id
    assert [params["channel"] for params in slack.method_calls("conversations.join")] == [
        channel.id
    ]
    assert len(slack.messages_in(channel.id)) == 1


def test_private_channel_the_bot_is_not_in_is_permanent(
    slack: SlackServer, sender: SlackSender
) -> None:
    slack.add_channel("secret", member=False, private=True)
    error = failure_of(lambda: sender.send(MESSAGE, "#secret"))
    assert error.permanent is True
    assert slack.messages == []


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (Message("x", tuple({"type": "divider"} for _ in range(51))), "invalid_blocks"),
        (
            Message("x", ({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},)),
            "invalid_blocks",
        ),
        (
            Message("x", ({"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}},)),
            "invalid_blocks",
        ),
        (Message("t" * 40001, ()), "msg_too_long"),
        pytest.param(
            Message("", ()),
            "no_text",
            marks=pytest.mark.filterwarnings("ignore:The top-level `text`:UserWarning"),
        ),
    ],
)
def test_messages_beyond_slack_limits_are_refused_for_good(
    slack: SlackServer, sender: SlackSender, message: Message, error: str
) -> None:
    failure = failure_of(lambda: sender.send(message, "#sanctions-dprk"))
    assert (failure.error, failure.permanent) == (error, True)
    assert slack.messages == []


def test_unreachable_server_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = SlackSender(TOKEN, base_url=f"http://127.0.0.1:{port}/api/", timeout=2)
    error = failure_of(lambda: sender.send(MESSAGE, "#sanctions-dprk"))
    assert error.permanent is False
    assert error.error.startswith("connection")


def test_silent_server_times_out_as_retryable() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        sender = SlackSender(TOKEN, base_url=f"http://127.0.0.1:{port}/api/", timeout=0.5)
        started = time.monotonic()
        error = failure_of(lambda: sender.send(MESSAGE, "#sanctions-dprk"))
    assert error.permanent is False
    assert error.error.startswith("timeout")
    assert time.monotonic() - started < 5


def test_find_posted_finds_the_alert_by_id(slack: SlackServer, sender: SlackSender) -> None:
    before = time.time() - 1
    other = format_alert(founding_alert(alert_id=7), NOW)
    sender.send(other, "#sanctions-dprk")
    delivery = sender.send(MESSAGE, "#sanctions-dprk")
    sender.send(other, "#arms-transfers")

    assert sender.find_posted("#sanctions-dprk", 42, oldest=before) == delivery.ts
    since = datetime.fromtimestamp(before, UTC)
    assert sender.find_posted("#sanctions-dprk", "42", oldest=since) == delivery.ts
    assert sender.find_posted("#sanctions-dprk", 99, oldest=before) is None
    assert sender.find_posted("#arms-transfers", 42, oldest=before) is None
    assert sender.find_posted("#sanctions-dprk", 42, oldest=float(delivery.ts or 0)) is None


def test_find_posted_pages_through_history(slack: SlackServer, sender: SlackSender) -> None:
    delivery = sender.send(MESSAGE, "#sanctions-dprk")
    other = format_alert(founding_alert(alert_id=8), NOW)
    for _ in range(205):
        sender.send(other, "#sanctions-dprk")
    assert sender.find_posted("#sanctions-dprk", 42) == delivery.ts
    assert len(slack.method_calls("conversations.history")) == 2


def test_find_posted_looks_inside_a_thread(slack: SlackServer, sender: SlackSender) -> None:
    parent = sender.send(format_alert(founding_alert(alert_id=1), NOW), "#sanctions-dprk")
    reply = sender.send(MESSAGE, "#sanctions-dprk", thread_ts=parent.ts)
    assert sender.find_posted("#sanctions-dprk", 42) is None
    assert sender.find_posted("#sanctions-dprk", 42, thread_ts=parent.ts) == reply.ts


def test_injection_story_is_accepted_and_harmless(slack: SlackServer, sender: SlackSender) -> None:
    sender.send(format_alert(injection_alert(), NOW), "#sanctions-dprk")
    [posted] = slack.messages
    for text in [posted.text, *(str(block) for block in posted.blocks)]:
        assert "<!channel>" not in text
        assert "<!here>" not in text
        assert "<@U" not in text
        assert "<http://evil" not in text


def test_webhook_delivers(slack: SlackServer) -> None:
    delivery = WebhookSender(slack.webhook_url).send(MESSAGE, "#sanctions-dprk")
    assert (delivery.channel, delivery.ts) == ("#sanctions-dprk", None)
    [posted] = slack.messages_in("sanctions-dprk")
    assert posted.via == "webhook"
    assert posted.blocks == [dict(block) for block in MESSAGE.blocks]


def test_webhook_errors(slack: SlackServer) -> None:
    sender = WebhookSender(slack.webhook_url)
    slack.rate_limit_next(1, retry_after=30)
    limited = failure_of(lambda: sender.send(MESSAGE, "hook"))
    assert (limited.permanent, limited.retry_after) == (False, 30.0)

    slack.fail_next(1, status=500)
    assert failure_of(lambda: sender.send(MESSAGE, "hook")).permanent is False

    unknown = WebhookSender(slack.base_url + "/services/T0/B0/nope")
    error = failure_of(lambda: unknown.send(MESSAGE, "hook"))
    assert (error.error, error.permanent) == ("no_service", True)
    assert slack.messages == []


@pytest.mark.parametrize(
    ("status", "error", "permanent"),
    [
        (200, "token_revoked", True),
        (200, "msg_too_long", True),
        (200, "restricted_action", True),
        (200, "internal_error", False),
        (200, "some_new_error", False),
        (400, "invalid_payload", True),
        (404, "", True),
        (502, "", False),
    ],
)
def test_error_classification(status: int, error: str, permanent: bool) -> None:
    assert classify_error("#c", status, error, None).permanent is permanent
