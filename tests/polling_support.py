"""Building blocks for the polling tests: tiny rules, RSS documents, a settable clock, and a
Pipeline made of real parts (store, fetcher, parser processes, rules)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from daemon.feeds.fetcher import Fetcher
from daemon.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.rules import load_rulebook
from daemon.store import Store

RULES = {
    "aurus.yaml": """\
id: aurus-gift
title: Aurus limousine given away
category: luxury_goods
severity: high
channel: "#alerts"
terms:
  car: [aurus]
  give: [gift*, gave, give*]
condition: car and give
window: story
""",
    "yacht.yaml": """\
id: yacht-smuggling
title: Yacht smuggled
category: sanctions_evasion
severity: medium
channel: "#alerts"
terms:
  boat: [yacht*]
  smuggle: [smuggl*]
condition: boat and smuggle
window: story
""",
}


def write_rules(folder: Path) -> Path:
    rules = folder / "rules"
    (rules / "lists").mkdir(parents=True, exist_ok=True)
    for name, text in RULES.items():
        (rules / name).write_text(text, encoding="utf-8")
    return rules


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    summary: str = ""
    published: datetime | None = None


def rss(items: list[Item], title: str = "Wire") -> str:
    entries = "".join(
        f"<item><title>{escape(item.title)}</title><link>{escape(item.link)}</link>"
        f"<guid>{escape(item.link)}</guid><description>{escape(item.summary)}</description>"
        + (f"<pubDate>{format_datetime(item.published)}</pubDate>" if item.published else "")
        + "</item>"
        for item in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://news.example/</link>{entries}"
        "</channel></rss>"
    )


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@contextmanager
def real_pipeline(
    database_url: str,
    rules: Path,
    clock: Clock | None = None,
    *,
    timeout: float = 2.0,
    allow_private_addresses: bool = False,
    parse_processes: int | None = 1,
    per_host: int = 8,
) -> Iterator[Pipeline]:
    store = Store.connect(database_url)
    store.upgrade()
    rulebook = load_rulebook(rules)
    fetcher = Fetcher(
        timeout=timeout,
        max_body_bytes=1024 * 1024,
        allow_private_addresses=allow_private_addresses,
    )
    pipeline = Pipeline(
        store,
        fetcher,
        lambda: rulebook,
        clock or Clock(),
        metrics=Metrics(),
        parse_processes=parse_processes,
        per_host=per_host,
        rules_path=rules,
    )
    try:
        yield pipeline
    finally:
        pipeline.close()
        store.close()
