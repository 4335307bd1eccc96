"""Claims in the store on PostgreSQL: replicas claim disjoint feeds and alerts, a lapsed claim is
taken over, and hits recorded by several writers at once make one alert."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from daemon.models import FetchState, Hit, Story
from daemon.store import Store
from daemon.store.feeds import FeedState

pytestmark = pytest.mark.postgres

NOW = datetime(2024, 2, 20, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
HIT = Hit("aurus-to-dprk", "Aurus to the DPRK", "luxury_goods", "high", None, (), ())


@pytest.fixture
def stores(postgres_url: str) -> Iterator[list[Store]]:
    opened = [Store.connect(postgres_url) for _ in range(3)]
    opened[0].upgrade()
    yield opened
    for store in opened:
        store.close()


def schedule(store: Store, count: int) -> list[str]:
    urls = [f"https://feeds.example/{i}.xml" for i in range(count)]
    store.schedule_feeds(((url, None, timedelta(minutes=5)) for url in urls), NOW)
    return urls


def urls_of(states: list[FeedState]) -> list[str]:
    return [state.url for state in states]


def test_replicas_claim_disjoint_feeds_and_take_over_lapsed_claims(stores: list[Store]) -> None:
    urls = schedule(stores[0], 90)

    def claim(index: int) -> list[str]:
        return urls_of(stores[index].claim_feeds(f"replica-{index}", NOW, 40, LEASE))

    with ThreadPoolExecutor(3) as pool:
        claimed = list(pool.map(claim, range(3)))
    everything = [url for part in claimed for url in part]
    assert sorted(everything) == sorted(urls)  # each feed once, none left over
    assert stores[0].claim_feeds("replica-9", NOW + LEASE / 2, 100, LEASE) == []
    # a replica's own claims on feeds it is not polling (a poll that failed) are free to it
    own = urls_of(stores[0].claim_feeds("replica-0", NOW, 100, LEASE, busy=claimed[0][1:]))
    assert own == claimed[0][:1]

    # replica-1 polls one of its feeds; replica-2 dies holding its own
    polled = claimed[1][0]
    stores[1].record_poll_success(polled, FetchState(), NOW, NOW + timedelta(minutes=5))
    later = NOW + LEASE + timedelta(seconds=1)
    taken = urls_of(stores[0].claim_feeds("replica-0", later, 200, LEASE))
    assert set(claimed[2]) <= set(taken)
    assert polled not in taken  # not due again before its interval
    stores[0].release_feed_claims("replica-0")
    assert set(urls_of(stores[1].claim_feeds("replica-1", later, 200, LEASE))) == set(taken)


def test_a_feed_left_out_of_the_list_is_no_longer_claimed(stores: list[Store]) -> None:
    urls = schedule(stores[0], 3)
    stores[0].schedule_feeds([(urls[0], "kept", timedelta(minutes=1))], NOW)
    assert urls_of(stores[1].claim_feeds("replica-1", NOW, 10, LEASE)) == [urls[0]]


def test_hits_recorded_by_several_replicas_at_once_make_one_alert(stores: list[Store]) -> None:
    story = Story("story-1", "https://feeds.example/0.xml", "Aurus for Kim", published=NOW)

    def record(store: Store) -> tuple[int, int]:
        store.save_stories([story], NOW)
        return store.record_hits(story, [HIT], NOW, enqueue=True, default_channel="#general")

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(record, stores * 3))
    assert sum(alerts for _hits, alerts in results) == 1
    assert sum(hits for hits, _alerts in results) == 1
    assert len(stores[0].due_alerts(NOW)) == 1


def test_due_alerts_are_reserved_for_one_replica(stores: list[Store]) -> None:
    for index in range(4):
        story = Story(f"story-{index}", "https://feeds.example/0.xml", f"t{index}", published=NOW)
        stores[0].save_stories([story], NOW)
        stores[0].record_hits(story, [HIT], NOW, enqueue=True, default_channel="#general")
    for index, store in enumerate(stores):
        store.replica_id = f"replica-{index}"
        store.register_replica(store.replica_id, "host", index, "test", datetime.now(UTC))
        store.alert_lease = LEASE
    # replica-0 places alerts in threads (the live replica with the smallest id)
    undecided = stores[1].undecided_alerts()
    assert undecided == []
    for alert in stores[0].undecided_alerts():
        stores[0].place_in_thread(alert.id, alert.id)

    first = stores[1].due_alerts(NOW, limit=3)
    second = stores[2].due_alerts(NOW, limit=3)
    assert len(first) == 3 and len(second) == 1
    assert not {a.id for a in first} & {a.id for a in second}
    assert stores[2].claim(first[0].id, NOW, NOW + LEASE, None) is False
    assert stores[1].claim(first[0].id, NOW, NOW + LEASE, None) is True
    # reservations that lapsed (and a claim whose replica went quiet) go to whoever asks next
    lapsed = NOW + LEASE + timedelta(seconds=1)
    again = stores[2].due_alerts(lapsed)
    assert {a.id for a in again} == {a.id for a in first + second}
    assert {a.status for a in again if a.id == first[0].id} == {"sending"}
