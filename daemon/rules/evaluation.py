"""Precision, recall and F1 of a rulebook against labelled stories (the corpus JSONL format)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from daemon.models import Story
from daemon.rules.matcher import Rulebook
from daemon.rules.model import RuleHit


@dataclass(frozen=True)
class LabelledStory:
    story: Story
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def support(self) -> int:
        return self.true_positives + self.false_negatives


@dataclass(frozen=True)
class Misjudged:
    """A story the rules got wrong for "should alert" or for a category, and why."""

    id: str
    language: str | None
    title: str
    labels: tuple[str, ...]
    categories: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Report:
    stories: int
    alert: Score
    categories: Mapping[str, Score]
    languages: Mapping[str, Score]
    non_english_recall: float
    misjudged: tuple[Misjudged, ...]

    def to_json(self) -> dict[str, Any]:
        def score(value: Score) -> dict[str, Any]:
            return {
                **asdict(value),
                "precision": round(value.precision, 4),
                "recall": round(value.recall, 4),
                "f1": round(value.f1, 4),
            }

        return {
            "stories": self.stories,
            "alert": score(self.alert),
            "categories": {name: score(s) for name, s in self.categories.items()},
            "languages": {name: score(s) for name, s in self.languages.items()},
            "non_english_recall": round(self.non_english_recall, 4),
            "misjudged": [asdict(m) for m in self.misjudged],
        }


class LabelledFileError(ValueError):
    """A labelled file line that is not a story; names the file and line."""


def read_labelled(path: Path) -> list[LabelledStory]:
    """Stories with their labels from a JSONL file (id, title, summary, language, labels, …)."""
    stories: list[LabelledStory] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                stories.append(LabelledStory(story_from_record(record), tuple(record["labels"])))
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise LabelledFileError(f"{path}:{number}: not a labelled story: {error}") from None
    return stories


def story_from_record(record: Mapping[str, Any]) -> Story:
    """A Story from a JSON object with id, title, summary, optional content, language, link."""
    if not isinstance(record, Mapping):
        raise TypeError("expected a JSON object")
    return Story(
        id=str(record["id"]),
        feed_url=str(record.get("feed_url") or record.get("source") or ""),
        title=str(record.get("title") or ""),
        summary=str(record.get("summary") or ""),
        content=str(record.get("content") or ""),
        link=record.get("link"),
        language=record.get("language"),
        source=record.get("source"),
    )


def _explain(hits: Iterable[RuleHit]) -> str:
    parts = []
    for hit in hits:
        terms = ", ".join(dict.fromkeys(f"{m.group}={m.text!r}" for m in hit.matches))
        parts.append(f"{hit.rule_id} [{hit.category}]: {terms}")
    return "; ".join(parts) or "nothing fired"


def _count(pairs: Iterable[tuple[bool, bool]]) -> Score:
    tp = fp = fn = tn = 0
    for expected, predicted in pairs:
        if expected and predicted:
            tp += 1
        elif predicted:
            fp += 1
        elif expected:
            fn += 1
        else:
            tn += 1
    return Score(tp, fp, fn, tn)


def evaluate(rulebook: Rulebook, stories: Iterable[LabelledStory]) -> Report:
    """Score "should alert" (labels non-empty vs any active rule hit), categories and languages."""
    rows: list[tuple[LabelledStory, tuple[RuleHit, ...]]] = []
    for labelled in stories:
        hits = tuple(hit for hit in rulebook.match(labelled.story) if hit.alerts)
        rows.append((labelled, hits))
    alert = _count((bool(row.labels), bool(hits)) for row, hits in rows)
    names = sorted(
        {label for row, _ in rows for label in row.labels}
        | {hit.category for _, hits in rows for hit in hits}
    )
    categories = {
        name: _count(
            (name in row.labels, any(hit.category == name for hit in hits)) for row, hits in rows
        )
        for name in names
    }
    languages = {
        language: _count(
            (bool(row.labels), bool(hits))
            for row, hits in rows
            if (row.story.language or "unknown") == language
        )
        for language in sorted({row.story.language or "unknown" for row, _ in rows})
    }
    non_english = _count(
        (bool(row.labels), bool(hits)) for row, hits in rows if row.story.language != "en"
    )
    misjudged = []
    for row, hits in rows:
        predicted = tuple(sorted({hit.category for hit in hits}))
        if set(predicted) == set(row.labels):
            continue
        misjudged.append(
            Misjudged(
                row.story.id,
                row.story.language,
                row.story.title,
                row.labels,
                predicted,
                _explain(hits),
            )
        )
    return Report(len(rows), alert, categories, languages, non_english.recall, tuple(misjudged))


def render_text(report: Report) -> str:
    """A plain-text report: overall, per category, per language, then every misjudged story."""
    lines = [
        f"stories: {report.stories}",
        _score_line("should alert", report.alert),
        f"non-English recall: {report.non_english_recall:.3f}",
        "",
        "category:",
        *(_score_line(f"  {name}", score) for name, score in report.categories.items()),
        "",
        "language (should alert):",
        *(_score_line(f"  {name}", score) for name, score in report.languages.items()),
        "",
        f"misjudged: {len(report.misjudged)}",
    ]
    for item in report.misjudged:
        lines.append(
            f"  {item.id} [{item.language}] labels={list(item.labels)} "
            f"got={list(item.categories)} {item.title!r}\n      {item.reason}"
        )
    return "\n".join(lines) + "\n"


def _score_line(name: str, score: Score) -> str:
    return (
        f"{name:<24} P={score.precision:.3f} R={score.recall:.3f} F1={score.f1:.3f} "
        f"(tp={score.true_positives} fp={score.false_positives} "
        f"fn={score.false_negatives} n={score.support})"
    )
