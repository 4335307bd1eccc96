"""Parsing in worker processes: the same stories and errors as in-thread parsing, and a clean
shutdown; feeds interleaved across hosts."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest
from polling_support import Item, rss

from daemon.errors import FeedError
from daemon.feeds.parser import parse_feed
from daemon.feeds.workers import ParsePool, interleave_by_host
from daemon.models import FeedSpec, FetchResult

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
        assert pool.parse(fetched(body), URL, NOW) == parse_feed(fetched(body), URL, NOW)
        with pytest.raises(FeedError) as caught:
            pool.parse(fetched(page), URL, NOW)
        assert caught.value.kind == "not_a_feed" and caught.value.url == URL
    finally:
        pool.close()
    assert not any(process.is_alive() for process in workers)
    assert pool.parse(fetched(body), URL, NOW) == parse_feed(fetched(body), URL, NOW)


def test_feeds_are_interleaved_across_hosts() -> None:
    feeds = [FeedSpec(f"https://big.example/{n}") for n in range(4)] + [
        FeedSpec("https://a.example/1"),
        FeedSpec("https://b.example/1"),
    ]
    hosts = [f.url.split("/")[2] for f in interleave_by_host(feeds)]
    assert hosts == [
        "big.example", "a.example", "b.example", "big.example", "big.example", "big.example"
    ]  # fmt: skip
