"""The real daemon over a long run: end-to-end alert latency and resident memory.

    python bench/bench_daemon.py [--feeds 1000] [--cycles 200] [--interval 2] [--probes 60]
                                 [--names 10000] [--match-in auto|parsers|daemon]

Starts ``sanctionwatch run`` (SQLite in a temporary directory, the shipped rules plus a list of
10,000 generated names) against a local feed server (bench/feedfarm.py, its own process) and the
Slack-compatible test server of the test suite (tests/slackserver.py, in this process). Every
feed is polled on ``--interval``; new stories keep arriving on random feeds. A cycle is counted
each time the feed server has answered as many requests as there are feeds.

Latency: ``--probes`` alerting stories are published one at a time (``--gap`` apart, so that the
Slack pacing of one message a second per channel never queues them) while the run goes on; each
is timed from the moment the feed server serves it in a new version of its feed (``published``)
to the moment the Slack server receives the alert, and also from the first request that fetched
it (``after fetch``). Delivery runs every second; Slack pacing is left at its default (1 s).

Memory: the resident set (VmRSS) of the daemon process plus every process below it (the
parser/matcher workers), sampled every half second; figures at cycle 10, at the last cycle,
the peak, and the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "bench"), str(REPO / "tests")]

from bench_matching import generated_names, shipped_copy, with_names  # noqa: E402
from daemonproc import RunningDaemon  # noqa: E402
from feedfarm import WORDS as FILLER  # noqa: E402
from feedfarm import FeedFarm  # noqa: E402
from slackserver import TOKEN, PostedMessage, SlackServer  # noqa: E402

from daemon.models import Story  # noqa: E402
from daemon.rules import load_rulebook  # noqa: E402

PROBE_TITLE = "Putin gifts Kim Jong Un a Russian-made Aurus limousine (report {n})"
PROBE_SUMMARY = (
    "The Russian president sent the car to North Korea's leader, although UN sanctions ban "
    "supplying luxury goods to Pyongyang."
)


class TimedSlack(SlackServer):
    """The test suite's Slack server, noting when each message arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str]] = []

    def _store(self, channel: Any, params: dict[str, Any], via: str) -> PostedMessage:
        posted = super()._store(channel, params, via)
        self.arrivals.append((time.time(), posted.text))
        return posted


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError, ValueError):
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
    return found


def memory_of_tree(pid: int) -> tuple[int, int, int]:
    """Resident bytes of ``pid`` and its descendants: (RSS summed, PSS summed, processes). RSS
    counts a page shared by several of the processes (the interpreter, libraries) once in each;
    PSS divides it among them, so the PSS sum is the memory the processes hold together."""
    rss = pss = 0
    tree = _tree(pid)
    for current in tree:
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in rollup.splitlines()[1:] if ":" in line)
        rss += int(fields["Rss"].split()[0]) * 1024
        pss += int(fields["Pss"].split()[0]) * 1024
    return rss, pss, len(tree)


