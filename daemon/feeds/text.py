"""HTML fragments from feeds to plain text: tags dropped, entities decoded, whitespace collapsed."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "iframe", "object"})
_LEFTOVER_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b\u200e\u200f\ufeff]")
_LEFTOVER_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.pieces.append(data)


_NEEDS_FULL_PARSER = re.compile(
    r"<!|<\?|<(?:script|style|template|noscript|iframe|object)\b|<[A-Za-z][^>]*$", re.I
)
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)\b[^>]*>")


def _tag_as_text(found: re.Match[str]) -> str:
    return "\n" if found.group(1).lower() in _BLOCK_TAGS else ""


def _strip_tags(fragment: str) -> str:
    """Tags dropped, block tags turned into line breaks, entities decoded. Plain tag soup, the
    common case in feeds, takes a fast path; comments, CDATA, scripts and styles the HTML parser."""
    if not _NEEDS_FULL_PARSER.search(fragment):
        return html.unescape(_TAG.sub(_tag_as_text, fragment))
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    return "".join(collector.pieces)


def html_to_text(fragment: str, *, single_line: bool = False) -> str:
    """Plain text of an HTML (or plain-text) fragment. Block elements become line breaks unless
    ``single_line``; entities left over from double escaping (``&amp;amp;``) are decoded too."""
    if not fragment:
        return ""
    text = _strip_tags(fragment) if "<" in fragment or "&" in fragment else fragment
    if _LEFTOVER_TAG.search(text):
        text = _strip_tags(text)
    if _LEFTOVER_ENTITY.search(text):
        text = html.unescape(text)
    text = _CONTROL.sub("", text.replace("\r", "\n").replace("\xa0", " "))
    if single_line:
        return " ".join(text.split())
    # each line's whitespace runs collapsed, blank lines dropped (str.split is far cheaper than
    # a regular expression substituting every single space)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
