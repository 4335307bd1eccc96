"""`sanctionwatch run` killed (SIGKILL) ten times while it delivers: every alert arrives once."""

from __future__ import annotations

import random
import time
from pathlib import Path

from daemonproc import RunningDaemon
from feedserver import FeedServer
from slackserver import SlackServer
from test_delivery_cli import setup, yacht_stories

from daemon.store import Store

STORIES = 40
KILLS = 10


def posts(slack: SlackServer) -> int:
    return len(slack.method_calls("chat.postMessage"))


def wait_for_a_new_post(daemon: RunningDaemon, slack: SlackServer, seen: int) -> None:
    deadline = time.monotonic() + 30
    while posts(slack) == seen:
        assert daemon.process.poll() is None, daemon.logs()
        assert time.monotonic() < deadline, "no delivery began: " + daemon.logs()
        time.sleep(0.02)


def test_killed_during_delivery_ten_times_every_alert_arrives_once(
    tmp_path: Path, feed_server: FeedServer, slack_server: SlackServer, sqlite_url: str
) -> None:
    slack_server.post_delay = 0.3
    env = setup(tmp_path, feed_server, slack_server, sqlite_url, yacht_stories(STORIES))
    env["SANCTIONWATCH_DELIVERY_LEASE"] = "3s"
    seed = random.randrange(1 << 30)
    chance = random.Random(seed)

    for _ in range(KILLS):
        daemon = RunningDaemon(tmp_path, env)
        try:
            wait_for_a_new_post(daemon, slack_server, posts(slack_server))
            time.sleep(chance.uniform(0, 0.5))
        finally:
            daemon.kill()
    delivered_while_killing = len(slack_server.messages)

    final = RunningDaemon(tmp_path, env)
    store = Store.connect(sqlite_url)
    try:
        deadline = time.monotonic() + 60
        while store.status().outbox.get("sent", 0) < STORIES:
            assert final.process.poll() is None, final.logs()
            assert time.monotonic() < deadline, f"seed {seed}: {store.status().outbox}"
            time.sleep(0.2)
        code, _ = final.stop()
        outbox = store.status().outbox
    finally:
        final.kill()
        store.close()

    print(
        f"seed {seed}: {delivered_while_killing} messages while being killed, "
        f"{len(slack_server.method_calls('conversations.history'))} history look-ups, "
        f"outbox {outbox}"
    )
    assert code == 0
    assert delivered_while_killing < STORIES, "every kill must land during delivery"
    assert sorted(slack_server.alert_ids()) == list(range(1, STORIES + 1)), f"seed {seed}"
    assert (outbox["sent"], outbox["pending"], outbox["failed"]) == (STORIES, 0, 0)
    assert outbox.get("sending", 0) == 0
