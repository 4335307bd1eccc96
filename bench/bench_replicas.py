"""Polling throughput of 1, 2 and 3 `sanctionwatch run` replicas sharing one PostgreSQL database.

    python bench/bench_replicas.py [--feeds 2000] [--hosts 50] [--latency 0.05] [--window 20]
                                   [--replicas 1,2,3] [--workers 32]
                                   [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Every feed is due all the time (interval 1 s), so the figure is what the replicas can poll, not
what a schedule asks of them. For each replica count the bench creates a database, starts the
replicas (real processes, `sanctionwatch run`), waits until every feed was polled once (first
polls: 20 new stories each, parsed and matched), then counts polls over ``--window`` seconds from
the replicas' ``sanctionwatch_feed_polls_total`` (steady state: conditional GETs answered 304, as
most polls of a real feed list are), and drops the database. The feed server is the one of
``bench_polling.py`` (its own process, ``--hosts`` loopback addresses, ``--latency`` per request).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy
from bench_polling import start_feed_farm
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
RULE = """\
id: aurus-to-dprk
title: Aurus cars supplied to North Korea
category: luxury_goods
severity: high
terms:
  car: [aurus]
  dprk: [pyongyang]
condition: car and dprk
window: story
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def polls(port: int) -> float:
    total = 0.0
    try:
        lines = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines()
    except httpx.HTTPError:
        return 0.0
    for line in lines:
        if line.startswith("sanctionwatch_feed_polls_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def measure(
    replicas: int, admin_url: str, workdir: Path, feeds: int, window: float, workers: int
) -> tuple[float, float]:
    """(seconds until every feed was polled once, steady polls per minute)."""
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"sw_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SANCTIONWATCH_", "SLACK_"))},
        "PYTHONPATH": str(REPO),
        "SANCTIONWATCH_DATABASE_URL": url,
        "SANCTIONWATCH_LOG_FORMAT": "json",
        "SANCTIONWATCH_POLL_WORKERS": str(workers),
    }
    subprocess.run(
        [sys.executable, "-m", "daemon", "db", "upgrade"], env=env, cwd=workdir, check=True
    )
    ports = [free_port() for _ in range(replicas)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "daemon", "run"],
            env={**env, "SANCTIONWATCH_HTTP_PORT": str(port)},
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / f"replica-{port}.log").open("w"),
        )
        for port in ports
    ]
    try:
        started = time.monotonic()
        while sum(polls(p) for p in ports) < feeds:
            if any(p.poll() is not None for p in processes):
                raise SystemExit(f"a replica exited; see {workdir}/replica-*.log")
            time.sleep(0.5)
        first_round = time.monotonic() - started
        before, clock = sum(polls(p) for p in ports), time.monotonic()
        time.sleep(window)
        after, elapsed = sum(polls(p) for p in ports), time.monotonic() - clock
        return first_round, (after - before) * 60 / elapsed
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "SANCTIONWATCH_TEST_POSTGRES",
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        ),
    )
    args = parser.parse_args()

    farm, urls = start_feed_farm(args.hosts, args.feeds, args.items, args.latency)
    print(
        f"{args.feeds} feeds x {args.items} items on {args.hosts} hosts, "
        f"{args.latency * 1000:.0f} ms latency, {args.workers} poll workers per replica, "
        f"{os.cpu_count()} CPUs, PostgreSQL"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "rules").mkdir()
        (workdir / "rules" / "aurus.yaml").write_text(RULE)
        (workdir / "feeds.yaml").write_text(
            "defaults:\n  interval: 1s\nfeeds:\n" + "".join(f"  - url: {url}\n" for url in urls)
        )
        for count in (int(n) for n in args.replicas.split(",")):
            first, rate = measure(
                count, args.postgres, workdir, args.feeds, args.window, args.workers
            )
            print(
                f"{count} replica{'s' if count > 1 else ' '}: first poll of every feed in "
                f"{first:5.1f} s; steady {rate:8,.0f} feeds/min ({rate / 60:6,.0f}/s)"
            )
    farm.stop()


if __name__ == "__main__":
    main()
