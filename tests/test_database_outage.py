"""PostgreSQL going away during `run`: readiness fails, errors show, and the daemon carries on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from daemonproc import RunningDaemon
from feedserver import FeedServer
from rssfeed import rss
from slackserver import TOKEN, SlackServer
from test_daemon_run import AURUS_RULE, wait_for
from test_end_to_end import FOUNDING, UNRELATED
from throwaway_postgres import ThrowawayPostgres

pytestmark = pytest.mark.slow

SECOND_AURUS = (
    "https://news.example/2024/03/second-aurus",
    "Kim Jong Un receives a second Aurus limousine from Moscow",
    "",
)


@pytest.fixture
def postgres() -> Iterator[ThrowawayPostgres]:
    try:
        server = ThrowawayPostgres()
    except (FileNotFoundError, OSError) as exc:
        pytest.skip(f"cannot create a PostgreSQL cluster here: {exc}")
    server.start()
    yield server
    server.destroy()


def test_daemon_survives_a_database_outage(
    tmp_path: Path,
    postgres: ThrowawayPostgres,
    feed_server: FeedServer,
    slack_server: SlackServer,
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "aurus.yaml").write_text(AURUS_RULE)
    now = datetime.now(UTC)
    feed_url = feed_server.serve("/wire.xml", rss([FOUNDING, *UNRELATED], now))
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - url: {feed_url}\n    interval: 1s\n")
    daemon = RunningDaemon(
        tmp_path,
        {
            "SANCTIONWATCH_DATABASE_URL": postgres.url,
            "SLACK_BOT_TOKEN": TOKEN,
            "SANCTIONWATCH_SLACK_API_URL": slack_server.api_url,
            "SANCTIONWATCH_SLACK_CHANNEL": "#general",
        },
    )
    try:
        daemon.wait_until("/readyz")
        wait_for(lambda: len(slack_server.messages) == 1, what="the first alert")

        postgres.stop()
        outage = daemon.wait_until("/readyz", status=503, timeout=20).json()
        assert "unreachable" in outage["checks"]["database"]
        feed_server.serve("/wire.xml", rss([SECOND_AURUS, FOUNDING, *UNRELATED], now))
        time.sleep(3)
        assert len(slack_server.messages) == 1
        assert daemon.metric("sanctionwatch_job_errors_total") > 0
        assert "failed" in daemon.logs()

        postgres.start()
        daemon.wait_until("/readyz", status=200, timeout=30)
        wait_for(
            lambda: len(slack_server.messages) == 2, timeout=30, what="the story of the outage"
        )
        assert "second-aurus" in str(slack_server.messages[1].blocks)
        code, elapsed = daemon.stop()
        assert code == 0
        assert elapsed < 10
        assert len(slack_server.messages) == 2
    finally:
        daemon.kill()
