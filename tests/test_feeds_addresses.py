"""Article links may only reach public addresses; the check runs after DNS resolution and on
every redirect hop, before any connection is made. No traffic ever goes to 10.x or 169.254.x."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from feedserver import FeedServer

from daemon.errors import FeedError
from daemon.feeds.addresses import BlockedAddressError, is_public_address, public_addresses
from daemon.feeds.fetcher import Fetcher

ARTICLE = b"""<!DOCTYPE html><html><head><title>Aurus for Kim</title></head><body>
<nav>Home | World | Sport</nav>
<article><h1>Putin gives Kim Jong Un an Aurus limousine</h1>
<p>Russian President Vladimir Putin has presented North Korean leader Kim Jong Un with a
Russian-made Aurus Senat limousine, state media in Pyongyang reported on Tuesday.</p>
<p>The gift appears to breach United Nations Security Council resolution 1718, which bans the
supply of luxury goods to North Korea, analysts said.</p>
<p>Kim's sister thanked Moscow for the present, calling it a sign of special relations.</p>
</article><footer>Copyright Example News</footer></body></html>"""


@pytest.fixture
def target() -> Iterator[FeedServer]:
    """The server that must never be reached; it records every request."""
    with FeedServer("127.0.0.1") as server:
        server.serve("/secret", b"internal", content_type="text/html")
        yield server


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(timeout=5.0) as client:
        yield client


def refused(fetcher: Fetcher, url: str) -> FeedError:
    with pytest.raises(FeedError) as caught:
        fetcher.fetch_article(url)
    assert caught.value.kind == "blocked_address", caught.value
    return caught.value


def test_loopback_article_link_is_refused_without_a_request(
    target: FeedServer, fetcher: Fetcher
) -> None:
    refused(fetcher, target.url("/secret"))
    refused(fetcher, f"http://localhost:{target.port}/secret")
    refused(fetcher, f"http://[::ffff:127.0.0.1]:{target.port}/secret")
    assert target.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[fd00::1]/",
        "http://[::1]/",
        "http://[fe80::1]/",
    ],
)
def test_private_and_special_addresses_are_refused(fetcher: Fetcher, url: str) -> None:
    error = refused(fetcher, url)
    assert "not a public address" in str(error)


def second_loopback_server() -> FeedServer:
    try:
        return FeedServer("127.0.0.2")
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address on this machine")


def test_redirect_to_loopback_is_refused_at_the_hop(target: FeedServer) -> None:
    with second_loopback_server() as redirector:
        redirector.redirect("/story", target.url("/secret"))
        redirector.redirect("/metadata", "http://169.254.169.254/latest/meta-data/")
        with Fetcher(timeout=5.0, allowed_networks=["127.0.0.2/32"]) as fetcher:
            refused(fetcher, redirector.url("/story"))
            refused(fetcher, redirector.url("/metadata"))
        assert [r.path for r in redirector.requests] == ["/story", "/metadata"]
    assert target.requests == []


def test_feeds_are_not_checked_unless_asked(target: FeedServer) -> None:
    url = target.serve("/feed.xml", b"<rss/>")
    with Fetcher(timeout=5.0) as open_fetcher:
        assert open_fetcher.fetch(url).status == 200
    with Fetcher(timeout=5.0, check_feed_addresses=True) as strict, pytest.raises(FeedError) as e:
        strict.fetch(url)
    assert e.value.kind == "blocked_address"
    assert len(target.requests_for("/feed.xml")) == 1


def test_allowed_private_addresses_fetch_article_text(target: FeedServer) -> None:
    url = target.serve("/article.html", ARTICLE, content_type="text/html; charset=utf-8")
    with Fetcher(timeout=5.0, allow_private_addresses=True) as fetcher:
        text = fetcher.fetch_article(url)
    assert "Aurus Senat limousine" in text
    assert "resolution 1718" in text
    assert "Home | World" not in text


def test_non_html_article_gives_no_text(target: FeedServer) -> None:
    url = target.serve("/photo.jpg", b"\xff\xd8\xff", content_type="image/jpeg")
    with Fetcher(timeout=5.0, allow_private_addresses=True) as fetcher:
        assert fetcher.fetch_article(url) == ""


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2a00:1450:4001:80b::200e", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("255.255.255.255", False),
        ("::ffff:10.0.0.1", False),
        ("2002:0a00:0001::1", False),
        ("fc00::1", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


def test_public_addresses_honours_allowed_networks() -> None:
    with pytest.raises(BlockedAddressError):
        public_addresses("127.0.0.1", 80)
    allowed = [ipaddress.ip_network("127.0.0.0/8")]
    assert public_addresses("127.0.0.1", 80, allowed) == ["127.0.0.1"]
