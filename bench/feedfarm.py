"""A local feed server for the daemon benchmarks: many feeds over many loopback addresses, with
ETag / 304, stories added while it runs, and a log of when each added story was first served.

It runs in its own process (``FeedFarm.start``); the benchmark talks to it through a pipe.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    summary: str
    published: datetime


def _rss(number: int, items: list[Item]) -> bytes:
    entries = "".join(
        f"<item><title>{escape(i.title)}</title>"
        f"<link>https://outlet{number % 97}.example/{number}/{i.key}</link>"
        f'<guid isPermaLink="false">{i.key}</guid>'
        f"<pubDate>{format_datetime(i.published)}</pubDate>"
        f"<description>{escape(i.summary)}</description></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Outlet {number}</title><link>https://outlet{number % 97}.example/</link>"
        f"<description>News from outlet {number}</description>{entries}</channel></rss>"
    ).encode()


WORDS = [
    "government",
    "minister",
    "officials",
    "said",
    "talks",
    "week",
    "report",
    "economy",
    "trade",
    "market",
    "city",
    "police",
    "company",
    "year",
    "people",
    "country",
    "parliament",
    "election",
    "budget",
    "energy",
    "prices",
    "court",
    "border",
    "weather",
    "storm",
    "harvest",
    "farmers",
    "school",
    "hospital",
    "workers",
    "union",
    "bank",
    "rates",
    "investors",
]


def _archive_item(rng: random.Random, feed: int, number: int, published: datetime) -> Item:
    """An old story of news-feed size (a title of ten words, a summary of forty)."""
    title = " ".join(rng.choice(WORDS) for _ in range(10)).capitalize()
    summary = " ".join(rng.choice(WORDS) for _ in range(40)).capitalize() + "."
    return Item(f"f{feed}-old{number}", f"{title} ({feed}/{number})", summary, published)


Document = Callable[[int, int, datetime], bytes]
"""Builds feed ``number`` of ``items`` stories published before ``now``."""


class _Feeds:
    def __init__(self, feeds: int, items: int, keep: int, document: Document | None) -> None:
        now = datetime.now(UTC)
        self.keep = keep
        if document is None:
            rng = random.Random(11)
            old = now - timedelta(days=3)
            self.items = {
                n: [_archive_item(rng, n, k, old) for k in range(items)] for n in range(feeds)
            }
            self.bodies = {n: _rss(n, items) for n, items in self.items.items()}
        else:
            self.items = {n: [] for n in range(feeds)}
            self.bodies = {n: document(n, items, now) for n in range(feeds)}
        self.versions = dict.fromkeys(self.items, 1)
        self.pending: dict[int, list[str]] = {}
        self.served: dict[str, float] = {}
        self.requests = 0

    def add(self, number: int, item: Item) -> float:
        self.items[number] = [item, *self.items[number]][: self.keep]
        self.versions[number] += 1
        self.bodies[number] = _rss(number, self.items[number])
        self.pending.setdefault(number, []).append(item.key)
        return time.time()


async def _serve(feeds: _Feeds, hosts: list[str], latency: float, conn: Any) -> None:
    loop = asyncio.get_running_loop()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = (x.partition(":") for x in lines[1:])
                match = [v for k, _, v in headers if k.lower() == "if-none-match"]
                if latency:
                    await asyncio.sleep(latency)
                feeds.requests += 1
                number = int(path.rsplit("/", 1)[-1].split(".")[0]) if path.endswith(".xml") else -1
                if number not in feeds.bodies:
                    response = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                else:
                    etag = f'"{number}-{feeds.versions[number]}"'
                    if match and match[0].strip() == etag:
                        response = f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n".encode()
                    else:
                        body = feeds.bodies[number]
                        response = (
                            "HTTP/1.1 200 OK\r\n"
                            "Content-Type: application/rss+xml; charset=utf-8\r\n"
                            f"ETag: {etag}\r\nContent-Length: {len(body)}\r\n\r\n"
                        ).encode() + body
                        now = time.time()
                        for key in feeds.pending.pop(number, ()):
                            feeds.served[key] = now
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError, ValueError):
            pass
        finally:
            writer.close()

    servers = [await asyncio.start_server(answer, host, 0, backlog=1024) for host in hosts]
    conn.send([s.sockets[0].getsockname()[1] for s in servers])

    def commands() -> None:
        while True:
            try:
                name, args = conn.recv()
            except EOFError:
                return
            done = threading.Event()
            reply: list[object] = []

            def run(
                name: str = name,
                args: Any = args,
                reply: list[object] = reply,
                done: threading.Event = done,
            ) -> None:
                if name == "add":
                    reply.append(feeds.add(args[0], Item(*args[1:])))
                elif name == "stats":
                    reply.append((feeds.requests, dict(feeds.served)))
                done.set()

            loop.call_soon_threadsafe(run)
            done.wait()
            conn.send(reply[0])

    threading.Thread(target=commands, daemon=True).start()
    await asyncio.Event().wait()


def _main(
    feeds: tuple[int, int, int, Document | None], hosts: list[str], latency: float, conn: Any
) -> None:
    asyncio.run(_serve(_Feeds(*feeds), hosts, latency, conn))


class FeedFarm:
    """``feeds`` feeds of ``items`` archive stories each (three days old, about 6 KiB a feed of
    ten), or of ``document``'s making, spread over ``hosts`` loopback addresses, each request
    answered after ``latency`` seconds; ``add`` puts a new story on top of a feed (at most
    ``keep`` kept: a feed of ``document``'s making then holds the added stories only)."""

    def __init__(
        self,
        feeds: int,
        items: int = 10,
        keep: int = 20,
        hosts: int = 50,
        latency: float = 0.0,
        document: Document | None = None,
    ) -> None:
        self.feeds = feeds
        self.hosts = [f"127.0.0.{n + 1}" for n in range(hosts)]
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._lock = threading.Lock()
        self._process = context.Process(
            target=_main,
            args=((feeds, items, keep, document), self.hosts, latency, child),
            daemon=True,
        )

    def start(self) -> FeedFarm:
        self._process.start()
        self.ports: list[int] = self._conn.recv()
        return self

    def url(self, number: int) -> str:
        host = number % len(self.hosts)
        return f"http://{self.hosts[host]}:{self.ports[host]}/feed/{number}.xml"

    def add(self, number: int, key: str, title: str, summary: str) -> float:
        """Publish a story now; returns the time (``time.time()``) it became visible."""
        item = (number, key, title, summary, datetime.now(UTC))
        with self._lock:
            self._conn.send(("add", item))
            return float(self._conn.recv())

    def stats(self) -> tuple[int, dict[str, float]]:
        """Requests answered so far, and when each added story was first served."""
        with self._lock:
            self._conn.send(("stats", None))
            return self._conn.recv()  # type: ignore[no-any-return]

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(5)
