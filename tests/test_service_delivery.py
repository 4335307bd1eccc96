"""The delivery job of ``run`` posts alerts as soon as a poll queues them, not a second later."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from daemon.metrics import Metrics
from daemon.models import FeedSpec
from daemon.pipeline import FeedOutcome
from daemon.service import RulebookHolder, Service
from daemon.store import Store
from daemon.store.feeds import FeedState

URL = "https://feeds.example/wire.xml"


def service_with(store: Store, alerts_new: int, deliveries: list[float]) -> Service:
    return Service(
        store=store,
        poll=lambda feed, state: FeedOutcome(feed.url, "ok", 1, 1, alerts_new),
        deliver=lambda: deliveries.append(time.monotonic()),
        feeds=[FeedSpec(URL)],
        rules=RulebookHolder(object()),
        rule_count=lambda rulebook: 0,
        load_rules=object,
        load_feeds=lambda: [FeedSpec(URL)],
        watched=[],
        metrics=Metrics(),
        clock=lambda: datetime.now(UTC),
        http_port=None,
    )


def run_delivery_while_polling(service: Service, deliveries: list[float]) -> None:
    job = threading.Thread(target=service._deliver)
    job.start()
    give_up = time.monotonic() + 5
    while not deliveries and time.monotonic() < give_up:
        time.sleep(0.005)
    service._poll(FeedSpec(URL), FeedState(URL))
    job.join(5)
    assert not job.is_alive()


@pytest.mark.parametrize(("alerts_new", "deliveries_in_one_run"), [(1, 2), (0, 1)])
def test_a_poll_that_queues_alerts_wakes_the_running_delivery_job(
    tmp_path: Path, alerts_new: int, deliveries_in_one_run: int
) -> None:
    store = Store.connect(f"sqlite:///{tmp_path / 'db.sqlite'}")
    deliveries: list[float] = []
    try:
        run_delivery_while_polling(service_with(store, alerts_new, deliveries), deliveries)
    finally:
        store.close()
    assert len(deliveries) == deliveries_in_one_run
