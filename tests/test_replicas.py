"""Three `sanctionwatch run` replicas on one PostgreSQL database: every feed polled by exactly one
replica per interval, every story alerted exactly once, and a replica killed mid-cycle is taken
over within the lease."""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy
from clirun import sanctionwatch
from daemonproc import RunningDaemon
from feedserver import FeedServer, RecordedRequest
from rssfeed import rss
from slackserver import TOKEN, SlackServer
from sqlalchemy import text
from test_daemon_run import AURUS_RULE, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FEEDS = 200
INTERVAL = 10.0
LEASE = 10.0
LATENCY = 0.5
"""Each feed answers after this long, so polls are in flight when a replica is killed."""
REPLICAS = ("replica-a", "replica-b", "replica-c")


class TimedFeedServer(FeedServer):
    """The feed server, with the arrival time of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str]] = []
        self._arrivals_lock = threading.Lock()

    def record(self, request: RecordedRequest) -> None:
        super().record(request)
        with self._arrivals_lock:
            self.arrivals.append((time.monotonic(), request.path.split("?", 1)[0]))

    def times_by_path(self) -> dict[str, list[float]]:
        with self._arrivals_lock:
            found: dict[str, list[float]] = {}
            for moment, path in self.arrivals:
                found.setdefault(path, []).append(moment)
            return found


@pytest.fixture
def feeds() -> Iterator[TimedFeedServer]:
    with TimedFeedServer() as server:
        yield server


def story(index: int, round_: int) -> tuple[str, str, str]:
    """A qualifying story with a title unlike every other one (no threading between them)."""
    words = " ".join(uuid.uuid4().hex[:8] for _ in range(4))
    link = f"https://news.example/{round_}/{index}/{uuid.uuid4().hex[:6]}"
    return link, f"Aurus for Pyongyang: {words}", "An Aurus limousine was shipped to Pyongyang."


def serve_all(server: TimedFeedServer, stories: dict[int, list[tuple[str, str, str]]]) -> None:
    now = datetime.now(UTC)
    for index, items in stories.items():
        server.serve(f"/feed/{index}.xml", rss(items, now), delay=LATENCY)


def test_three_replicas_share_the_feeds_and_survive_a_kill(
    tmp_path: Path, feeds: TimedFeedServer, slack_server: SlackServer, postgres_url: str
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "aurus.yaml").write_text(AURUS_RULE)
    stories = {i: [story(i, 1)] for i in range(FEEDS)}
    serve_all(feeds, stories)
    (tmp_path / "feeds.yaml").write_text(
        f"defaults:\n  interval: {INTERVAL:.0f}s\nfeeds:\n"
        + "".join(f"  - url: {feeds.url(f'/feed/{i}.xml')}\n" for i in range(FEEDS))
    )
    env = {
        "SANCTIONWATCH_DATABASE_URL": postgres_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SANCTIONWATCH_SLACK_API_URL": slack_server.api_url,
        "SANCTIONWATCH_SLACK_CHANNEL": "#general",
        "SANCTIONWATCH_SLACK_PACE": "10ms",
        "SANCTIONWATCH_CLAIM_LEASE": f"{LEASE:.0f}s",
        "SANCTIONWATCH_DELIVERY_LEASE": f"{LEASE:.0f}s",
        # all feeds are on one host (8 requests at a time): no claimed feed waits for a slot,
        # so a poll's request leaves when the poll starts, the moment its next poll counts from
        "SANCTIONWATCH_POLL_WORKERS": "8",
    }
    database = sqlalchemy.create_engine(postgres_url)
    daemons = {
        name: RunningDaemon(tmp_path, {**env, "SANCTIONWATCH_REPLICA_ID": name})
        for name in REPLICAS
    }
    try:
        for daemon in daemons.values():
            daemon.wait_until("/readyz")

        # 1. every story alerted once, each feed polled once by one replica
        wait_for(lambda: len(slack_server.alert_ids()) >= FEEDS, timeout=40, what="round 1")
        for path, moments in feeds.times_by_path().items():
            moments.sort()
            for earlier, later in itertools.pairwise(moments):
                assert later - earlier >= INTERVAL * 0.95, (path, later - earlier)

        # 2. a second story in every feed; kill a replica while it holds claims
        for index in stories:
            stories[index] = [story(index, 2), *stories[index]]
        serve_all(feeds, stories)
        victim = daemons["replica-c"]

        def claimed_by_victim() -> list[str]:
            with database.connect() as conn:
                return list(
                    conn.scalars(
                        text("SELECT url FROM feeds WHERE claimed_by = 'replica-c'"),
                    )
                )

        wait_for(lambda: bool(claimed_by_victim()), timeout=20, what="claims of replica-c")
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        killed_at = time.monotonic()
        stuck = {url.split(str(feeds.port), 1)[1] for url in claimed_by_victim()}
        assert stuck

        # 3. the others take its feeds over within the lease, and every alert goes out once
        def taken_over() -> bool:
            times = feeds.times_by_path()
            return all(any(t > killed_at for t in times[path]) for path in stuck)

        wait_for(taken_over, timeout=LEASE + 10, what="the takeover")
        times = feeds.times_by_path()
        takeover = max(min(t for t in times[p] if t > killed_at) - killed_at for p in stuck)
        assert takeover <= LEASE + 3, takeover
        wait_for(lambda: len(slack_server.alert_ids()) >= 2 * FEEDS, timeout=30, what="every alert")
        time.sleep(INTERVAL)  # one more round: nothing more is posted, nothing twice

        ids = slack_server.alert_ids()
        assert len(ids) == len(set(ids)) == 2 * FEEDS
        with database.connect() as conn:
            alerts, distinct, sent = conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT story_id), "
                    "count(*) FILTER (WHERE status = 'sent') FROM alerts"
                )
            ).one()
        assert alerts == distinct == sent == 2 * FEEDS
        posted = " ".join(str(m.blocks) for m in slack_server.messages)
        for items in stories.values():
            for link, _title, _summary in items:
                assert posted.count(link) == 1, link

        # 4. one replica per interval: per feed, requests at least an interval apart (the poll
        # the killed replica never finished is taken over, not counted as a second poll)
        times = feeds.times_by_path()
        assert len(times) == FEEDS
        for path, moments in times.items():
            moments.sort()
            assert len(moments) >= 2, path
            for earlier, later in itertools.pairwise(moments):
                retried = path in stuck and earlier < killed_at < later
                assert retried or later - earlier >= INTERVAL * 0.95, (path, later - earlier)

        status = sanctionwatch("status", "--format", "json", cwd=tmp_path, env=env)
        assert status.returncode == 0, status.stderr
        listed = {r["id"] for r in json.loads(status.stdout)["replicas"]}
        assert set(REPLICAS) <= listed
        for name in ("replica-a", "replica-b"):
            assert daemons[name].stop()[0] == 0, daemons[name].logs()
    finally:
        for daemon in daemons.values():
            daemon.kill()
        database.dispose()
