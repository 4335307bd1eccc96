"""`sanctionwatch run` as a process: health, readiness, metrics, reloads and a clean stop."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clirun import sanctionwatch
from daemonproc import RunningDaemon
from feedserver import FeedServer
from rssfeed import rss
from slackserver import TOKEN, SlackServer
from test_end_to_end import FOUNDING, SECOND, UNRELATED

AURUS_RULE = """\
id: aurus-to-dprk
title: Aurus cars supplied to North Korea
category: luxury_goods
severity: high
terms:
  car: [aurus, limousine*]
  dprk: [kim jong un, north korea*, pyongyang]
condition: car and dprk
window: story
"""
YACHT_RULE = """\
id: yachts-to-dprk
title: Yachts supplied to North Korea
category: luxury_goods
severity: high
terms:
  boat: [yacht*]
  dprk: [kim jong un, north korea*, pyongyang]
condition: boat and dprk
window: story
"""
FAMILIES = [
    "sanctionwatch_feed_polls",
    "sanctionwatch_fetch_errors",
    "sanctionwatch_feed_not_modified_ratio",
    "sanctionwatch_stories_new",
    "sanctionwatch_hits",
    "sanctionwatch_alerts_sent",
    "sanctionwatch_alerts_failed",
    "sanctionwatch_alerts_pending",
    "sanctionwatch_alert_delivery_latency_seconds",
    "sanctionwatch_cycle_duration_seconds",
    "sanctionwatch_rules_loaded",
    "sanctionwatch_rule_load_errors",
]


@pytest.fixture
def workdir(tmp_path: Path, feed_server: FeedServer) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "aurus.yaml").write_text(AURUS_RULE)
    feed_url = feed_server.serve("/wire.xml", rss([FOUNDING, *UNRELATED], datetime.now(UTC)))
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - url: {feed_url}\n    interval: 1s\n")
    return tmp_path


@pytest.fixture
def daemon_env(workdir: Path, slack_server: SlackServer, sqlite_url: str) -> dict[str, str]:
    return {
        "SANCTIONWATCH_DATABASE_URL": sqlite_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SANCTIONWATCH_SLACK_API_URL": slack_server.api_url,
        "SANCTIONWATCH_SLACK_CHANNEL": "#general",
    }


@pytest.fixture
def running(workdir: Path, daemon_env: dict[str, str]) -> Iterator[RunningDaemon]:
    daemon = RunningDaemon(workdir, daemon_env)
    yield daemon
    daemon.kill()


def wait_for(condition, timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_ctrl_c_stops_the_daemon_and_its_parser_processes_quietly(
    workdir: Path, daemon_env: dict[str, str]
) -> None:
    daemon = RunningDaemon(workdir, daemon_env, new_session=True)
    try:
        daemon.wait_until("/readyz")
        code = daemon.interrupt()
    finally:
        daemon.kill()
    logs = daemon.logs()
    assert code == 0, logs
    assert "Traceback" not in logs and "KeyboardInterrupt" not in logs, logs
    assert '"message": "stopped"' in logs


def test_health_metrics_and_clean_stop(
    running: RunningDaemon, slack_server: SlackServer, workdir: Path, daemon_env: dict
) -> None:
    assert running.wait_until("/healthz").json()["ok"] is True
    assert running.wait_until("/readyz").json()["checks"]["database"] == "ok"
    text = running.get("/metrics").text
    for family in FAMILIES:
        assert f"# TYPE {family}" in text, family
    assert running.metric("sanctionwatch_rules_loaded") == 1
    wait_for(lambda: len(slack_server.messages) == 1, what="the alert")
    wait_for(lambda: running.metric("sanctionwatch_alerts_sent_total") == 1, what="metrics")
    polls = running.metric("sanctionwatch_feed_polls_total")
    assert polls >= 1
    assert running.metric("sanctionwatch_hits_total") == 1
    wait_for(lambda: running.metric("sanctionwatch_feed_polls_total") > polls, what="a 2nd poll")

    code, elapsed = running.stop()
    assert code == 0, running.logs()
    assert elapsed < 10
    assert TOKEN not in running.logs() + running.output()
    assert len(slack_server.messages) == 1
    status = json.loads(
        sanctionwatch("status", "--format", "json", cwd=workdir, env=daemon_env).stdout
    )
    assert status["outbox"]["pending"] == 0
    assert status["outbox"]["sent"] == 1
    assert status["last_cycle"]["feeds_polled"] >= 1


def test_invalid_rule_change_keeps_old_rules_until_fixed(
    running: RunningDaemon,
    slack_server: SlackServer,
    feed_server: FeedServer,
    workdir: Path,
    daemon_env: dict,
) -> None:
    running.wait_until("/readyz")
    wait_for(lambda: len(slack_server.messages) == 1, what="the first alert")

    (workdir / "rules" / "aurus.yaml").write_text(
        AURUS_RULE.replace("condition: car", "condition: cat")
    )
    wait_for(lambda: running.metric("sanctionwatch_rule_load_errors_total") >= 1, what="reload")
    status = json.loads(
        sanctionwatch("status", "--format", "json", cwd=workdir, env=daemon_env).stdout
    )
    errors = [r["rule_errors"] for r in status["replicas"] if r["rule_errors"]]
    assert errors and "aurus.yaml" in errors[0]

    second_aurus = (
        "https://news.example/2024/03/second-aurus",
        "North Korea's Kim Jong Un seen in a second Aurus limousine",
        "",
    )
    now = datetime.now(UTC)
    feed_server.serve("/wire.xml", rss([second_aurus, SECOND, FOUNDING], now))
    wait_for(lambda: len(slack_server.messages) == 2, what="the old rules to keep matching")
    assert "second-aurus" in str(slack_server.messages[1].blocks)

    (workdir / "rules" / "aurus.yaml").write_text(YACHT_RULE)
    third = ("https://news.example/2024/03/third-yacht", "Yacht delivered to Pyongyang", "")

    def rule_errors() -> list[str]:
        report = sanctionwatch("status", "--format", "json", cwd=workdir, env=daemon_env)
        return [r["rule_errors"] for r in json.loads(report.stdout)["replicas"] if r["rule_errors"]]

    wait_for(lambda: not rule_errors(), what="the error to clear")
    feed_server.serve("/wire.xml", rss([third, second_aurus, SECOND, FOUNDING], now))
    wait_for(
        lambda: any("third-yacht" in str(m.blocks) for m in slack_server.messages),
        what="the new rules to match",
    )
    assert running.stop()[0] == 0


def test_second_daemon_on_the_same_sqlite_file_exits_2(
    running: RunningDaemon, workdir: Path, daemon_env: dict
) -> None:
    running.wait_until("/readyz")
    second = sanctionwatch("run", cwd=workdir, env={**daemon_env, "SANCTIONWATCH_HTTP_PORT": "0"})
    assert second.returncode == 2
    assert "SQLite allows one running daemon" in second.stderr
    status = sanctionwatch("status", cwd=workdir, env=daemon_env)
    assert status.returncode == 0, status.stderr
    assert running.stop()[0] == 0
