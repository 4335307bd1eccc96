"""Matching speed: the shipped rules, with and without 10,000 extra names, against a loop of one
compiled regex per term.

    python bench/bench_matching.py [--rules rules] [--seconds 2]

Stories come from ../shared/corpus/*.jsonl when present (nearly all of them sanctions stories),
else generated RSS-sized text; the realistic mix is every entry of the real outlets' feeds in
../shared/feeds/real/, where most stories match nothing. Times are CPU time of this process (one
core), and each rate is the best of several rounds, so that other work on a shared machine
disturbs the figures less.
Targets: > 5,000 stories/s with the 10k names on one core, within 2x of without, compile < 2 s,
>= 50x faster than the regex loop.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from daemon.models import Story
from daemon.rules.loader import load_catalog
from daemon.rules.matcher import Rulebook

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
REAL_FEEDS = REPO.parent / "shared" / "feeds" / "real"
ROUNDS = 5


def _pool(text: str) -> list[str]:
    return text.split()


_LATIN = _pool("ka ri mo sa na lo vi den ser gei ta ro mi ha jun par ov ich an el ra zan bek")
_CYRILLIC = _pool("ка ри мо са на ло ви ден сер гей та ро ми ха юн пар ов ич ан ель ра зан бек")
_ARABIC = _pool("كا ري مو سا نا لو في دين سر جي تا رو مي ها جون بار عل را زان بك")
_HANGUL = _pool("김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 전 홍 고 문 양 손")
_HAN = _pool("王 李 张 刘 陈 杨 赵 黄 周 吴 徐 孙 胡 朱 高 林 何 郭 马 罗 梁 宋 郑 谢")


def generated_names(count: int, seed: int = 7) -> list[dict[str, object]]:
    """Realistic-looking names with aliases in Latin, Cyrillic, Arabic, Hangul and Han script."""
    rng = random.Random(seed)

    def word(pool: list[str], parts: int) -> str:
        return "".join(rng.choice(pool) for _ in range(parts))

    entries: list[dict[str, object]] = []
    for _ in range(count):
        first, last = word(_LATIN, 2).title(), word(_LATIN, 3).title()
        entries.append(
            {
                "name": f"{first} {last}",
                "aliases": [
                    f"{last} {first}",
                    f"{word(_CYRILLIC, 2).title()} {word(_CYRILLIC, 3).title()}",
                    f"{word(_ARABIC, 2)} {word(_ARABIC, 2)}",
                    word(_HANGUL, 3),
                    word(_HAN, 3),
                ],
            }
        )
    return entries


def load_stories() -> list[Story]:
    files = sorted(CORPUS.glob("*.jsonl")) if CORPUS.is_dir() else []
    stories = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                stories.append(
                    Story(str(record["id"]), "bench", record["title"], record.get("summary") or "")
                )
    if stories:
        return stories
    rng = random.Random(3)
    vocabulary = _pool(
        "the minister said on Tuesday that shipments of cars and luxury goods to Pyongyang "
        "continued despite sanctions while officials in Moscow denied any transfer of weapons "
        "ports tankers oil coal market prices rose sharply after talks in Beijing"
    )
    return [
        Story(
            str(n),
            "bench",
            " ".join(rng.choices(vocabulary, k=12)).capitalize(),
            ". ".join(" ".join(rng.choices(vocabulary, k=18)) for _ in range(3)) + ".",
        )
        for n in range(200)
    ]


def load_feed_stories(folder: Path = REAL_FEEDS) -> list[Story]:
    """Every entry of the real feeds, as the daemon would see it (title, summary, content)."""
    import feedparser

    stories = []
    for path in sorted(folder.glob("*.xml")):
        for number, entry in enumerate(feedparser.parse(path.read_bytes()).entries):
            content = "\n\n".join(part.get("value", "") for part in entry.get("content", []))
            stories.append(
                Story(
                    f"{path.stem}-{number}",
                    path.name,
                    entry.get("title", ""),
                    entry.get("summary", ""),
                    content,
                )
            )
    return stories


def shipped_copy(rules: Path, target: Path) -> Path:
    """The shipped rules; while none loads yet, a test-status rule that uses every shipped list
    stands in so that the list terms are compiled and matched."""
    if rules.is_dir():
        shutil.copytree(rules, target, dirs_exist_ok=True)
    (target / "lists").mkdir(parents=True, exist_ok=True)
    names = sorted(path.stem for path in (target / "lists").glob("*.yaml"))
    catalog, _ = load_catalog(target)
    if names and not catalog.rules:
        groups = "".join(f"  g{n}: {{list: {name}}}\n" for n, name in enumerate(names))
        condition = " or ".join(f"g{n}" for n in range(len(names)))
        (target / "bench_all_lists_rule.yaml").write_text(
            "id: bench-all-lists\ntitle: Bench lists\ncategory: bench\nstatus: test\n"
            f"terms:\n{groups}condition: {condition}\n",
            encoding="utf-8",
        )
    return target


def with_names(target: Path, names: list[dict[str, object]]) -> Path:
    """The rules in ``target`` plus a test rule over a list of ``names`` (none: unchanged)."""
    if not names:
        return target
    (target / "lists" / "bench_names.yaml").write_text(
        json.dumps({"name": "bench_names", "entries": names}, ensure_ascii=False),
        encoding="utf-8",
    )
    (target / "bench_names_rule.yaml").write_text(
        "id: bench-names\ntitle: Bench names\ncategory: bench\nstatus: test\n"
        "terms:\n  person: {list: bench_names}\ncondition: person\n",
        encoding="utf-8",
    )
    return target


def compile_rulebook(path: Path) -> tuple[Rulebook, float, int]:
    """The rulebook, the CPU seconds it took to load and compile, and the problems found."""
    started = time.process_time()
    catalog, problems = load_catalog(path)
    rulebook = Rulebook(catalog)
    return rulebook, time.process_time() - started, len(problems)


def rate(
    match: Callable[[Story], object], stories: list[Story], seconds: float, rounds: int = ROUNDS
) -> float:
    """Stories per CPU second: the best of ``rounds`` rounds of about ``seconds / rounds``."""
    best = 0.0
    for _ in range(rounds):
        done, started = 0, time.process_time()
        while time.process_time() - started < seconds / rounds:
            for story in stories:
                match(story)
            done += len(stories)
        best = max(best, done / (time.process_time() - started))
    return best


def regex_loop(rulebook: Rulebook) -> Callable[[Story], object]:
    """The baseline: one compiled, case-insensitive, word-bounded regex per term."""
    terms = {term.rstrip("*") for source in rulebook.sources for term in source.terms}
    patterns = [re.compile(rf"\b{re.escape(term)}", re.IGNORECASE) for term in terms]

    def match(story: Story) -> object:
        text = f"{story.title}\n{story.summary}\n{story.content}"
        return [p for p in patterns if p.search(text)]

    return match


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=Path, default=REPO / "rules")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--names", type=int, default=10_000)
    args = parser.parse_args()
    stories = load_stories()
    source = "corpus" if CORPUS.is_dir() else "generated"
    print(f"{len(stories)} stories ({source}), rules from {args.rules}")

    with tempfile.TemporaryDirectory() as folder:
        shipped = shipped_copy(args.rules, Path(folder))
        base, base_compile, problems = compile_rulebook(shipped)
        big, big_compile, _ = compile_rulebook(with_names(shipped, generated_names(args.names)))
    if problems:
        print(f"note: {problems} rule problem(s); benchmarking the rules that loaded")
    print(f"rules: {len(base.rules)}, distinct terms: {base.key_count} -> {big.key_count}")
    print(
        f"compile: {base_compile:.2f} s without, {big_compile:.2f} s with {args.names} names"
        " (CPU time)"
    )

    without = rate(base.match, stories, args.seconds)
    with_list = rate(big.match, stories, args.seconds)
    print(f"match: {without:,.0f} stories/s without, {with_list:,.0f} stories/s with names")
    print(f"slowdown from the names: {without / with_list:.2f}x")

    feed_stories = load_feed_stories() if REAL_FEEDS.is_dir() else []
    if feed_stories:
        alerting = sum(1 for story in feed_stories if big.match(story))
        real = rate(big.match, feed_stories, args.seconds)
        print(
            f"real feeds ({len(feed_stories)} stories, {alerting} with a hit): "
            f"{real:,.0f} stories/s with names"
        )

    sample = stories[: max(10, min(40, len(stories)))]
    baseline = rate(regex_loop(big), sample, min(args.seconds, 1.0), rounds=1)
    print(f"regex loop ({big.key_count} regexes): {baseline:,.1f} stories/s")
    print(f"speed-up over the regex loop: {with_list / baseline:,.0f}x")
    targets = {
        "> 5,000 stories/s with names": with_list > 5_000,
        "within 2x of without": without / with_list <= 2,
        "compile < 2 s": big_compile < 2,
        ">= 50x the regex loop": with_list / baseline >= 50,
    }
    print(
        "targets: "
        + ", ".join(f"{name}: {'ok' if met else 'MISSED'}" for name, met in targets.items())
    )


if __name__ == "__main__":
    main()
