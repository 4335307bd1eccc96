"""The shipped rule pack: every example behaves, and detection meets its targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.models import Story
from daemon.rules import check_rules, load_rulebook
from daemon.rules.evaluation import evaluate, read_labelled

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
CATEGORIES = ("luxury_goods", "arms_transfer", "sanctioned_leader", "sanctions_evasion")


@pytest.fixture(scope="module")
def rulebook():
    return load_rulebook(RULES)


def test_every_shipped_rule_and_example_passes_check() -> None:
    assert [str(p) for p in check_rules(RULES)] == []


def test_every_category_has_rules(rulebook) -> None:
    assert {rule.category for rule in rulebook.rules} >= set(CATEGORIES)


@pytest.mark.parametrize(
    ("title", "categories"),
    [
        (
            "Putin gifts Kim Jong Un a Russian-made Aurus limousine",
            {"luxury_goods", "sanctioned_leader"},
        ),
        ("Путин подарил Ким Чен Ыну лимузин Aurus", {"luxury_goods", "sanctioned_leader"}),
        ("푸틴, 김정은에게 아우루스 리무진 선물", {"luxury_goods", "sanctioned_leader"}),
        ("Aurus unveils a new Senat sedan at the Moscow motor show", set()),
        ("Review: the Aurus Senat limousine is quiet, heavy and thirsty", set()),
        ("Kim Kardashian shows off her new Rolls-Royce", set()),
        ("North Korea fires ballistic missiles into the sea", set()),
    ],
)
def test_founding_story_and_its_lookalikes(rulebook, title: str, categories: set[str]) -> None:
    hits = [h for h in rulebook.match(Story(id="t", feed_url="test", title=title)) if h.alerts]
    assert {h.category for h in hits} == categories


def _assert_targets(files: list[Path], rulebook) -> None:
    stories = [item for path in files for item in read_labelled(path)]
    report = evaluate(rulebook, stories)
    assert report.alert.precision >= 0.95
    assert report.alert.recall >= 0.95
    for category in CATEGORIES:
        assert report.categories[category].f1 >= 0.9, category
    assert report.non_english_recall >= 0.9


@pytest.mark.corpus
def test_targets_on_the_development_corpus(shared_dir: Path, rulebook) -> None:
    _assert_targets(
        [shared_dir / "corpus" / "dev.jsonl", shared_dir / "corpus" / "dev2.jsonl"], rulebook
    )


def test_targets_on_the_projects_own_tuning_set(rulebook) -> None:
    _assert_targets([REPO / "tests" / "fixtures" / "holdout.jsonl"], rulebook)
