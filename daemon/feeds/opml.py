"""OPML subscription lists: outline categories are tags, outline titles are feed names."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from daemon.errors import FeedListError
from daemon.models import FeedSpec

FEEDS_SETTING = "SANCTIONWATCH_FEEDS"
_OUTLINE_TAG = re.compile(r"<outline\b[^<>]*?/?>", re.S)
_ATTRIBUTE_START = re.compile(r'\s([A-Za-z_][\w:.-]*)="')
_TAG_END = re.compile(r'"\s*/?>$')


def _escape_stray_quotes(tag: str) -> str:
    """``<outline text="Газета "Ъ"" …/>`` → ``text="Газета &quot;Ъ&quot;"``: quotes inside an
    attribute value, which some exporters forget to escape, become entities."""
    starts = list(_ATTRIBUTE_START.finditer(tag))
    end = _TAG_END.search(tag)
    if not starts or end is None:
        return tag
    pieces = [tag[: starts[0].start()]]
    for index, start in enumerate(starts):
        value_end = starts[index + 1].start() - 1 if index + 1 < len(starts) else end.start()
        value = tag[start.end() : value_end]
        pieces.append(tag[start.start() : start.end()] + value.replace('"', "&quot;") + '"')
        if index + 1 < len(starts):
            pieces.append(tag[value_end + 1 : starts[index + 1].start()])
    pieces.append(tag[end.start() + 1 :])
    return "".join(pieces)


def _repair(text: str) -> str:
    return _OUTLINE_TAG.sub(lambda found: _escape_stray_quotes(found.group(0)), text)


def _split_categories(value: str | None) -> list[str]:
    if not value:
        return []
    return [part.strip().strip("/") for part in value.split(",") if part.strip().strip("/")]


def _label(outline: ET.Element) -> str:
    return " ".join((outline.get("title") or outline.get("text") or "").split())


def _collect(parent: ET.Element, categories: tuple[str, ...], found: dict[str, FeedSpec]) -> None:
    for outline in parent.findall("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        label = _label(outline)
        if not url:
            _collect(outline, (*categories, label) if label else categories, found)
            continue
        tags = tuple(dict.fromkeys((*categories, *_split_categories(outline.get("category")))))
        earlier = found.get(url)
        if earlier is not None:
            merged = tuple(dict.fromkeys((*earlier.tags, *tags)))
            found[url] = FeedSpec(url=url, name=earlier.name, tags=merged)
        else:
            found[url] = FeedSpec(url=url, name=label or None, tags=tags)


def parse_opml(text: str, origin: str = "<opml>") -> list[FeedSpec]:
    """Feeds of an OPML document, in document order; a URL listed twice gets both categories.

    A document whose only flaw is unescaped quotes inside outline attributes is repaired;
    anything else that is not well-formed raises FeedListError naming the line.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as first_error:
        try:
            root = ET.fromstring(_repair(text))
        except ET.ParseError:
            line, column = first_error.position
            raise FeedListError(
                FEEDS_SETTING, f"{origin}:{line}: not well-formed OPML (column {column + 1})"
            ) from first_error
    if root.tag != "opml":
        raise FeedListError(FEEDS_SETTING, f"{origin}: root element is <{root.tag}>, not <opml>")
    body = root.find("body")
    if body is None:
        raise FeedListError(FEEDS_SETTING, f"{origin}: OPML document has no <body>")
    found: dict[str, FeedSpec] = {}
    _collect(body, (), found)
    return list(found.values())


def load_opml(path: Path) -> list[FeedSpec]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FeedListError(FEEDS_SETTING, f"{path}: cannot read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    return parse_opml(text, str(path))


def _feed_outline(parent: ET.Element, feed: FeedSpec, extra_tags: Iterable[str]) -> None:
    label = feed.name or feed.url
    attributes = {"type": "rss", "text": label, "title": label, "xmlUrl": feed.url}
    extra = ",".join(extra_tags)
    if extra:
        attributes["category"] = extra
    ET.SubElement(parent, "outline", attributes)


def export_opml(feeds: Iterable[FeedSpec], title: str = "sanctionwatch feeds") -> str:
    """OPML 2.0 text: feeds nested under an outline named after their first tag; further tags
    go in the ``category`` attribute. ``parse_opml`` reads the same tags back."""
    root = ET.Element("opml", {"version": "2.0"})
    ET.SubElement(ET.SubElement(root, "head"), "title").text = title
    body = ET.SubElement(root, "body")
    groups: dict[str, ET.Element] = {}
    for feed in feeds:
        if not feed.tags:
            _feed_outline(body, feed, ())
            continue
        first, *rest = feed.tags
        if first not in groups:
            groups[first] = ET.SubElement(body, "outline", {"text": first, "title": first})
        _feed_outline(groups[first], feed, rest)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
