"""RSS documents for tests: (link, title, summary) items, newest first, one step apart."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

Item = tuple[str, str, str]


def rss(
    items: list[Item],
    now: datetime,
    title: str = "Wire",
    step: timedelta = timedelta(minutes=10),
) -> str:
    entries = "".join(
        f"<item><title>{escape(headline)}</title><link>{escape(link)}</link>"
        f"<guid>{escape(link)}</guid><description>{escape(summary)}</description>"
        f"<pubDate>{format_datetime(now - step * i)}</pubDate></item>"
        for i, (link, headline, summary) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://news.example/</link>{entries}"
        "</channel></rss>"
    )
