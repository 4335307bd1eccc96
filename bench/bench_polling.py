"""Polling speed: 1,000 feeds of 20 items each, served locally with 50 ms latency per request.

    python bench/bench_polling.py [--feeds 1000] [--hosts 50] [--latency 0.05] [--sample 100]
                                  [--rules rules | none]

Prints the time of a first cycle (every feed new) and of a second cycle (every feed answers
304), and the speed-up over a sequential ``feedparser.parse(url)`` loop. The loop is timed on a
sample of the feeds and extrapolated to all of them. Targets: first cycle at least 10x faster than
the loop, the 304 cycle under 2 s.

The feeds are spread over ``--hosts`` loopback addresses (127.0.0.1, 127.0.0.2, ...) as real feed
lists are spread over many sites; the per-host limit applies to each address. The server
(bench/feedfarm.py) runs in
its own process; the store is SQLite in a temporary directory. The cycle matches every story
against the shipped rules (``--rules none``: against no rules, to see the cost of polling alone).
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
from feedfarm import FeedFarm

from daemon.feeds.fetcher import Fetcher
from daemon.feeds.workers import available_cores
from daemon.metrics import Metrics
from daemon.models import FeedSpec
from daemon.pipeline import Pipeline
from daemon.rules import load_rulebook
from daemon.store import Store

REPO = Path(__file__).resolve().parents[1]
_TEXT = (
    "government minister officials said talks week report economy trade market city police "
    "company year people country president parliament election vote budget energy prices "
    "inflation court ruling border security military exercise agreement summit delegation "
    "visit capital region province farmers harvest weather storm flood school hospital "
    "workers strike union bank rates investors shares exports imports port shipping"
)
WORDS = _TEXT.split(" ")


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def feed_document(number: int, items: int, now: datetime) -> bytes:
    rng = random.Random(number)
    entries = []
    for item in range(items):
        link = f"https://news{number % 97}.example/{number}/{item}?utm_source=rss"
        title = _sentence(rng, 10)[:-1]
        paragraphs = "".join(f"<p>{_sentence(rng, 25)} {_sentence(rng, 20)}</p>" for _ in range(3))
        published = format_datetime(now - timedelta(minutes=17 * item + number % 60))
        entries.append(
            f"<item><title>{title}</title><link>{link}</link>"
            f'<guid isPermaLink="false">feed-{number}-item-{item}</guid>'
            f"<category>World</category><category>Politics</category>"
            f"<dc:creator>Staff reporter</dc:creator><pubDate>{published}</pubDate>"
            f"<description><![CDATA[{paragraphs}]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Outlet {number}</title><link>https://news{number % 97}.example/</link>"
        f"<description>News from outlet {number}</description><language>en</language>"
        + "".join(entries)
        + "</channel></rss>"
    ).encode()


# the measurements -----------------------------------------------------------------------------


def sequential_loop(urls: list[str]) -> float:
    started = time.perf_counter()
    for url in urls:
        parsed = feedparser.parse(url)
        assert parsed.entries, url
    return time.perf_counter() - started


def start_feed_farm(
    host_count: int, feeds: int, items: int, latency: float
) -> tuple[FeedFarm, list[str]]:
    """Serve ``feeds`` feeds of ``feed_document`` spread over ``host_count`` loopback addresses
    from a separate process; returns the farm and every feed's URL."""
    farm = FeedFarm(feeds, items, hosts=host_count, latency=latency, document=feed_document).start()
    return farm, [farm.url(n) for n in range(feeds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--per-host", type=int, default=8)
    parser.add_argument(
        "--rules", default=str(REPO / "rules"), help="rules folder, or 'none' to match nothing"
    )
    args = parser.parse_args()

    farm, urls = start_feed_farm(args.hosts, args.feeds, args.items, args.latency)
    feeds = [FeedSpec(url, f"Outlet {n}") for n, url in enumerate(urls)]
    sample = urls[:: max(1, len(urls) // args.sample)][: args.sample]
    body = feed_document(0, args.items, datetime.now(UTC))
    started = time.process_time()
    for _ in range(20):
        feedparser.parse(body)
    parse_ms = (time.process_time() - started) / 20 * 1000
    print(
        f"{args.feeds} feeds x {args.items} items ({len(body) / 1024:.0f} KiB each, feedparser "
        f"{parse_ms:.1f} ms CPU per feed) on {args.hosts} loopback hosts, "
        f"{args.latency * 1000:.0f} ms latency"
    )

    loop_sample = sequential_loop(sample)
    loop_total = loop_sample * len(urls) / len(sample)
    print(
        f"sequential feedparser.parse(url) loop: {loop_sample:.2f} s for {len(sample)} feeds, "
        f"extrapolated to {len(urls)}: {loop_total:.1f} s"
    )

    with tempfile.TemporaryDirectory() as folder:
        store = Store.connect(f"sqlite:///{Path(folder) / 'bench.db'}")
        store.upgrade()
        store.sync_feeds(((f.url, f.name) for f in feeds), datetime.now(UTC))
        rules = Path(args.rules)
        if args.rules == "none":
            rules = Path(folder) / "rules"
            (rules / "lists").mkdir(parents=True)
        rulebook = load_rulebook(rules)
        pipeline = Pipeline(
            store,
            Fetcher(),
            lambda: rulebook,
            lambda: datetime.now(UTC),
            workers=args.workers,
            metrics=Metrics(),
            per_host=args.per_host,
            rules_path=rules,
        )
        try:
            started = time.perf_counter()
            pipeline.start()
            start_seconds = time.perf_counter() - started
            started, cpu = time.perf_counter(), time.process_time()
            first, outcomes = pipeline.run_cycle(feeds)
            first_seconds = time.perf_counter() - started
            main_cpu = time.process_time() - cpu
            failed = [o for o in outcomes if o.status != "ok"]
            assert not failed, failed[:3]
            started = time.perf_counter()
            second, _ = pipeline.run_cycle(feeds)
            second_seconds = time.perf_counter() - started
        finally:
            pipeline.close()
            store.close()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    parser_cpu = usage.ru_utime + usage.ru_stime
    farm.stop()

    ratio = loop_total / first_seconds
    print(
        f"first cycle: {first_seconds:.2f} s ({first.feeds_polled} feeds, "
        f"{first.stories_new} new stories, {first.hits_new} hits, {len(rulebook.rules)} rules); "
        "parser processes started "
        f"before it, in {start_seconds:.2f} s"
    )
    print(f"speed-up over the sequential loop: {ratio:.1f}x (target >= 10x)")
    print(
        f"CPU: this process {main_cpu:.1f} s during the first cycle (fetching, storing), parser "
        f"processes {parser_cpu:.1f} s in all (parsing and matching, with their start-up), "
        f"on {available_cores()} cores"
    )
    print(
        f"304 cycle: {second_seconds:.2f} s ({second.feeds_unchanged} of {second.feeds_polled} "
        "feeds unchanged) (target < 2 s)"
    )


if __name__ == "__main__":
    main()