@dataclass
class Sample:
    at: float
    cycle: float
    rss: int
    pss: int
    processes: int


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def run(
    feeds: int = 1000,
    cycles: int = 200,
    interval: float = 2.0,
    probes: int = 60,
    gap: float = 2.0,
    names: int = 10_000,
    rate: float = 10.0,
    quiet: bool = False,
    match_in: str = "auto",
) -> dict[str, Any]:
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    work = Path(tempfile.mkdtemp(prefix="sanctionwatch-bench-"))
    rules = with_names(shipped_copy(REPO / "rules", work / "rules"), generated_names(names))
    rulebook = load_rulebook(rules)
    probe = Story("p", "bench", PROBE_TITLE.format(n=0), PROBE_SUMMARY)
    assert any(h.alerts for h in rulebook.match(probe)), "the probe story no longer alerts"
    farm = FeedFarm(feeds).start()
    slack = TimedSlack().start()
    (work / "feeds.yaml").write_text(
        json.dumps(
            {
                "defaults": {"interval": f"{interval:g}s"},
                "feeds": [{"url": farm.url(n), "name": f"Outlet {n}"} for n in range(feeds)],
            }
        )
    )
    env = {
        "SANCTIONWATCH_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
        "SANCTIONWATCH_FEEDS": str(work / "feeds.yaml"),
        "SANCTIONWATCH_RULES": str(rules),
        "SLACK_BOT_TOKEN": TOKEN,
        "SANCTIONWATCH_SLACK_API_URL": slack.api_url,
        "SANCTIONWATCH_SLACK_CHANNEL": "general",
        "SANCTIONWATCH_LOG_FORMAT": "json",
        "SANCTIONWATCH_MATCH_IN": match_in,
    }
    daemon = RunningDaemon(work, env)
    samples: list[Sample] = []
    stop = threading.Event()
    published: dict[int, float] = {}
    rng = random.Random(5)

    def cycle_now() -> float:
        return farm.stats()[0] / feeds

    def sample() -> None:
        while not stop.is_set():
            requests = farm.stats()[0]
            pid = daemon.process.pid
            rss, pss, processes = memory_of_tree(pid)
            samples.append(Sample(time.time(), requests / feeds, rss, pss, processes))
            stop.wait(0.5)

    def filler() -> None:
        count = 0
        while not stop.is_set():
            count += 1
            words = " ".join(rng.choice(FILLER) for _ in range(12))
            farm.add(rng.randrange(feeds), f"filler-{count}", words.capitalize(), words + ".")
            stop.wait(1 / rate)

    started = time.time()
    threads = [threading.Thread(target=f, daemon=True) for f in (sample, filler)]
    try:
        daemon.wait_until("/healthz", timeout=120)
        for thread in threads:
            thread.start()
        while cycle_now() < 3:  # the first polls of every feed (archive stories) are done
            time.sleep(0.5)
        say(f"daemon up; cycle 3 after {time.time() - started:.0f} s")
        for n in range(probes):
            number = rng.randrange(feeds)
            published[n] = farm.add(number, f"probe-{n}", PROBE_TITLE.format(n=n), PROBE_SUMMARY)
            time.sleep(gap)
        while cycle_now() < cycles:
            time.sleep(1)
            say(f"cycle {cycle_now():.0f} of {cycles}, {time.time() - started:.0f} s")
        time.sleep(3)  # the last alerts leave the outbox
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        served = farm.stats()[1]
        daemon.stop()
        slack.stop()
        farm.stop()
    received: dict[int, float] = {}
    for at, text in slack.arrivals:
        for n in published:
            if f"(report {n})" in text and n not in received:
                received[n] = at
    latency = [received[n] - served[f"probe-{n}"] for n in received if f"probe-{n}" in served]
    at10 = next(s for s in samples if s.cycle >= 10)
    last = [s for s in samples if s.cycle >= cycles]
    final = last[0] if last else samples[-1]
    elapsed = samples[-1].at - samples[0].at
    return {
        "feeds": feeds,
        "interval": interval,
        "cycles": samples[-1].cycle,
        "seconds": elapsed,
        "probes": probes,
        "delivered": len(received),
        "latency": latency,
        "latency_published": [received[n] - published[n] for n in received],
        "rss_10": at10.rss,
        "rss_last": final.rss,
        "rss_peak": max(s.rss for s in samples),
        "rss_end": samples[-1].rss,
        "pss_10": at10.pss,
        "pss_last": final.pss,
        "pss_peak": max(s.pss for s in samples),
        "pss_end": samples[-1].pss,
        "processes": max(s.processes for s in samples),
        "cycle_last": final.cycle,
    }


def report(result: dict[str, Any]) -> list[str]:
    mib = 1024 * 1024
    latency = result["latency"]
    lines = [
        f"{result['feeds']} feeds polled every {result['interval']:g} s, "
        f"{result['cycles']:.0f} cycles in {result['seconds']:.0f} s",
        f"alerts: {result['delivered']} of {result['probes']} probe stories reached Slack",
    ]
    if latency:
        lines.append(
            f"latency from the feed serving the story to Slack receiving the alert: median "
            f"{statistics.median(latency):.2f} s, p95 {percentile(latency, 0.95):.2f} s"
        )
        waited = result["latency_published"]
        lines.append(
            f"latency from publishing the story (so including the wait for the next poll, up to "
            f"one interval): median {statistics.median(waited):.2f} s, "
            f"p95 {percentile(waited, 0.95):.2f} s"
        )
    for kind, what in (("rss", "RSS summed"), ("pss", "PSS summed")):
        lines.append(
            f"resident memory, {what} (daemon + {result['processes'] - 1} processes below it): "
            f"cycle 10 {result[kind + '_10'] / mib:.0f} MiB, cycle {result['cycle_last']:.0f} "
            f"{result[kind + '_last'] / mib:.0f} MiB "
            f"({(result[kind + '_last'] / result[kind + '_10'] - 1) * 100:+.1f} %), peak "
            f"{result[kind + '_peak'] / mib:.0f} MiB, end {result[kind + '_end'] / mib:.0f} MiB"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--interval", type=float, default=2.0, help="poll interval, seconds")
    parser.add_argument("--probes", type=int, default=60)
    parser.add_argument("--gap", type=float, default=2.0)
    parser.add_argument("--names", type=int, default=10_000)
    parser.add_argument(
        "--match-in", default="auto", help="SANCTIONWATCH_MATCH_IN: auto, parsers or daemon"
    )
    args = parser.parse_args()
    result = run(
        args.feeds,
        args.cycles,
        args.interval,
        args.probes,
        args.gap,
        args.names,
        match_in=args.match_in,
    )
    print("\n".join(report(result)))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
