"""Concurrency for polling: feed parsing (and matching) in worker processes, since feedparser
holds the GIL for about 8 ms a feed, and a per-host limit on simultaneous requests."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import process as process_pool
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from daemon.errors import FeedError
from daemon.feeds.parser import parse_feed
from daemon.models import FeedSpec, FetchResult, Hit, Story

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleSource:
    """Where worker processes load the rules from, and which loading of them the caller is on:
    workers reload when ``generation`` changes."""

    path: str
    generation: int


@dataclass(frozen=True)
class Parsed:
    """Stories of a feed and, when matched in a worker process, each story's hits by story id
    (``hits`` None: not matched here, the caller matches)."""

    stories: list[Story]
    hits: dict[str, tuple[Hit, ...]] | None = None


_worker_rules: dict[str, object] = {}


def _worker_rulebook(rules: RuleSource | None) -> Any:
    if rules is None:  # matching moved to the daemon process: free this copy of the rules
        _worker_rules.clear()
        return None
    key = f"{rules.path}\x00{rules.generation}"
    if key not in _worker_rules:
        from daemon.rules import load_rulebook

        _worker_rules.clear()
        try:
            _worker_rules[key] = load_rulebook(rules.path)
        except Exception as exc:  # the caller's rules stay authoritative: it matches instead
            log.warning("worker could not load rules from %s: %s", rules.path, exc)
            _worker_rules[key] = None
    return _worker_rules[key]


def _parse_answer(
    result: FetchResult, feed_url: str, now: datetime, rules: RuleSource | None = None
) -> Parsed | tuple[str, str]:
    """parse_feed (and matching) for a worker process; errors come back as data, since
    FeedError does not survive pickling."""
    try:
        stories = parse_feed(result, feed_url, now)
        rulebook = _worker_rulebook(rules)
        if rulebook is None:
            return Parsed(stories)
        return Parsed(stories, {story.id: tuple(rulebook.match(story)) for story in stories})
    except FeedError as error:
        return (error.kind, error.detail)
    except Exception as exc:  # a parser bug on hostile input stays one feed's error
        return ("internal", f"{type(exc).__name__}: {exc}")


def _ready(rules: RuleSource | None) -> bool:
    _worker_rulebook(rules)
    return True


PARSER_MATCHING_LIMIT = 20_000
"""The most distinct terms a rulebook may have for ``match_in="auto"`` to match in the parser
processes. Each of them then holds its own copy of the rules: under 10 MiB for the shipped rules,
about 60 MiB with a list of 10,000 names and their aliases, which is matched once, in the daemon
process, instead."""


def matches_in_parsers(match_in: str, term_count: int, processes: int) -> bool:
    """Whether stories are matched where they are parsed (in the parser processes, each with a
    copy of the rules) rather than in the daemon process (one copy, one core)."""
    if processes <= 0 or match_in == "daemon":
        return False
    return match_in == "parsers" or term_count <= PARSER_MATCHING_LIMIT


_DEPTH = 8
"""Feeds handed to the worker processes ahead of time, per process. The standard pool keeps one
spare call queued; the next is queued only when its own thread wins the GIL back from the
polling threads, and meanwhile a process sits idle."""
_depth_lock = threading.Lock()


def _leave_interrupts_to_the_daemon() -> None:
    """Ctrl-C in a terminal interrupts the whole process group; the daemon stops its parser
    processes itself, and they would only print tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _deep_pool(processes: int) -> ProcessPoolExecutor:
    with _depth_lock:  # the queue depth is read when an executor is built
        standard = getattr(process_pool, "EXTRA_QUEUED_CALLS", None)
        process_pool.EXTRA_QUEUED_CALLS = processes * (_DEPTH - 1)
        try:
            return ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_leave_interrupts_to_the_daemon,
            )
        finally:
            if standard is not None:
                process_pool.EXTRA_QUEUED_CALLS = standard


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ParsePool:
    """Parses feeds in ``processes`` spawned worker processes, started on first use and reused
    until ``close()``. Bodies smaller than ``inline_below`` bytes are parsed in the calling thread,
    where shipping them to a process would cost more than it saves; ``processes=0`` parses every
    feed in the calling thread."""

    def __init__(self, processes: int | None = None, inline_below: int = 4096) -> None:
        self.processes = available_cores() if processes is None else processes
        self.inline_below = inline_below
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _pool(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._executor is None and not self._closed and self.processes > 0:
                self._executor = _deep_pool(self.processes)
            return self._executor

    def start(self, rules: RuleSource | None = None) -> None:
        """Start the worker processes (and load ``rules`` in them) now rather than on the
        first feed."""
        pool = self._pool()
        if pool is not None:
            for future in [pool.submit(_ready, rules) for _ in range(self.processes)]:
                future.result()

    def parse(
        self, result: FetchResult, feed_url: str, now: datetime, rules: RuleSource | None = None
    ) -> Parsed:
        """Stories of a fetched feed, matched against ``rules`` when parsed in a worker process;
        raises FeedError like ``parse_feed``."""
        pool = None if len(result.body or b"") < self.inline_below else self._pool()
        if pool is None:
            answer = _parse_answer(result, feed_url, now)
        else:
            try:
                answer = pool.submit(_parse_answer, result, feed_url, now, rules).result()
            except BrokenProcessPool:
                self._replace_broken(pool)
                raise FeedError(feed_url, "internal", "the parser process died") from None
            except RuntimeError:  # closed while this feed was waiting
                answer = _parse_answer(result, feed_url, now)
        if isinstance(answer, tuple):
            raise FeedError(feed_url, answer[0], answer[1])
        return answer

    def _replace_broken(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                log.warning("a feed parser process died; starting new ones")
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor, self._closed = self._executor, None, True
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class HostLimiter:
    """At most ``per_host`` requests at once to one host name, across all polling threads."""

    def __init__(self, per_host: int) -> None:
        self.per_host = max(1, per_host)
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        host = host_of(url)
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with semaphore:
            yield


def interleave_by_host(feeds: Sequence[FeedSpec]) -> list[FeedSpec]:
    """Feeds reordered round-robin across hosts, so that a host with many feeds does not hold
    every worker waiting on its per-host limit while other hosts' feeds queue behind it."""
    by_host: dict[str, list[FeedSpec]] = {}
    for feed in feeds:
        by_host.setdefault(host_of(feed.url), []).append(feed)
    queues = list(by_host.values())
    ordered: list[FeedSpec] = []
    for depth in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[depth] for q in queues if depth < len(q))
    return ordered
