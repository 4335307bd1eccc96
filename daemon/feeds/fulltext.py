"""Main text of an article page. The only module that imports trafilatura."""

from __future__ import annotations

import trafilatura


def extract_article_text(page: bytes | str, url: str | None = None) -> str:
    """Plain main text of an HTML page (boilerplate, navigation and comments removed), one paragraph
    a line, or ""."""
    text = trafilatura.extract(
        page,
        url=url,
        include_comments=False,
        include_tables=False,
        include_links=False,
        include_images=False,
        favor_precision=True,
        deduplicate=True,
    )
    if not text:
        return ""
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
