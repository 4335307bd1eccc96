"""Rule commands for the command line: each takes paths and streams and returns an exit code.

0 success, 1 a runtime failure (problems found, a bad input line), 2 the rules cannot be loaded.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import yaml
from rich.console import Console
from rich.table import Table

from daemon.errors import RuleLoadError
from daemon.models import Story
from daemon.rules import check_examples, load_rulebook
from daemon.rules.backtest import BacktestReport, compare_alerts
from daemon.rules.evaluation import (
    LabelledFileError,
    Report,
    Score,
    evaluate,
    read_labelled,
    render_text,
    story_from_record,
)
from daemon.rules.importers import ImportFormatError, import_entries
from daemon.rules.loader import load_catalog
from daemon.rules.matcher import Rulebook
from daemon.rules.model import FIELDS, RuleHit


def rules_check(path: Path, out: TextIO) -> int:
    """Print ``PATH:LINE: message`` for every problem (exit 1), else a one-line summary."""
    catalog, problems = load_catalog(path)
    if not problems:
        rulebook = Rulebook(catalog)
        problems = check_examples(rulebook)
    if problems:
        for problem in problems:
            print(problem, file=out)
        print(f"{len(problems)} problem(s)", file=out)
        return 1
    examples = sum(len(rule.examples) for rule in rulebook.rules)
    list_terms = sum(term_list.term_count for term_list in rulebook.lists.values())
    print(
        f"OK: {len(rulebook.rules)} rules, {len(rulebook.lists)} lists ({list_terms} list terms), "
        f"{rulebook.key_count} distinct terms compiled, {examples} examples pass",
        file=out,
    )
    return 0


def _load(rules_path: Path, err: TextIO) -> Rulebook | None:
    try:
        return load_rulebook(rules_path)
    except RuleLoadError as error:
        for problem in error.problems:
            print(problem, file=err)
        return None


def hit_json(hit: RuleHit) -> dict[str, Any]:
    return {
        "rule": hit.rule_id,
        "category": hit.category,
        "severity": hit.severity,
        "matches": [
            {
                "group": m.group,
                "term": m.term,
                "text": m.text,
                "field": m.field,
                "start": m.start,
                "end": m.end,
            }
            for m in hit.matches
        ],
    }


def story_result(story: Story, hits: Iterable[RuleHit]) -> dict[str, Any]:
    """The ``rules test --format jsonl`` line for one story. Hits of rules in ``status: test``
    are listed but do not make the story alert."""
    hits = tuple(hits)
    alerting = [hit for hit in hits if hit.alerts]
    return {
        "id": story.id,
        "alert": bool(alerting),
        "categories": sorted({hit.category for hit in alerting}),
        "hits": [hit_json(hit) for hit in hits],
    }


def highlight(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` with each span wrapped in ``**``; overlapping spans are merged."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, position = [], 0
    for start, end in merged:
        pieces += [text[position:start], "**", text[start:end], "**"]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def explain(story: Story, hits: tuple[RuleHit, ...]) -> str:
    """A person-readable account of what fired on a story and where."""
    verdict = "ALERT" if any(hit.alerts for hit in hits) else "quiet"
    lines = [f"{story.id}: {verdict}  {story.title}"]
    if not hits:
        lines.append("  no rule matched")
    for hit in hits:
        status = "" if hit.alerts else " (status: test, not alerted)"
        lines.append(f"  rule {hit.rule_id} [{hit.category}, {hit.severity}]{status}")
        for group in hit.groups:
            texts = ", ".join(
                dict.fromkeys(f"{m.text!r} ({m.term})" for m in hit.matches if m.group == group)
            )
            lines.append(f"    {group}: {texts}")
        for field in FIELDS:
            spans = [(m.start, m.end) for m in hit.matches if m.field == field]
            if spans:
                lines.append(f"    {field}: {highlight(getattr(story, field), spans)}")
    return "\n".join(lines)


def rules_test(
    rules_path: Path, source: TextIO, out: TextIO, fmt: str, err: TextIO | None = None
) -> int:
    """Match one JSON story per line; ``fmt`` ``jsonl`` (one result line per story) or ``text``.
    A line that is not a story is reported on ``err`` with its number; the rest still run."""
    err = err or sys.stderr
    rulebook = _load(rules_path, err)
    if rulebook is None:
        return 2
    failed = False
    for number, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            story = story_from_record(json.loads(line))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            print(f"line {number}: not a story: {error}", file=err)
            failed = True
            continue
        hits = rulebook.match(story)
        if fmt == "jsonl":
            print(json.dumps(story_result(story, hits), ensure_ascii=False), file=out)
        else:
            print(explain(story, hits) + "\n", file=out)
    return 1 if failed else 0


def evaluate_files(
    rules_path: Path,
    files: list[Path],
    out: TextIO,
    fmt: str = "table",
    err: TextIO | None = None,
) -> int:
    """Score the rules against labelled JSONL files together; ``fmt`` table, text or json."""
    err = err or sys.stderr
    rulebook = _load(rules_path, err)
    if rulebook is None:
        return 2
    try:
        stories = [item for path in files for item in read_labelled(path)]
    except (OSError, LabelledFileError) as error:
        print(error, file=err)
        return 1
    report = evaluate(rulebook, stories)
    if fmt == "json":
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2), file=out)
    elif fmt == "text":
        out.write(render_text(report))
    else:
        render_table(report, out)
    return 0


def render_table(report: Report, out: TextIO) -> None:
    console = Console(file=out, width=120, soft_wrap=False, highlight=False)
    scores = Table(title=f"{report.stories} stories", title_justify="left")
    for column in ("", "precision", "recall", "F1", "tp", "fp", "fn", "n"):
        scores.add_column(column, justify="left" if not column else "right")

    def add(name: str, score: Score) -> None:
        scores.add_row(
            name,
            f"{score.precision:.3f}",
            f"{score.recall:.3f}",
            f"{score.f1:.3f}",
            str(score.true_positives),
            str(score.false_positives),
            str(score.false_negatives),
            str(score.support),
        )

    add("should alert", report.alert)
    for name, score in report.categories.items():
        add(f"category {name}", score)
    for name, score in report.languages.items():
        add(f"language {name}", score)
    console.print(scores)
    console.print(f"non-English recall: {report.non_english_recall:.3f}")
    if report.misjudged:
        wrong = Table(title=f"misjudged: {len(report.misjudged)}", title_justify="left")
        for column in ("id", "lang", "labels", "got", "title", "why"):
            wrong.add_column(column, overflow="fold")
        for item in report.misjudged:
            wrong.add_row(
                item.id,
                item.language or "",
                ", ".join(item.labels),
                ", ".join(item.categories),
                item.title,
                item.reason,
            )
        console.print(wrong)


def backtest(
    rules_path: Path,
    stories: Iterable[Story],
    recorded: dict[str, set[str]],
    out: TextIO,
    fmt: str = "table",
    err: TextIO | None = None,
) -> int:
    """Match stored ``stories`` with the rules at ``rules_path`` and compare the stories they
    would alert on (active rules only) with ``recorded``, story id -> rule ids that alerted.
    ``fmt`` table or jsonl."""
    rulebook = _load(rules_path, err or sys.stderr)
    if rulebook is None:
        return 2
    titles: dict[str, str] = {}
    would_alert: dict[str, set[str]] = {}
    for story in stories:
        titles[story.id] = story.title
        rules = {hit.rule_id for hit in rulebook.match(story) if hit.alerts}
        if rules:
            would_alert[story.id] = rules
    report = compare_alerts(titles, would_alert, recorded)
    if fmt == "jsonl":
        for line in report.to_json_lines():
            print(json.dumps(line, ensure_ascii=False), file=out)
    else:
        render_backtest(report, out)
    return 0


def render_backtest(report: BacktestReport, out: TextIO) -> None:
    console = Console(file=out, width=120, soft_wrap=False, highlight=False)
    console.print(
        f"{report.examined} stories examined: {report.would_alert} would alert, "
        f"{report.alerted} alerted"
    )
    sections = (
        ("newly alerting", "rules", report.newly_alerting),
        ("no longer alerting", "rules that alerted", report.no_longer_alerting),
    )
    for title, rules_column, changes in sections:
        table = Table(title=f"{title}: {len(changes)}", title_justify="left")
        for column in ("id", "title", rules_column):
            table.add_column(column, overflow="fold")
        for change in changes:
            table.add_row(change.story_id, change.title, ", ".join(change.rules))
        console.print(table if changes else f"{title}: none")


def lists_import(fmt: str, source: Path, name: str, out_path: Path) -> int:
    """Write a term list from a public sanctions list: ``un`` (consolidated XML), ``ofac``
    (sdn.csv with alt.csv beside it, or SDN XML) or ``opensanctions`` (FollowTheMoney JSON
    lines). Exit 2 when ``name`` cannot be a list name."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        print(f"list name {name!r}: use letters, digits, _ or -", file=sys.stderr)
        return 2
    try:
        entries, origin = import_entries(fmt, source)
    except (OSError, ImportFormatError) as error:
        print(f"{source}: {error}", file=sys.stderr)
        return 1
    document = {
        "name": name,
        "description": f"Imported from {origin} ({source.name})",
        "source": origin,
        "entries": [
            {
                "name": e.name,
                **({"aliases": list(e.aliases)} if e.aliases else {}),
                "source": e.source,
            }
            for e in entries
        ],
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    out_path.write_text(
        f"# Generated by 'sanctionwatch lists import {fmt}'; edit the source, not this file.\n"
        + text,
        encoding="utf-8",
    )
    aliases = sum(len(e.aliases) for e in entries)
    print(f"wrote {out_path}: {len(entries)} entries, {aliases} aliases", file=sys.stderr)
    return 0
