"""The whole benchmark in one command, ending with one table:

    python bench/run_all.py [--cycles 200] [--interval 2] [--feeds 1000] [--probes 60]

Runs bench_matching.py, bench_polling.py and bench_daemon.py one after the other (each in its own
process, so that none disturbs another's figures), shows their output, then prints every figure
beside its baseline from the same run and the target it is held to. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def _run(script: str, *args: str) -> str:
    print(f"$ python bench/{script} {' '.join(args)}".rstrip(), flush=True)
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    print(done.stdout, flush=True)
    if done.returncode:
        print(f"(exited {done.returncode})", flush=True)
    return done.stdout


def _find(pattern: str, text: str) -> tuple[str, ...]:
    found = re.search(pattern, text)
    return found.groups() if found else ()


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=60)
    args = parser.parse_args()
    started = time.monotonic()
    matching = _run("bench_matching.py", "--seconds", "1")
    polling = _run("bench_polling.py")
    daemon = _run(
        "bench_daemon.py",
        "--feeds", str(args.feeds),
        "--cycles", str(args.cycles),
        "--interval", f"{args.interval:g}",
        "--probes", str(args.probes),
    )  # fmt: skip
    rows: list[tuple[str, str, str, str, bool | None]] = []

    speeds = _find(r"match: ([\d,]+) stories/s without, ([\d,]+) stories/s with names", matching)
    regex = _find(r"regex loop \((\d+) regexes\): ([\d,.]+) stories/s", matching)
    if speeds and regex:
        without, with_names = _number(speeds[0]), _number(speeds[1])
        loop = _number(regex[1])
        rows.append(("matching, no extra names", f"{without:,.0f} stories/s", "", "", None))
        rows.append(
            (
                "matching, 10,000 names",
                f"{with_names:,.0f} stories/s",
                f"regex loop {loop:,.1f}/s ({regex[0]} regexes)",
                f"{with_names / loop:,.0f}x (>= 50x, > 5,000/s)",
                with_names / loop >= 50 and with_names > 5000,
            )
        )
    first = _find(r"first cycle: ([\d.]+) s", polling)
    loop_total = _find(r"extrapolated to \d+: ([\d.]+) s", polling)
    unchanged = _find(r"304 cycle: ([\d.]+) s", polling)
    if first and loop_total:
        ratio = _number(loop_total[0]) / _number(first[0])
        rows.append(
            (
                "polling, first cycle (1,000 feeds)",
                f"{first[0]} s",
                f"feedparser.parse(url) loop {loop_total[0]} s",
                f"{ratio:.1f}x (>= 10x)",
                ratio >= 10,
            )
        )
    if unchanged:
        rows.append(
            ("polling, 304 cycle", f"{unchanged[0]} s", "", "< 2 s", _number(unchanged[0]) < 2)
        )
    latency = _find(r"alert: median ([\d.]+) s, p95 ([\d.]+) s", daemon)
    interval = _find(r"polled every ([\d.]+) s, (\d+) cycles", daemon)
    if latency:
        median, p95 = _number(latency[0]), _number(latency[1])
        rows.append(
            (
                "latency, story served -> Slack",
                f"median {median:.2f} s, p95 {p95:.2f} s",
                f"poll interval {interval[0] if interval else '?'} s (not included)",
                "median < 1 s, p95 < 2 s",
                median < 1 and p95 < 2,
            )
        )
    waited = _find(r"next poll, up to one interval\): median ([\d.]+) s, p95 ([\d.]+) s", daemon)
    if waited:
        rows.append(
            (
                "latency, story published -> Slack",
                f"median {waited[0]} s, p95 {waited[1]} s",
                "",
                "includes the wait for the next poll",
                None,
            )
        )
    limit_mib = 250e6 / 2**20
    for kind in ("RSS", "PSS"):
        memory = _find(
            kind + r" summed.*?cycle 10 (\d+) MiB, cycle (\d+) (\d+) MiB \(([-+\d.]+) %\), "
            r"peak (\d+) MiB, end (\d+)",
            daemon,
        )
        if memory:
            growth, peak = _number(memory[3]), _number(memory[4])
            rows.append(
                (
                    f"memory {kind} summed, cycle {memory[1]}",
                    f"{memory[2]} MiB (peak {memory[4]}, end {memory[5]})",
                    f"cycle 10: {memory[0]} MiB",
                    f"growth {growth:+.1f} % (< 10 %), peak < 250 MB ({limit_mib:.0f} MiB)",
                    growth < 10 and peak < limit_mib,
                )
            )
    header = ("figure", "measured", "baseline (same run)", "ratio / target", "met")
    table = [header] + [
        (a, b, c, d, "" if e is None else ("yes" if e else "NO")) for a, b, c, d, e in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print(f"benchmark table ({time.monotonic() - started:.0f} s in all)")
    for number, row in enumerate(table):
        print("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    main()
