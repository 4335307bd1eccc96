"""Frozen dataclasses passed between the stages: feeds -> rules -> store -> alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT_INTERVAL = timedelta(minutes=10)


@dataclass(frozen=True)
class FeedSpec:
    """One entry of the feed list (feeds.yaml or OPML)."""

    url: str
    name: str | None = None
    interval: timedelta = DEFAULT_INTERVAL
    fulltext: bool = False
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchState:
    """What a conditional GET needs from the previous poll of a feed."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one successful HTTP poll. ``body`` is None when the server answered 304.

    ``final_url`` is where the body came from after redirects; ``permanent_url`` is set when the
    feed has moved for good (every redirect from ``url`` was a 301 or 308): store it as the URL.
    """

    url: str
    status: int
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    state: FetchState = FetchState()
    final_url: str | None = None
    permanent_url: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class Story:
    """One news item, normalised: plain text, UTC time, a stable id."""

    id: str
    feed_url: str
    title: str
    summary: str = ""
    content: str = ""
    link: str | None = None
    published: datetime | None = None
    language: str | None = None
    guid: str | None = None
    source: str | None = None
    undated: bool = False
    """The feed gave no usable date: ``published`` is the time the story was first seen."""


@dataclass(frozen=True)
class Match:
    """One matched term: which group and term, the text as written, where it was found."""

    group: str
    term: str
    text: str
    field: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """A rule that fired on a story, with the evidence."""

    rule_id: str
    rule_title: str
    category: str
    severity: str
    channel: str | None
    references: tuple[str, ...]
    matches: tuple[Match, ...]
    status: str = "active"

    @property
    def alerts(self) -> bool:
        """Rules in ``test`` status are matched and recorded, never alerted."""
        return self.status == "active"

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.group for m in self.matches))


SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1}


@dataclass(frozen=True)
class Alert:
    """A pending outbox entry: one story for one channel, with every rule that fired on it."""

    id: int
    story: Story
    hits: tuple[Hit, ...]
    channel: str | None
    attempts: int = 0
    thread_ts: str | None = None
    created_at: datetime | None = None
    status: str = "pending"
    thread_of: int | None = None
    sending_since: datetime | None = None

    @property
    def follow_up(self) -> bool:
        """True when this alert joins the thread of an earlier alert."""
        return self.thread_of is not None and self.thread_of != self.id

    @property
    def hit(self) -> Hit:
        """The most severe hit, which leads the message."""
        return max(self.hits, key=lambda h: SEVERITY_RANK.get(h.severity.lower(), 0))


@dataclass(frozen=True)
class Delivery:
    """What Slack (or the console) said when an alert was posted."""

    channel: str
    ts: str | None
