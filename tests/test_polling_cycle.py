"""Polling with real parts against a feed server on 127.0.0.1: conditional GET, backoff and
health, moved feeds, re-matching without re-alerting, dates, backfill, the per-host limit."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedserver import FeedServer, http_date
from polling_support import Clock, Item, real_pipeline, rss, write_rules

from daemon.feeds.fetcher import DEFAULT_USER_AGENT
from daemon.models import FeedSpec

GIFT = "Putin gave Kim Jong Un an Aurus limousine as a gift"
BLAND = "Markets were calm on Tuesday"


def alerted_hits(pipeline, since) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Rule ids recorded per story title, with the alert status of each hit."""
    found: dict[str, list[str]] = {}
    for record in pipeline.store.hits_since(since):
        found.setdefault(record.story.title, []).append(
            f"{record.hit.rule_id}:{record.alert_status or 'quiet'}"
        )
    return found


def test_second_poll_is_conditional_gets_304_and_parses_nothing(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    clock = Clock()
    body = rss([Item(GIFT, "https://news.example/a", published=clock.now)])
    modified = http_date(time.time() - 3600)
    url = feed_server.serve("/wire.xml", body, etag='"v1"', last_modified=modified)
    feed = FeedSpec(url, "Wire")
    with real_pipeline(database_url, write_rules(tmp_path), clock) as pipeline:
        _, (outcome,) = pipeline.run_cycle([feed])
        assert (outcome.status, outcome.stories_new, outcome.alerts_new) == ("ok", 1, 1)
        clock.advance(timedelta(minutes=10))
        second, (again,) = pipeline.run_cycle([feed])

    assert (again.status, again.stories_new, again.hits_new) == ("unchanged", 0, 0)
    assert second.feeds_unchanged == 1 and second.stories_new == 0
    first_request, conditional = feed_server.requests_for("/wire.xml")
    assert first_request.header("if-none-match") is None
    assert conditional.header("if-none-match") == '"v1"'
    assert conditional.header("if-modified-since") == modified
    user_agent = conditional.header("user-agent") or ""
    assert user_agent == DEFAULT_USER_AGENT
    assert user_agent.startswith("sanctionwatch/")
    assert "https://github.com/sanctionwatch/sanctionwatch" in user_agent


def test_failing_feed_backs_off_becomes_unhealthy_and_recovers(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    clock = Clock()
    url = feed_server.serve("/flaky.xml", b"oops", status=500)
    feed = FeedSpec(url, "Flaky", interval=timedelta(minutes=5))
    with real_pipeline(database_url, write_rules(tmp_path), clock) as pipeline:
        for attempt in (1, 2, 3):
            outcome = pipeline.poll_feed(feed)
            assert outcome.status == "failed" and outcome.failures == attempt
            assert outcome.error is not None and "500" in outcome.error.detail
            assert outcome.next_poll_at is not None and outcome.next_poll_at > clock.now
            requests = len(feed_server.requests_for("/flaky.xml"))
            deferred = pipeline.poll_feed(feed)
            assert deferred.status == "deferred"
            assert len(feed_server.requests_for("/flaky.xml")) == requests
            clock.now = outcome.next_poll_at + timedelta(seconds=1)

        (health,) = pipeline.store.feed_health()
        assert not health.healthy and health.consecutive_failures == 3
        assert health.last_error_kind == "http_status"
        assert pipeline.metrics.registry.get_sample_value("sanctionwatch_feeds_unhealthy") == 1
        assert pipeline.store.unhealthy_feeds() == 1

        feed_server.serve("/flaky.xml", rss([Item(BLAND, "https://news.example/b")]))
        assert pipeline.poll_feed(feed).status == "ok"
        (health,) = pipeline.store.feed_health()
        assert health.healthy and health.consecutive_failures == 0 and health.last_error is None
        assert pipeline.metrics.registry.get_sample_value("sanctionwatch_feeds_unhealthy") == 0


def test_backoff_grows_and_honours_retry_after(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    clock = Clock()
    busy = feed_server.serve("/busy", b"", status=429, headers=(("Retry-After", "7200"),))
    broken = feed_server.serve("/broken", b"", status=500)
    feeds = [
        FeedSpec(busy, interval=timedelta(minutes=1)),
        FeedSpec(broken, interval=timedelta(minutes=1)),
    ]
    with real_pipeline(database_url, write_rules(tmp_path), clock) as pipeline:
        _, (limited, failed) = pipeline.run_cycle(feeds)
        assert limited.error is not None and limited.error.kind == "rate_limited"
        assert limited.next_poll_at is not None
        assert limited.next_poll_at - clock.now >= timedelta(seconds=7200)
        delays = []
        for _ in range(4):
            _, (_, failed) = pipeline.run_cycle(feeds)
            assert failed.next_poll_at is not None
            delays.append(failed.next_poll_at - clock.now)
    assert delays == sorted(delays) and delays[-1] > 4 * delays[0]


def test_permanent_redirect_moves_the_feed_and_later_polls_go_there(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    clock = Clock()
    feed_server.serve("/new.xml", rss([Item(BLAND, "https://news.example/m")]))
    old = feed_server.redirect("/old.xml", "/new.xml", status=301)
    feed = FeedSpec(old, "Moving")
    with real_pipeline(database_url, write_rules(tmp_path), clock) as pipeline:
        _, (first,) = pipeline.run_cycle([feed])
        assert first.status == "ok" and first.stories_new == 1
        (health,) = pipeline.store.feed_health()
        assert health.url == old and health.moved_to == feed_server.url("/new.xml")
        pipeline.run_cycle([feed])
    assert len(feed_server.requests_for("/old.xml")) == 1
    assert len(feed_server.requests_for("/new.xml")) == 2


def test_changed_title_rematches_but_never_realerts_the_same_rule(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    clock = Clock()
    start = clock.now
    link = "https://news.example/aurus"
    url = feed_server.serve("/wire.xml", rss([Item(GIFT, link, published=clock.now)]))
    feed = FeedSpec(url)
    with real_pipeline(database_url, write_rules(tmp_path), clock) as pipeline:
        _, (first,) = pipeline.run_cycle([feed])
        assert (first.hits_new, first.alerts_new) == (1, 1)

        clock.advance(timedelta(minutes=10))
        edited = GIFT + ", updated"
        feed_server.serve("/wire.xml", rss([Item(edited, link, published=start)]))
        _, (second,) = pipeline.run_cycle([feed])
        assert (second.stories_new, second.hits_new, second.alerts_new) == (0, 0, 0)

        clock.advance(timedelta(minutes=10))
        smuggled = edited + "; a yacht was smuggled too"
        feed_server.serve("/wire.xml", rss([Item(smuggled, link, published=start)]))
        _, (third,) = pipeline.run_cycle([feed])
        assert (third.stories_new, third.hits_new, third.alerts_new) == (0, 1, 1)

        hits = pipeline.store.hits_since(start - timedelta(days=1))
    assert sorted(r.hit.rule_id for r in hits) == ["aurus-gift", "yacht-smuggling"]
    assert len({r.story.id for r in hits}) == 1


def test_first_poll_and_long_downtime_alert_only_inside_the_backfill(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    clock = Clock()
    start = clock.now
    old = Item(GIFT + " (archive)", "https://news.example/old", published=start - timedelta(days=3))
    recent = Item(
        GIFT + " (today)", "https://news.example/new", published=start - timedelta(hours=2)
    )
    undated = Item(GIFT + " (no date)", "https://news.example/undated")
    url = feed_server.serve("/wire.xml", rss([recent, old, undated]))
    feed = FeedSpec(url)
    with real_pipeline(database_url, write_rules(tmp_path), clock) as pipeline:
        _, (first,) = pipeline.run_cycle([feed])
        assert (first.stories_new, first.hits_new, first.alerts_new) == (3, 3, 1)
        assert alerted_hits(pipeline, start - timedelta(days=9)) == {
            recent.title: ["aurus-gift:pending"],
            old.title: ["aurus-gift:quiet"],
            undated.title: ["aurus-gift:quiet"],
        }

        clock.advance(timedelta(days=5))
        during = Item(
            GIFT + " (while down)", "https://news.example/d", published=start + timedelta(days=1)
        )
        fresh = Item(
            GIFT + " (just now)", "https://news.example/f", published=clock.now - timedelta(hours=1)
        )
        late_undated = Item(GIFT + " (undated, later)", "https://news.example/u")
        feed_server.serve("/wire.xml", rss([fresh, during, late_undated, recent, old]))
        _, (after,) = pipeline.run_cycle([feed])
        assert (after.stories_new, after.hits_new, after.alerts_new) == (3, 3, 2)
        hits = alerted_hits(pipeline, start - timedelta(days=9))
    assert hits[during.title] == ["aurus-gift:quiet"]
    assert hits[fresh.title] == ["aurus-gift:pending"]
    assert hits[late_undated.title] == ["aurus-gift:pending"]


def test_a_story_without_date_keeps_its_first_seen_time(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    clock = Clock()
    first_seen = clock.now
    link = "https://news.example/undated"
    url = feed_server.serve("/wire.xml", rss([Item(GIFT, link)]))
    feed = FeedSpec(url)
    with real_pipeline(database_url, write_rules(tmp_path), clock) as pipeline:
        pipeline.run_cycle([feed])
        clock.advance(timedelta(hours=3))
        feed_server.serve("/wire.xml", rss([Item(GIFT + "; a yacht was smuggled", link)]))
        _, (later,) = pipeline.run_cycle([feed])
        assert later.hits_new == 1
        records = pipeline.store.hits_since(first_seen - timedelta(hours=1))
    assert [r.story.published for r in records] == [first_seen, first_seen]


def test_per_host_limit_bounds_requests_to_one_host(tmp_path: Path, database_url: str) -> None:
    with FeedServer("127.0.0.1") as busy, FeedServer("127.0.0.2") as other:
        feeds = [
            FeedSpec(
                server.serve(f"/f{n}.xml", rss([Item(BLAND, f"https://n.example/{n}")]), delay=0.3)
            )
            for server in (busy, other)
            for n in range(6)
        ]
        with real_pipeline(database_url, write_rules(tmp_path), per_host=2) as pipeline:
            report, outcomes = pipeline.run_cycle(feeds)
    assert report.feeds_failed == 0 and {o.status for o in outcomes} == {"ok"}
    assert busy.most_at_once == 2 and other.most_at_once == 2


def test_the_next_poll_counts_from_the_answer_so_requests_stay_an_interval_apart(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    interval = timedelta(seconds=10)  # jitter: at most 0.5 s, less than the server's delay
    body = rss([Item("A quiet day", "https://a.example/1")])
    feed = FeedSpec(feed_server.serve("/slow.xml", body, delay=0.6), interval=interval)
    with real_pipeline(database_url, write_rules(tmp_path), lambda: datetime.now(UTC)) as pipeline:
        started = datetime.now(UTC)
        outcome = pipeline.poll_feed(feed)
    assert outcome.status == "ok" and outcome.next_poll_at is not None
    assert outcome.next_poll_at >= started + timedelta(seconds=0.6) + interval
