from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_rules_support import dprk_rules

from daemon.rules import load_rulebook
from daemon.rules.evaluation import evaluate, read_labelled, render_text

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

LABELLED = [
    {
        "id": "a",
        "title": "Putin gifts Kim Jong Un an Aurus limousine",
        "summary": "",
        "language": "en",
        "labels": ["luxury_goods", "sanctioned_leader"],
    },
    {
        "id": "b",
        "title": "푸틴, 김정은에게 리무진 선물",
        "summary": "",
        "language": "ko",
        "labels": ["luxury_goods"],
    },
    {
        "id": "c",
        "title": "Aurus unveils a new sedan",
        "summary": "",
        "language": "en",
        "labels": [],
    },
    {
        "id": "d",
        "title": "Kim Jong Un inspects a new limousine factory",
        "summary": "",
        "language": "en",
        "labels": [],
    },
    {
        "id": "e",
        "title": "Пхеньян получил партию люксовых авто",
        "summary": "",
        "language": "ru",
        "labels": ["luxury_goods"],
    },
]


def _write_labelled(path: Path) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in LABELLED) + "\n")
    return path


def test_metrics_on_a_tiny_labelled_file(tmp_path: Path) -> None:
    rulebook = load_rulebook(dprk_rules(tmp_path / "rules"))
    report = evaluate(rulebook, read_labelled(_write_labelled(tmp_path / "labelled.jsonl")))
    assert report.stories == 5
    assert (report.alert.true_positives, report.alert.false_positives) == (2, 0)
    assert (report.alert.false_negatives, report.alert.true_negatives) == (1, 2)
    assert report.alert.precision == 1.0
    assert report.alert.recall == pytest.approx(2 / 3)
    assert report.alert.f1 == pytest.approx(0.8)
    assert report.categories["luxury_goods"].recall == pytest.approx(2 / 3)
    assert report.categories["sanctioned_leader"].recall == 0.0
    assert report.languages["ko"].recall == 1.0
    assert report.non_english_recall == pytest.approx(0.5)
    reasons = {item.id: item.reason for item in report.misjudged}
    assert set(reasons) == {"a", "e"}
    assert reasons["e"] == "nothing fired"
    assert "dprk-luxury-goods" in reasons["a"]
    text = render_text(report)
    assert "should alert" in text and "e [ru]" in text


@pytest.mark.corpus
def test_corpus_files_read_as_labelled_stories() -> None:
    files = [SHARED / "corpus" / "dev.jsonl", SHARED / "corpus" / "dev2.jsonl"]
    if not all(path.is_file() for path in files):
        pytest.skip("../shared corpus is absent")
    stories = [item for path in files for item in read_labelled(path)]
    assert len(stories) >= 200
    assert {item.story.language for item in stories} >= {"en", "ru", "ko", "zh", "ar", "fa"}
