"""The delivery worker against a real store and the Slack test server, with a clock the test moves.

A crash is reproduced by doing by hand what a killed worker had done: claimed the alert (and
perhaps posted it) without recording the outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slackserver import TOKEN, SlackServer

from daemon.alerts.formatter import format_alert
from daemon.alerts.outbox import Deliverer, DeliveryPolicy
from daemon.alerts.routing import Routing
from daemon.alerts.slack import SlackSender, WebhookSender
from daemon.models import Alert, Hit, Match, Story
from daemon.store import Store

START = datetime.now(UTC).replace(microsecond=0)
LEASE = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def story(number: int, title: str | None = None, link: str | None = None) -> Story:
    return Story(
        id=f"g:{number}",
        feed_url="http://feeds.example/wire.xml",
        title=title or f"Story {number}: a yacht for Kim Jong Un, with words {number * 7919}",
        summary="The yacht reached Pyongyang.",
        link=link or f"https://news.example/{number}",
        published=START - timedelta(minutes=5),
    )


def hit(rule: str = "yachts-to-dprk", severity: str = "high", channel: str | None = None) -> Hit:
    return Hit(
        rule_id=rule,
        rule_title=f"Rule {rule}",
        category="luxury_goods",
        severity=severity,
        channel=channel,
        references=(),
        matches=(Match("boat", "yacht*", "yacht", "summary", 4, 9),),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


def deliverer(
    store: Store, sender: object, clock: Clock, routing: Routing | None = None
) -> Deliverer:
    policy = DeliveryPolicy(
        pace=timedelta(milliseconds=1), lease=LEASE, routing=routing or Routing()
    )
    return Deliverer(
        store, sender, clock, "#sanctions-dprk", policy=policy, sleep=lambda _seconds: None
    )  # type: ignore[arg-type]


def enqueue(store: Store, *stories_and_hits: tuple[Story, list[Hit]]) -> None:
    for found, hits in stories_and_hits:
        store.save_stories([found], START)
        store.record_hits(found, hits, START, enqueue=True, default_channel="#sanctions-dprk")


def claimed(store: Store, worker: Deliverer, clock: Clock) -> Alert:
    """What a worker killed right after claiming had left behind: one alert ``sending``."""
    worker.decide_new()
    (alert,) = store.due_alerts(clock())
    assert store.claim(alert.id, clock(), clock() + LEASE, None)
    return alert


def test_alert_posted_before_a_crash_is_found_not_posted_again(
    store: Store, slack_server: SlackServer, clock: Clock
) -> None:
    sender = SlackSender(TOKEN, base_url=slack_server.api_url, timeout=5)
    worker = deliverer(store, sender, clock)
    enqueue(store, (story(1), [hit()]))
    alert = claimed(store, worker, clock)
    posted = sender.send(format_alert(alert, clock()), "#sanctions-dprk")

    assert worker.deliver_due().sent == 0, "the claim holds until the lease ends"
    clock.advance(LEASE)
    report = worker.deliver_due()

    assert report.sent == 1
    assert len(slack_server.messages) == 1
    assert len(slack_server.method_calls("conversations.history")) == 1
    assert store.status().outbox["sent"] == 1
    assert store.thread_state(alert.id).slack_ts == posted.ts  # type: ignore[union-attr]


def test_alert_claimed_but_never_posted_is_posted_once(
    store: Store, slack_server: SlackServer, clock: Clock
) -> None:
    worker = deliverer(store, SlackSender(TOKEN, base_url=slack_server.api_url), clock)
    enqueue(store, (story(1), [hit()]))
    claimed(store, worker, clock)
    clock.advance(LEASE)

    assert worker.deliver_due().sent == 1
    assert slack_server.alert_ids() == [1]


def test_a_timeout_after_slack_accepted_does_not_post_twice(
    store: Store, slack_server: SlackServer, clock: Clock
) -> None:
    slack_server.post_delay = 1.6
    sender = SlackSender(TOKEN, base_url=slack_server.api_url, timeout=0.5)
    worker = deliverer(store, sender, clock)
    enqueue(store, (story(1), [hit()]))

    first = worker.deliver_due()
    slack_server.post_delay = 0
    clock.advance(timedelta(minutes=1))
    second = worker.deliver_due()

    assert (first.retrying, second.sent) == (1, 1)
    assert slack_server.alert_ids() == [1]


def test_webhook_mode_cannot_look_back_and_posts_again(
    store: Store, slack_server: SlackServer, clock: Clock
) -> None:
    sender = WebhookSender(slack_server.webhook_url)
    worker = deliverer(store, sender, clock)
    enqueue(store, (story(1), [hit()]))
    alert = claimed(store, worker, clock)
    sender.send(format_alert(alert, clock()), "#sanctions-dprk")
    clock.advance(LEASE)

    assert worker.deliver_due().sent == 1
    assert len(slack_server.messages) == 2, "at least once: the documented window"


def test_permanent_errors_fail_after_one_attempt(
    store: Store, slack_server: SlackServer, clock: Clock
) -> None:
    worker = deliverer(store, SlackSender("xoxb-wrong", base_url=slack_server.api_url), clock)
    enqueue(store, (story(1), [hit()]))

    assert worker.deliver_due().failed == 1
    clock.advance(timedelta(days=1))
    assert worker.deliver_due() == type(worker.deliver_due())()
    assert len(slack_server.method_calls("chat.postMessage")) == 1
    assert store.status().failed_alerts[0].error == "invalid_auth"


def test_transient_errors_give_up_after_the_last_attempt(
    store: Store, slack_server: SlackServer, clock: Clock
) -> None:
    slack_server.fail_next(1000, status=503)
    worker = deliverer(store, SlackSender(TOKEN, base_url=slack_server.api_url), clock)
    enqueue(store, (story(1), [hit()]))

    for _ in range(40):
        worker.deliver_due()
        clock.advance(timedelta(hours=1))

    (failed,) = store.status().failed_alerts
    assert failed.error == "gave up after 12 attempts: service_unavailable"
    assert store.next_due() is None


def test_retry_after_is_honoured(store: Store, slack_server: SlackServer, clock: Clock) -> None:
    slack_server.rate_limit_next(1, retry_after=20)
    worker = deliverer(store, SlackSender(TOKEN, base_url=slack_server.api_url), clock)
    enqueue(store, (story(1), [hit()]), (story(2), [hit()]))

    assert worker.deliver_due().retrying == 1
    clock.advance(timedelta(seconds=19))
    assert worker.deliver_due().sent == 0
    clock.advance(timedelta(seconds=1))
    assert worker.deliver_due().sent == 2
    assert sorted(slack_server.alert_ids()) == [1, 2]


def test_a_new_rule_on_an_alerted_story_replies_in_its_thread(
    store: Store, slack_server: SlackServer, clock: Clock
) -> None:
    worker = deliverer(store, SlackSender(TOKEN, base_url=slack_server.api_url), clock)
    enqueue(store, (story(1), [hit()]))
    worker.deliver_due()
    store.record_hits(story(1), [hit("leader-gifts")], START, enqueue=True)
    worker.deliver_due()

    root, reply = slack_server.messages
    assert reply.thread_ts == root.ts
    assert reply.metadata["event_payload"]["rules"] == ["leader-gifts"]  # type: ignore[index]


def test_a_reply_waits_for_its_thread_to_be_posted(
    store: Store, slack_server: SlackServer, clock: Clock
) -> None:
    slack_server.rate_limit_next(1, retry_after=5)
    worker = deliverer(store, SlackSender(TOKEN, base_url=slack_server.api_url), clock)
    title = "UN panel: luxury yacht delivered to Kim Jong Un in Pyongyang"
    enqueue(
        store,
        (story(1, title=title), [hit()]),
        (
            story(2, title="Luxury yacht delivered to Kim Jong Un in Pyongyang, says UN panel"),
            [hit()],
        ),
    )

    assert worker.deliver_due().sent == 0
    clock.advance(timedelta(seconds=5))
    worker.deliver_due()
    clock.advance(timedelta(seconds=5))
    worker.deliver_due()

    root, reply = slack_server.messages
    assert (root.thread_ts, reply.thread_ts) == (None, root.ts)


def test_quiet_window_keeps_a_rule_from_firing_twice_on_one_event(
    store: Store, slack_server: SlackServer, clock: Clock
) -> None:
    routing = Routing(quiet={"yachts-to-dprk": timedelta(hours=6)})
    worker = deliverer(store, SlackSender(TOKEN, base_url=slack_server.api_url), clock, routing)
    link = "https://news.example/yacht?utm_source=a"
    enqueue(store, (story(1, link=link), [hit()]))
    worker.deliver_due()
    enqueue(store, (story(2, link=link.replace("=a", "=b")), [hit(), hit("leader-gifts")]))
    enqueue(store, (story(3, link=link.replace("=a", "=c")), [hit()]))
    report = worker.deliver_due()

    assert (report.sent, report.suppressed) == (1, 1)
    assert [m.metadata["event_payload"]["rules"] for m in slack_server.messages] == [  # type: ignore[index]
        ["yachts-to-dprk"],
        ["yachts-to-dprk", "leader-gifts"],
    ]
    assert store.status().outbox["suppressed"] == 1


def test_minimum_severity_per_channel(
    store: Store, slack_server: SlackServer, clock: Clock
) -> None:
    routing = Routing(min_severity={"#sanctions-dprk": "high", "*": "low"})
    worker = deliverer(store, SlackSender(TOKEN, base_url=slack_server.api_url), clock, routing)
    enqueue(
        store,
        (story(1), [hit(severity="medium")]),
        (story(2), [hit(severity="medium", channel="#arms-transfers")]),
        (story(3), [hit(severity="critical"), hit("leader-gifts", severity="low")]),
    )

    report = worker.deliver_due()

    assert (report.sent, report.suppressed) == (2, 1)
    assert len(slack_server.messages_in("arms-transfers")) == 1
    [dprk] = slack_server.messages_in("sanctions-dprk")
    assert dprk.metadata["event_payload"]["rules"] == ["yachts-to-dprk"]  # type: ignore[index]
