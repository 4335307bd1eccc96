"""Fetched bytes to Stories. The only module that imports feedparser."""

from __future__ import annotations

import calendar
import re
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from daemon.errors import FeedError
from daemon.feeds.identity import story_id
from daemon.feeds.text import html_to_text
from daemon.models import FetchResult, Story

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_GUNZIPPED_BYTES = 64 * 1024 * 1024
_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_FEED_ROOT = re.compile(rb"<(?:\w+:)?(?:rss|feed|rdf|channel)\b", re.I)
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{1,8})*$")
_get = dict.get
"""Entry fields are read as plain dict items: feedparser's own lookup maps legacy key names on
every access, which costs more than the rest of turning an entry into a Story."""


def _gunzip(body: bytes, feed_url: str) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, _MAX_GUNZIPPED_BYTES)
    except zlib.error as exc:
        raise FeedError(feed_url, "parse", f"body looks gzip-compressed but is not: {exc}") from exc
    if decompressor.unconsumed_tail:
        raise FeedError(feed_url, "too_large", "gzip body expands beyond 64 MiB")
    return data


def _looks_like_html(body: bytes, content_type: str) -> bool:
    head = body[:4096]
    if _HTML_START.match(head):
        return True
    return "html" in content_type and "xml" not in content_type and not _FEED_ROOT.search(head)


def _utc(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _language(*candidates: Any) -> str | None:
    for candidate in candidates:
        if isinstance(candidate, str):
            tag = candidate.strip().lower().replace("_", "-")
            if _LANGUAGE.match(tag):
                return tag
    return None


def _detail_language(entry: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        detail = _get(entry, key)
        if isinstance(detail, Mapping) and detail.get("language"):
            return str(detail["language"])
    return None


def _content_text(entry: dict[str, Any]) -> str:
    values = [item.get("value", "") for item in _get(entry, "content") or () if item.get("value")]
    return "\n".join(html_to_text(value) for value in dict.fromkeys(values))


def _entry_link(entry: dict[str, Any]) -> str | None:
    for candidate in (_get(entry, "feedburner_origlink"), _get(entry, "link")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    guid = _get(entry, "id")
    if isinstance(guid, str) and guid.startswith(("http://", "https://")):
        return guid.strip()
    return None


def _to_story(
    entry: dict[str, Any],
    feed_url: str,
    base_url: str,
    source: str | None,
    language: str | None,
    now: datetime,
) -> Story | None:
    title = html_to_text(_get(entry, "title") or "", single_line=True)
    summary = html_to_text(_get(entry, "summary") or "")
    content = _content_text(entry)
    if content == summary:
        content = ""
    link = _entry_link(entry)
    if link and not link.startswith(("http://", "https://")):
        link = urljoin(base_url, link)
    if not (title or summary or content or link):
        return None
    guid = _get(entry, "id")
    guid = guid.strip() or None if isinstance(guid, str) else None
    published = _utc(_get(entry, "published_parsed")) or _utc(_get(entry, "updated_parsed"))
    return Story(
        id=story_id(guid, link, title, summary or content),
        feed_url=feed_url,
        title=title,
        summary=summary,
        content=content,
        link=link,
        published=published or now,
        undated=published is None,
        language=_language(
            _detail_language(entry, "title_detail", "summary_detail"), _get(entry, "language")
        )
        or language,
        guid=guid,
        source=source,
    )


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def parse_feed(result: FetchResult, feed_url: str, now: datetime) -> list[Story]:
    """Stories of a fetched feed, in document order, without duplicate ids.

    Raises FeedError ``empty`` (no body), ``not_a_feed`` (an HTML page) or ``parse`` (a broken
    document with no entries). Recoverable problems (bozo with entries) keep the entries.
    ``now`` stands in for missing or unparseable dates.
    """
    body = result.body or b""
    if not body.strip():
        raise FeedError(feed_url, "empty", f"empty response body (HTTP {result.status})")
    if body.startswith(_GZIP_MAGIC):
        body = _gunzip(body, feed_url)
    headers = _lower_keys(result.headers)
    headers.pop("content-encoding", None)
    headers.pop("content-length", None)
    content_type = headers.get("content-type", "").lower()
    if _looks_like_html(body, content_type):
        raise FeedError(feed_url, "not_a_feed", f"got an HTML page ({content_type or 'no type'})")
    try:  # no base URI: feedparser would join it on every element; links are resolved below
        document = feedparser.parse(
            body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as exc:  # feedparser promises not to raise, but is fed hostile input
        raise FeedError(feed_url, "parse", f"{type(exc).__name__}: {exc}") from exc
    entries = document.get("entries") or []
    if not entries:
        if document.get("bozo"):
            problem = document.get("bozo_exception")
            raise FeedError(feed_url, "parse", f"not a well-formed feed and no entries: {problem}")
        if not document.get("version") and not document.get("feed"):
            raise FeedError(feed_url, "not_a_feed", "no RSS, Atom or RDF document found")
        return []
    feed = document.get("feed") or {}
    source = html_to_text(feed.get("title") or "", single_line=True) or None
    language = _language(feed.get("language"), _detail_language(feed, "title_detail"))
    base_url = result.final_url or result.url or feed_url
    stories: dict[str, Story] = {}
    for entry in entries:
        story = _to_story(entry, feed_url, base_url, source, language, now)
        if story is not None and story.id not in stories:
            stories[story.id] = story
    return list(stories.values())
