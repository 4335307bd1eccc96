"""Parsing and matching in worker processes: the same stories and errors as in-thread parsing,
rules reloaded when the caller's change, a clean shutdown; feeds interleaved across hosts."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer
from polling_support import RULES, Item, rss

from daemon.errors import FeedError
from daemon.feeds.fetcher import Fetcher
from daemon.feeds.parser import parse_feed
from daemon.feeds.workers import (
    PARSER_MATCHING_LIMIT,
    ParsePool,
    interleave_by_host,
    matches_in_parsers,
)
from daemon.metrics import Metrics
from daemon.models import FeedSpec, FetchResult
from daemon.pipeline import Pipeline
from daemon.rules import load_rulebook
from daemon.store import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
URL = "https://example.org/feed"


def fetched(body: bytes) -> FetchResult:
    return FetchResult(url=URL, status=200, body=body, headers={"Content-Type": "text/xml"})


def test_worker_processes_parse_like_the_thread_and_stop_on_close() -> None:
    items = [Item(f"Story {n} " + "word " * 200, f"https://example.org/{n}") for n in range(20)]
    body = rss(items).encode()
    page = b"<!DOCTYPE html><html><body>" + b"x" * 8000 + b"</body></html>"
    before = set(multiprocessing.active_children())
    pool = ParsePool(processes=2, inline_below=1024)
    pool.start()
    workers = set(multiprocessing.active_children()) - before
    assert len(workers) == 2
    try:
        assert pool.parse(fetched(body), URL, NOW).stories == parse_feed(fetched(body), URL, NOW)
        with pytest.raises(FeedError) as caught:
            pool.parse(fetched(page), URL, NOW)
        assert caught.value.kind == "not_a_feed" and caught.value.url == URL
    finally:
        pool.close()
    assert not any(process.is_alive() for process in workers)
    assert pool.parse(fetched(body), URL, NOW).stories == parse_feed(fetched(body), URL, NOW)


def test_feeds_are_interleaved_across_hosts() -> None:
    feeds = [FeedSpec(f"https://big.example/{n}") for n in range(4)] + [
        FeedSpec("https://a.example/1"),
        FeedSpec("https://b.example/1"),
    ]
    hosts = [f.url.split("/")[2] for f in interleave_by_host(feeds)]
    assert hosts == [
        "big.example", "a.example", "b.example", "big.example", "big.example", "big.example"
    ]  # fmt: skip


@pytest.mark.parametrize("match_in", ["parsers", "daemon"])
def test_matching_follows_rule_reloads_in_the_parser_processes_or_the_daemon(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, match_in: str
) -> None:
    rules = tmp_path / "rules"
    (rules / "lists").mkdir(parents=True)
    (rules / "aurus.yaml").write_text(RULES["aurus.yaml"], encoding="utf-8")
    current = {"rulebook": load_rulebook(rules)}
    now = datetime.now(UTC)
    filler = [
        Item(f"Weather report {n}", f"https://n.example/{n}", "Calm. " * 40, now) for n in range(20)
    ]
    story = Item(
        "Putin gave Kim an Aurus as a gift; a yacht was smuggled", "https://n.example/x", "", now
    )
    url = feed_server.serve("/wire.xml", rss([story, *filler]))
    store = Store.connect(sqlite_url)
    store.upgrade()
    metrics = Metrics()
    pipeline = Pipeline(
        store,
        Fetcher(timeout=5),
        lambda: current["rulebook"],
        lambda: datetime.now(UTC),
        metrics=metrics,
        parse_processes=1,
        rules_path=rules,
        match_in=match_in,
    )
    try:
        pipeline.start()
        in_parsers = metrics.registry.get_sample_value("sanctionwatch_matching_in_parsers")
        assert in_parsers == (1.0 if match_in == "parsers" else 0.0)
        _, (first,) = pipeline.run_cycle([FeedSpec(url)])
        assert first.hits_new == 1
        (rules / "yacht.yaml").write_text(RULES["yacht.yaml"], encoding="utf-8")
        current["rulebook"] = load_rulebook(rules)
        edited = Item(story.title + " (updated)", story.link, "", now)
        feed_server.serve("/wire.xml", rss([edited, *filler]))
        _, (second,) = pipeline.run_cycle([FeedSpec(url)])
        hits = store.hits_since(now - timedelta(hours=1))
    finally:
        pipeline.close()
        store.close()
    assert second.hits_new == 1
    assert sorted(r.hit.rule_id for r in hits) == ["aurus-gift", "yacht-smuggling"]


@pytest.mark.parametrize(
    ("match_in", "terms", "processes", "expected"),
    [
        ("auto", 8_000, 2, True),
        ("auto", PARSER_MATCHING_LIMIT + 1, 2, False),
        ("parsers", PARSER_MATCHING_LIMIT + 1, 2, True),
        ("daemon", 10, 2, False),
        ("parsers", 10, 0, False),
    ],
)
def test_where_stories_are_matched(
    match_in: str, terms: int, processes: int, expected: bool
) -> None:
    assert matches_in_parsers(match_in, terms, processes) is expected
