"""The store on SQLite and PostgreSQL: migrations, dedupe, unique hits, outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from daemon.errors import ConfigError, FeedError
from daemon.models import Delivery, FetchState, Hit, Match, Story
from daemon.store import Store
from daemon.store.database import build_engine, downgrade, upgrade

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def story(
    story_id: str = "g:1", title: str = "Putin gifts Kim Jong Un an Aurus limousine"
) -> Story:
    return Story(
        id=story_id,
        feed_url="http://feeds.example/a.xml",
        title=title,
        summary="The car was delivered in Pyongyang.",
        link="https://news.example/aurus",
        published=NOW - timedelta(hours=1),
    )


HIT = Hit(
    rule_id="dprk-luxury-goods",
    rule_title="Luxury goods supplied to North Korea",
    category="luxury_goods",
    severity="high",
    channel="#sanctions-dprk",
    references=("UNSCR 1718 (2006)",),
    matches=(Match("luxury", "aurus", "Aurus", "title", 25, 30),),
)


def test_migrations_create_tables_and_go_down_and_up_again(database_url: str) -> None:
    engine = build_engine(database_url)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"feeds", "stories", "story_sources", "hits", "alerts", "cycles"} <= tables
    downgrade(engine, "base")
    assert not {"feeds", "stories", "hits", "alerts"} & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert "alerts" in inspect(engine).get_table_names()
    engine.dispose()


def test_story_seen_twice_is_stored_once_with_both_sources(store: Store) -> None:
    first = store.save_stories([story()], NOW)
    assert [s.is_new for s in first] == [True]
    again = store.save_stories([story()], NOW)
    assert [(s.is_new, s.changed) for s in again] == [(False, False)]
    other_feed = Story(**{**story().__dict__, "feed_url": "http://feeds.example/b.xml"})
    assert [s.is_new for s in store.save_stories([other_feed], NOW)] == [False]
    changed = store.save_stories([story(title="Putin gives Kim Jong Un a second Aurus")], NOW)
    assert [(s.is_new, s.changed) for s in changed] == [(False, True)]


def test_a_hit_is_recorded_and_enqueued_once(store: Store) -> None:
    store.save_stories([story()], NOW)
    assert store.record_hits(story(), [HIT], NOW, enqueue=True) == (1, 1)
    assert store.record_hits(story(), [HIT], NOW, enqueue=True) == (0, 0)
    due = store.due_alerts(NOW)
    assert len(due) == 1
    assert due[0].hit == HIT
    assert due[0].story.link == "https://news.example/aurus"
    assert due[0].story.published == NOW - timedelta(hours=1)


def test_outbox_retry_then_sent(store: Store) -> None:
    store.save_stories([story()], NOW)
    store.record_hits(story(), [HIT], NOW, enqueue=True)
    (alert,) = store.due_alerts(NOW)
    store.mark_retry(alert.id, "ratelimited", NOW + timedelta(seconds=30))
    assert store.due_alerts(NOW) == []
    (retry,) = store.due_alerts(NOW + timedelta(seconds=31))
    assert retry.attempts == 1
    store.mark_sent(alert.id, Delivery("C123", "1700000000.000100"), NOW)
    assert store.due_alerts(NOW + timedelta(days=1)) == []
    assert store.status().outbox == {"pending": 0, "sent": 1, "failed": 0}


def test_quiet_hits_are_recorded_without_alerts(store: Store) -> None:
    store.save_stories([story()], NOW)
    assert store.record_hits(story(), [HIT], NOW, enqueue=False) == (1, 0)
    assert store.due_alerts(NOW) == []
    (record,) = store.hits_since(NOW - timedelta(hours=1))
    assert record.alert_status is None
    assert record.hit.rule_id == "dprk-luxury-goods"


def test_failed_alert_shows_its_reason_in_status(store: Store) -> None:
    store.save_stories([story()], NOW)
    store.record_hits(story(), [HIT], NOW, enqueue=True)
    (alert,) = store.due_alerts(NOW)
    store.mark_failed(alert.id, "channel_not_found")
    report = store.status()
    assert report.outbox["failed"] == 1
    assert report.failed_alerts[0].error == "channel_not_found"


def test_feed_fetch_state_and_failures(store: Store) -> None:
    url = "http://feeds.example/a.xml"
    assert store.fetch_state(url) == FetchState()
    store.record_poll_success(url, FetchState('"v1"', "Sun, 01 Mar 2026 10:00:00 GMT"), NOW, NOW)
    assert store.fetch_state(url).etag == '"v1"'
    error = FeedError(url, "timeout", "no answer within 20s")
    assert store.record_poll_failure(url, error, NOW, lambda n: timedelta(minutes=n)) == 1
    assert store.record_poll_failure(url, error, NOW, lambda n: timedelta(minutes=n)) == 2
    (health,) = store.feed_health()
    assert health.healthy and health.consecutive_failures == 2
    assert store.record_poll_failure(url, error, NOW, lambda n: timedelta(minutes=n)) == 3
    (health,) = store.feed_health()
    assert not health.healthy
    assert health.last_error_kind == "timeout"
    assert health.next_poll_at == NOW + timedelta(minutes=3)
    assert store.fetch_state(url).etag == '"v1"'


def test_bad_database_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="SANCTIONWATCH_DATABASE_URL"):
        Store.connect("nosuchdb://whatever")
    with pytest.raises(ConfigError, match="SANCTIONWATCH_DATABASE_URL"):
        Store.connect("postgresql+psycopg://postgres@127.0.0.1:1/none")


def test_retention_prunes_old_stories_without_hits(store: Store) -> None:
    old = NOW - timedelta(days=120)
    store.save_stories([story("g:old-quiet"), story("g:old-hit")], old)
    store.save_stories([story("g:new-quiet")], NOW)
    store.record_hits(story("g:old-hit"), [HIT], old, enqueue=True)
    assert store.prune_stories(NOW - timedelta(days=90)) == 1
    assert [s.is_new for s in store.save_stories([story("g:old-quiet")], NOW)] == [True]
    assert [s.is_new for s in store.save_stories([story("g:old-hit")], NOW)] == [False]
    assert [s.is_new for s in store.save_stories([story("g:new-quiet")], NOW)] == [False]
    assert len(store.hits_since(old - timedelta(days=1))) == 1
