"""Hostile and broken feeds in one cycle through the real command, every file of ../shared/feeds
through a cycle, full text, the address guard for article links, and OPML through the CLI."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy
from clirun import sanctionwatch
from feedserver import FeedServer
from polling_support import Clock, Item, real_pipeline, rss, write_rules
from slackserver import TOKEN, SlackServer

from daemon.feeds.opml import load_opml, parse_opml
from daemon.models import FeedSpec

GIFT = "Putin gave Kim Jong Un an Aurus limousine as a gift"
TIMEOUT = 3.0
MARGIN = 5.0
BAD_FEEDS = {
    "/hang.xml": "timeout",
    "/trickle.xml": "timeout",
    "/reset.xml": "connect",
    "/error.xml": "http_status",
    "/busy.xml": "rate_limited",
    "/huge.xml": "too_large",
    "/page.html": "not_a_feed",
}


def test_one_cycle_with_hostile_feeds_delivers_the_healthy_ones(
    tmp_path: Path, feed_server: FeedServer, slack_server: SlackServer, database_url: str
) -> None:
    now = datetime.now(UTC)
    feed_server.fault("/hang.xml", "hang")
    feed_server.fault("/trickle.xml", "trickle", body=b"<rss>")
    feed_server.fault("/reset.xml", "reset")
    feed_server.serve("/error.xml", b"oops", status=500)
    feed_server.serve("/busy.xml", b"", status=429, headers=(("Retry-After", "3600"),))
    feed_server.fault("/huge.xml", "huge")
    feed_server.serve("/page.html", b"<!DOCTYPE html><html><body>Hi</body></html>")
    healthy = {f"/good{n}.xml": f"https://news.example/story-{n}" for n in range(3)}
    for path, link in healthy.items():
        feed_server.serve(path, rss([Item(f"{GIFT} ({path})", link, published=now)]))
    urls = [feed_server.url(path) for path in [*BAD_FEEDS, *healthy]]
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n" + "".join(f"  - url: {url}\n" for url in urls), encoding="utf-8"
    )
    slack_server.add_channel("#alerts")
    env = {
        "SANCTIONWATCH_DATABASE_URL": database_url,
        "SANCTIONWATCH_RULES": str(write_rules(tmp_path)),
        "SANCTIONWATCH_HTTP_TIMEOUT": f"{TIMEOUT:g}s",
        "SANCTIONWATCH_MAX_BODY_BYTES": str(5 * 1024 * 1024),
        "SLACK_BOT_TOKEN": TOKEN,
        "SANCTIONWATCH_SLACK_API_URL": slack_server.api_url,
    }

    result = sanctionwatch("once", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    posted = " ".join(m.text + json.dumps(m.blocks) for m in slack_server.messages)
    assert len(slack_server.messages) == len(healthy)
    for link in healthy.values():
        assert link in posted
    listed = sanctionwatch("feeds", "list", "--format", "json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    feeds = {row["url"]: row for row in json.loads(listed.stdout)}
    for path, kind in BAD_FEEDS.items():
        row = feeds[feed_server.url(path)]
        assert row["last_error_kind"] == kind, row
        assert row["last_error"], row
        assert row["next_poll_at"] > row["last_polled_at"], row
    busy = feeds[feed_server.url("/busy.xml")]
    waited = datetime.fromisoformat(busy["next_poll_at"]) - datetime.fromisoformat(
        busy["last_polled_at"]
    )
    assert waited >= timedelta(seconds=3600)
    for path in healthy:
        assert feeds[feed_server.url(path)]["last_error"] is None
    status = sanctionwatch("status", "--format", "json", cwd=tmp_path, env=env)
    cycle = json.loads(status.stdout)["last_cycle"]
    assert cycle["feeds_failed"] == len(BAD_FEEDS)
    polling = datetime.fromisoformat(cycle["finished_at"]) - datetime.fromisoformat(
        cycle["started_at"]
    )
    assert polling < timedelta(seconds=TIMEOUT + MARGIN)


def _shared_feed_files(shared: Path) -> list[Path]:
    return sorted((shared / "feeds" / "real").glob("*")) + sorted(
        (shared / "feeds" / "edge").glob("*")
    )


def _stories_by_source(database_url: str) -> dict[str, int]:
    engine = sqlalchemy.create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sqlalchemy.text("SELECT feed_url, count(*) FROM story_sources GROUP BY feed_url")
        ).all()
    engine.dispose()
    return {url: count for url, count in rows}


@pytest.mark.corpus
def test_every_shared_feed_through_a_cycle_gives_stories_or_a_clear_error(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, shared_dir: Path
) -> None:
    feeds = []
    for file in _shared_feed_files(shared_dir):
        kind = file.parent.name
        content_type = "application/rss+xml" if kind == "real" else "application/xml"
        url = feed_server.serve_file(f"/{kind}/{file.name}", file, content_type=content_type)
        feeds.append(FeedSpec(url, f"{kind}/{file.name}"))
    with real_pipeline(sqlite_url, write_rules(tmp_path), parse_processes=2) as pipeline:
        report, outcomes = pipeline.run_cycle(feeds)
        health = {h.url: h for h in pipeline.store.feed_health()}
    assert report.feeds_polled == len(feeds)
    sources = _stories_by_source(sqlite_url)
    for feed, outcome in zip(feeds, outcomes, strict=True):
        if "/real/" in feed.url:
            # a story also carried by another sample feed may have been stored from that one
            assert outcome.status == "ok" and sources.get(feed.url, 0) > 0, (feed.name, outcome)
            assert health[feed.url].stories_seen == outcome.stories_new
        elif outcome.status == "failed":
            assert outcome.error is not None
            assert outcome.error.kind in {"not_a_feed", "empty", "parse", "too_large"}
            assert health[feed.url].last_error == outcome.error.detail
        else:
            assert outcome.status == "ok", (feed.name, outcome)


ARTICLE = b"""<!DOCTYPE html><html><head><title>Motor news</title></head><body>
<nav>Home | World | Business</nav><article><h1>A limousine for Pyongyang</h1>
<p>Officials confirmed on Tuesday that the Russian president gave the North Korean leader an Aurus
limousine as a personal gift during the visit, the second such car delivered this year.</p>
<p>Analysts said the transfer appears to breach United Nations sanctions that ban supplying luxury
goods to the country, and that customs records show no export licence was issued.</p>
</article><footer>Copyright</footer></body></html>"""


def test_full_text_is_matched_instead_of_the_bland_summary(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    clock = Clock()
    article = feed_server.serve("/article/1", ARTICLE, content_type="text/html; charset=utf-8")
    item = Item("Motor news of the day", article, "A car changes hands.", clock.now)
    feed = FeedSpec(feed_server.serve("/wire.xml", rss([item])), fulltext=True)
    plain = FeedSpec(feed_server.serve("/plain.xml", rss([Item(item.title, article + "?p")])))
    with real_pipeline(
        database_url, write_rules(tmp_path), clock, allow_private_addresses=True
    ) as pipeline:
        _, (with_text, without) = pipeline.run_cycle([feed, plain])
        (record,) = pipeline.store.hits_since(clock.now - timedelta(hours=1))
    assert (with_text.hits_new, with_text.alerts_new) == (1, 1)
    assert without.hits_new == 0
    assert record.hit.rule_id == "aurus-gift"
    assert "Aurus" in record.story.content
    assert {m.field for m in record.hit.matches} == {"content"}


def test_article_links_to_private_addresses_are_never_requested(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    clock = Clock()
    with FeedServer() as recorder:
        recorder.serve("/secret", ARTICLE, content_type="text/html")
        links = [
            recorder.url("/secret"),
            "http://10.0.0.1/admin",
            "http://169.254.169.254/latest/meta-data/",
        ]
        items = [
            Item(f"{GIFT[:20]} {n}", link, published=clock.now) for n, link in enumerate(links)
        ]
        feed = FeedSpec(feed_server.serve("/wire.xml", rss(items)), fulltext=True)
        started = time.monotonic()
        with real_pipeline(database_url, write_rules(tmp_path), clock) as pipeline:
            _, (outcome,) = pipeline.run_cycle([feed])
        elapsed = time.monotonic() - started
        assert recorder.requests == []
    assert outcome.status == "ok" and outcome.stories_new == len(links)
    assert len(feed_server.requests_for("/wire.xml")) == 1
    assert elapsed < 10


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["News.opml", "South_Korea.opml", "Russia-illformed.opml"])
def test_opml_import_then_export_round_trips_through_the_cli(
    tmp_path: Path, shared_dir: Path, name: str
) -> None:
    source = shared_dir / "feeds" / "opml" / name
    env = {"SANCTIONWATCH_FEEDS": str(tmp_path / "feeds.yaml")}
    imported = sanctionwatch("feeds", "import", str(source), cwd=tmp_path, env=env)
    assert imported.returncode == 0, imported.stderr
    exported = sanctionwatch("feeds", "export", cwd=tmp_path, env=env)
    assert exported.returncode == 0, exported.stderr

    original = load_opml(source)
    again = parse_opml(exported.stdout)
    assert original
    assert [(f.url, f.name, set(f.tags)) for f in again] == [
        (f.url, f.name, set(f.tags)) for f in original
    ]


def test_feeds_list_and_status_show_unhealthy_and_moved_feeds(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feed_server.serve("/new.xml", rss([Item("Calm day", "https://news.example/calm")]))
    moved = feed_server.redirect("/old.xml", "/new.xml", status=308)
    broken = feed_server.serve("/broken.xml", b"oops", status=500)
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - url: {moved}\n  - url: {broken}\n", encoding="utf-8")
    env = {
        "SANCTIONWATCH_DATABASE_URL": sqlite_url,
        "SANCTIONWATCH_RULES": str(write_rules(tmp_path)),
    }
    for _ in range(3):
        assert sanctionwatch("once", cwd=tmp_path, env=env).returncode == 0

    table = sanctionwatch("feeds", "list", cwd=tmp_path, env=env).stdout
    status = sanctionwatch("status", cwd=tmp_path, env=env).stdout
    assert "UNHEALTHY, failing ×3" in table
    assert "moved to" in table
    listed = sanctionwatch("feeds", "list", "--format", "json", cwd=tmp_path, env=env).stdout
    rows = {row["url"]: row for row in json.loads(listed)}
    assert rows[moved]["moved_to"] == feed_server.url("/new.xml")
    assert rows[broken]["healthy"] is False and rows[moved]["healthy"] is True
    assert "1 unhealthy" in status and "UNHEALTHY" in status
    assert feeds_file.read_text(encoding="utf-8").count(moved) == 1
    assert len(feed_server.requests_for("/old.xml")) == 1
