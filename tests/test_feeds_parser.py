"""parse_feed on the real and ill-formed feeds of ../shared, plain text, dates, identity."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from daemon.errors import FeedError
from daemon.feeds.identity import canonical_link, story_id
from daemon.feeds.parser import parse_feed
from daemon.feeds.text import html_to_text
from daemon.models import FetchResult

FEEDS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "feeds"
NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)
URL = "https://example.org/feed"


def files(kind: str) -> list[Path]:
    return sorted((FEEDS_DIR / kind).glob("*")) if (FEEDS_DIR / kind).is_dir() else []


def result(body: bytes, content_type: str = "application/rss+xml") -> FetchResult:
    return FetchResult(url=URL, status=200, body=body, headers={"Content-Type": content_type})


def rss(items: str, channel: str = "<title>Wire</title>") -> bytes:
    document = f'<?xml version="1.0"?><rss version="2.0"><channel>{channel}{items}</channel></rss>'
    return document.encode()


@pytest.mark.corpus
@pytest.mark.parametrize("path", files("real"), ids=lambda p: p.name)
def test_every_real_feed_parses_to_stories_with_title_and_link(path: Path) -> None:
    stories = parse_feed(result(path.read_bytes()), URL, NOW)
    assert stories
    for story in stories:
        assert story.title and story.link and story.id
        assert story.published is not None and story.published.tzinfo is not None
        assert "<" not in story.title or ">" not in story.title
    assert len({story.id for story in stories}) == len(stories)


@pytest.mark.corpus
@pytest.mark.parametrize("path", files("edge"), ids=lambda p: p.name)
def test_every_edge_feed_gives_stories_or_a_feed_error(path: Path) -> None:
    try:
        stories = parse_feed(result(path.read_bytes(), "application/xml"), URL, NOW)
    except FeedError as error:
        assert error.kind in {"not_a_feed", "empty", "parse", "too_large"}
        assert error.url == URL
    else:
        assert all(story.title or story.summary or story.link for story in stories)


@pytest.mark.corpus
def test_known_real_feed_details() -> None:
    lenta = FEEDS_DIR / "real" / "lenta_ru_news.xml"
    if not lenta.exists():
        pytest.skip("../shared/feeds is absent")
    stories = parse_feed(result(lenta.read_bytes()), URL, NOW)
    assert stories[0].language == "ru" and stories[0].source
    latin1 = parse_feed(
        result((FEEDS_DIR / "real" / "uol_noticias_br_no_xml_decl_latin1.rss").read_bytes()),
        URL,
        NOW,
    )
    assert any("ã" in story.title or "ç" in story.title for story in latin1)
    assert all(story.published == NOW for story in latin1)


@pytest.mark.corpus
def test_gzip_body_without_header_is_gunzipped_and_html_is_not_a_feed() -> None:
    oren = FEEDS_DIR / "edge" / "nodefp_gzip_body_oren_ru.xml"
    if not oren.exists():
        pytest.skip("../shared/feeds is absent")
    assert parse_feed(result(oren.read_bytes()), URL, NOW)
    with pytest.raises(FeedError) as caught:
        parse_feed(result((FEEDS_DIR / "edge" / "nodefp_notafeed.html").read_bytes()), URL, NOW)
    assert caught.value.kind == "not_a_feed"


def test_plain_text_fields() -> None:
    body = rss(
        "<item><title>Putin &amp;amp; Kim: &lt;b&gt;Aurus&lt;/b&gt;</title>"
        "<link>https://example.org/a</link>"
        "<description>&lt;p&gt;First&amp;nbsp;para.&lt;/p&gt;&lt;p&gt;Second   para&lt;/p&gt;"
        "&lt;script&gt;alert(1)&lt;/script&gt;</description>"
        "<pubDate>Tue, 20 Feb 2024 13:00:00 +0300</pubDate></item>",
        "<title>Wire &amp; Co</title><language>en-GB</language>",
    )
    (story,) = parse_feed(result(body), URL, NOW)
    assert story.title == "Putin & Kim: Aurus"
    assert story.summary == "First para.\nSecond para"
    assert story.published == datetime(2024, 2, 20, 10, tzinfo=UTC)
    assert story.language == "en-gb"
    assert story.source == "Wire & Co"
    assert story.id == story_id(None, "https://example.org/a", story.title, story.summary)


def test_content_encoded_and_missing_dates() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0" '
        b'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>W</title>'
        b"<item><title>T</title><guid isPermaLink='false'>abc-1</guid>"
        b"<description>Short</description>"
        b"<content:encoded><![CDATA[<p>Long <em>text</em></p>]]></content:encoded>"
        b"<pubDate>mer, 16 nov 2022 10:00:00</pubDate></item></channel></rss>"
    )
    (story,) = parse_feed(result(body), URL, NOW)
    assert (story.summary, story.content) == ("Short", "Long text")
    assert story.guid == "abc-1" and story.id == story_id("abc-1", None, "", "")
    assert story.published == NOW


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (b"", "application/rss+xml", "empty"),
        (b"  \n ", "application/rss+xml", "empty"),
        (b"<!DOCTYPE html><html><body>Hi</body></html>", "text/html", "not_a_feed"),
        (b"<html><head><title>Moved</title></head></html>", "application/xml", "not_a_feed"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel><title>x', "text/xml", "parse"),
        (b"\x1f\x8bnot really gzip", "application/rss+xml", "parse"),
    ],
)
def test_bad_bodies_raise_feed_errors(body: bytes, content_type: str, kind: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(result(body, content_type), URL, NOW)
    assert caught.value.kind == kind


def test_gzip_bytes_are_gunzipped() -> None:
    body = rss("<item><title>Zipped</title><link>https://example.org/z</link></item>")
    (story,) = parse_feed(result(gzip.compress(body)), URL, NOW)
    assert story.title == "Zipped"


def test_a_valid_feed_without_items_is_empty_not_an_error() -> None:
    assert parse_feed(result(rss("")), URL, NOW) == []


def test_relative_links_resolve_against_the_final_url() -> None:
    body = rss("<item><title>Rel</title><link>/news/1</link></item>")
    fetched = FetchResult(
        url=URL, status=200, body=body, final_url="https://mirror.example.net/feeds/a.xml"
    )
    (story,) = parse_feed(fetched, URL, NOW)
    assert story.link == "https://mirror.example.net/news/1"


def test_canonical_link_drops_tracking_fragment_and_default_port() -> None:
    assert (
        canonical_link(
            "HTTPS://WWW.Example.org:443/a/b?utm_source=rss&id=7&fbclid=x&at_medium=y#top"
        )
        == "https://www.example.org/a/b?id=7"
    )
    assert canonical_link("http://example.org") == "http://example.org/"
    assert (
        canonical_link("http://example.org:8080/x?b=2&a=1") == "http://example.org:8080/x?a=1&b=2"
    )


def test_story_id_prefers_guid_then_link_then_text() -> None:
    assert story_id(" g-1 ", "https://a/x", "T", "S").startswith("g:")
    by_link = story_id(None, "https://a.example/x?utm_campaign=z", "T", "S")
    assert by_link == story_id("", "https://A.example/x#frag", "Other", "")
    assert by_link.startswith("l:")
    by_text = story_id(None, None, "Putin  gifts", "Kim")
    assert by_text == story_id(None, "", "putin gifts", " Kim ") and by_text.startswith("h:")


def test_html_to_text() -> None:
    assert html_to_text("a<br/>b&nbsp;c &lt;d&gt;") == "a\nb c"
    assert html_to_text("x < y and y > z") == "x < y and y > z"
    assert html_to_text("<ul><li>one</li><li>two</li></ul>", single_line=True) == "one two"
