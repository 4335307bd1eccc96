"""Fetcher against a real HTTP server on 127.0.0.1: conditional GET, gzip, redirects, faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from feedserver import FeedServer, http_date

from daemon.errors import FeedError
from daemon.feeds.fetcher import Fetcher, retry_after_seconds
from daemon.feeds.parser import parse_feed
from daemon.models import FetchState

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://example.org/</link>
<item><title>Putin gifts Kim an Aurus limousine</title>
<link>https://example.org/a?utm_source=rss</link><guid>https://example.org/a</guid>
<description>&lt;p&gt;Moscow &amp;amp; Pyongyang&lt;/p&gt;</description>
<pubDate>Tue, 20 Feb 2024 10:00:00 GMT</pubDate></item>
</channel></rss>"""
TIMEOUT = 2.0
MARGIN = 3.0


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as started:
        yield started


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(timeout=TIMEOUT, max_body_bytes=1024 * 1024) as client:
        yield client


def fetch_error(fetcher: Fetcher, url: str) -> tuple[FeedError, float]:
    started = time.monotonic()
    with pytest.raises(FeedError) as caught:
        fetcher.fetch(url)
    return caught.value, time.monotonic() - started


def test_fetch_then_parse(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.serve("/feed.xml", RSS)
    result = fetcher.fetch(url, FetchState())
    assert result.status == 200 and result.body == RSS
    stories = parse_feed(result, url, datetime(2025, 1, 1, tzinfo=UTC))
    assert [s.title for s in stories] == ["Putin gifts Kim an Aurus limousine"]
    assert stories[0].summary == "Moscow & Pyongyang"
    assert stories[0].published == datetime(2024, 2, 20, 10, tzinfo=UTC)
    assert server.requests[0].header("user-agent", "").startswith("sanctionwatch/")


def test_second_poll_is_conditional_and_gets_304(server: FeedServer, fetcher: Fetcher) -> None:
    modified = http_date(time.time() - 3600)
    url = server.serve("/feed.xml", RSS, etag='"v1"', last_modified=modified)
    first = fetcher.fetch(url, FetchState())
    assert first.state == FetchState(etag='"v1"', last_modified=modified)

    second = fetcher.fetch(url, first.state)

    assert second.status == 304 and second.not_modified and second.body is None
    assert second.state == first.state
    conditional = server.requests_for("/feed.xml")[-1]
    assert conditional.header("if-none-match") == '"v1"'
    assert conditional.header("if-modified-since") == modified


def test_last_modified_alone_gives_304(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.serve("/feed.xml", RSS, last_modified=http_date(time.time() - 60))
    first = fetcher.fetch(url)
    assert fetcher.fetch(url, first.state).status == 304


def test_gzip_content_encoding_is_decoded(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.serve("/feed.xml", RSS, gzip=True)
    result = fetcher.fetch(url)
    assert result.body == RSS
    assert result.headers.get("content-encoding") == "gzip"
    assert "gzip" in (server.requests[0].header("accept-encoding") or "")


def test_redirects_are_followed_and_permanent_moves_reported(
    server: FeedServer, fetcher: Fetcher
) -> None:
    target = server.serve("/new.xml", RSS)
    server.redirect("/moved", "/new.xml", status=301)
    server.redirect("/temporary", server.url("/moved"), status=302)

    moved = fetcher.fetch(server.url("/moved"))
    assert moved.final_url == target and moved.permanent_url == target and moved.body == RSS

    temporary = fetcher.fetch(server.url("/temporary"))
    assert temporary.final_url == target and temporary.permanent_url is None


def test_redirect_loop_is_cut_off(server: FeedServer, fetcher: Fetcher) -> None:
    server.redirect("/a", "/b")
    server.redirect("/b", "/a")
    error, _ = fetch_error(fetcher, server.url("/a"))
    assert error.kind == "redirects"
    assert len(server.requests) == fetcher.max_redirects + 1


@pytest.mark.parametrize(
    ("fault", "kind"),
    [("hang", "timeout"), ("hang_body", "timeout"), ("trickle", "timeout"), ("reset", "connect")],
)
def test_faults_fail_within_the_timeout(
    server: FeedServer, fetcher: Fetcher, fault: str, kind: str
) -> None:
    url = server.fault(f"/{fault}", fault, body=RSS[:100])
    error, elapsed = fetch_error(fetcher, url)
    assert error.kind == kind, error
    assert error.url == url
    assert elapsed < TIMEOUT + MARGIN


@pytest.mark.parametrize("fault", ["huge", "endless"])
def test_oversized_bodies_are_refused_while_streaming(
    server: FeedServer, fetcher: Fetcher, fault: str
) -> None:
    error, elapsed = fetch_error(fetcher, server.fault(f"/{fault}", fault))
    assert error.kind == "too_large"
    assert elapsed < TIMEOUT + MARGIN


def test_server_error_is_http_status(server: FeedServer, fetcher: Fetcher) -> None:
    error, _ = fetch_error(fetcher, server.serve("/broken", b"oops", status=500))
    assert error.kind == "http_status" and "500" in str(error)
    error, _ = fetch_error(fetcher, server.url("/missing"))
    assert error.kind == "http_status" and "404" in str(error)


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_carry_retry_after(server: FeedServer, fetcher: Fetcher, status: int) -> None:
    url = server.serve("/busy", b"slow down", status=status, headers=(("Retry-After", "120"),))
    error, _ = fetch_error(fetcher, url)
    assert error.kind == "rate_limited"
    assert error.retry_after == 120


def test_connection_refused_is_connect(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.url("/feed.xml")
    server.stop()
    error, _ = fetch_error(fetcher, url)
    assert error.kind == "connect"


def test_non_http_scheme_is_refused(fetcher: Fetcher) -> None:
    error, _ = fetch_error(fetcher, "file:///etc/passwd")
    assert error.kind == "invalid_url"


def test_retry_after_accepts_seconds_and_dates() -> None:
    now = datetime(2024, 2, 20, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("30", now) == 30
    assert retry_after_seconds("Tue, 20 Feb 2024 10:01:00 GMT", now) == 60
    assert retry_after_seconds("Tue, 20 Feb 2024 09:00:00 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_one_fetcher_serves_a_worker_pool(server: FeedServer, fetcher: Fetcher) -> None:
    bodies = [RSS.replace(b"Wire", f"Wire {n}".encode()) for n in range(60)]
    urls = [server.serve(f"/feed{n}.xml", body, etag=f'"{n}"') for n, body in enumerate(bodies)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        first = list(pool.map(fetcher.fetch, urls))
        again = list(pool.map(lambda r: fetcher.fetch(r.url, r.state), first))
    assert [r.body for r in first] == bodies
    assert all(r.status == 304 and r.body is None for r in again)
    assert len(server.requests) == 120


def test_compressed_body_is_limited_after_decompression(
    server: FeedServer, fetcher: Fetcher
) -> None:
    url = server.serve("/bomb.xml", b"\0" * (3 * 1024 * 1024), gzip=True)
    error, _ = fetch_error(fetcher, url)
    assert error.kind == "too_large"


def test_503_without_retry_after_is_http_status(server: FeedServer, fetcher: Fetcher) -> None:
    error, _ = fetch_error(fetcher, server.serve("/down", b"down", status=503))
    assert error.kind == "http_status" and error.retry_after is None


def test_html_page_instead_of_feed_is_not_a_feed(server: FeedServer, fetcher: Fetcher) -> None:
    page = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body>Hi</body></html>"
    url = server.serve("/feed", page, content_type="text/html; charset=utf-8")
    with pytest.raises(FeedError) as caught:
        parse_feed(fetcher.fetch(url), url, datetime(2025, 1, 1, tzinfo=UTC))
    assert caught.value.kind == "not_a_feed"
