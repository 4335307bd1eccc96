from __future__ import annotations

import gc
from pathlib import Path

import pytest
from test_rules_support import dprk_rules, story, write_rules

from daemon.models import Match
from daemon.rules import Rulebook, check_rules, load_rulebook


@pytest.fixture
def rulebook(tmp_path: Path) -> Rulebook:
    return load_rulebook(dprk_rules(tmp_path))


def _matched(rulebook: Rulebook, title: str, summary: str = "") -> list[str]:
    return [hit.rule_id for hit in rulebook.match(story(title, summary))]


def test_tiny_rulebook_loads_and_its_examples_pass(tmp_path: Path) -> None:
    assert check_rules(dprk_rules(tmp_path)) == []


def test_hit_carries_rule_metadata_and_original_spans(rulebook: Rulebook) -> None:
    title = "Putin gifts <b>Kim Jong-un</b> an Aurus limousine"
    (hit,) = rulebook.match(story(title))
    assert (hit.rule_id, hit.category, hit.severity, hit.channel) == (
        "dprk-luxury-goods",
        "luxury_goods",
        "high",
        "#sanctions-dprk",
    )
    assert hit.references == ("UNSCR 1718 (2006) para 8(a)(iii)",)
    assert hit.alerts
    assert Match("supply", "gift*", "gifts", "title", 6, 11) in hit.matches
    kim = next(m for m in hit.matches if m.group == "dprk")
    assert title[kim.start : kim.end] == kim.text == "Kim Jong-un"
    assert {m.text for m in hit.matches if m.group == "luxury"} == {"Aurus", "limousine"}


@pytest.mark.parametrize(
    "title",
    [
        "Putin gifts KIM JONG UN an Aurus",
        "Putin gifts Kim  Jong Un an Aurus",
        "Путин подарил Ким Чен Ыну лимузин",
        "푸틴, 김정은에게 리무진 선물",
        "普京向金正恩赠送豪华轿车",
        "بوتين يقدم هدية ليموزين لكيم جونغ أون",
    ],
)
def test_matches_across_scripts_and_inflections(rulebook: Rulebook, title: str) -> None:
    assert _matched(rulebook, title) == ["dprk-luxury-goods"]


@pytest.mark.parametrize(
    "title",
    [
        "Aurus unveils a new Senat sedan at the Moscow motor show",
        "Kim Kardashian gifts Kim Jong Un fan a limousine",
        "Kimono shipments to North Koreans: limousines",
        "Putin gifts Kim Jong Unification a limousine",
    ],
)
def test_quiet_on_mentions_exclusions_and_partial_words(rulebook: Rulebook, title: str) -> None:
    assert _matched(rulebook, title) == []


def test_window_of_two_sentences_spans_title_and_summary(rulebook: Rulebook) -> None:
    assert _matched(rulebook, "Kim Jong Un rides new limousine", "It was a gift from Moscow.") == [
        "dprk-luxury-goods"
    ]
    far = "It was seen in Pyongyang. Nobody commented. Officials said it was a gift."
    assert _matched(rulebook, "New limousine spotted", far) == []


def test_exclusion_vetoes_anywhere_in_the_story(rulebook: Rulebook) -> None:
    summary = "Separately, Kim Kardashian posted photos."
    assert _matched(rulebook, "Putin gifts Kim Jong Un a limousine", summary) == []


def test_status_test_is_reported_but_does_not_alert_and_disabled_is_skipped(
    tmp_path: Path,
) -> None:
    rule = """\
    id: {id}
    title: Aurus
    category: luxury_goods
    status: {status}
    terms:
      car: [Aurus]
    condition: car
    """
    write_rules(
        tmp_path,
        {
            "a.yaml": rule.format(id="trial", status="test"),
            "b.yaml": rule.format(id="off", status="disabled"),
        },
    )
    hits = load_rulebook(tmp_path).match(story("An Aurus arrives"))
    assert [(hit.rule_id, hit.alerts) for hit in hits] == [("trial", False)]


@pytest.mark.parametrize(
    ("term", "title", "found"),
    [
        ("военн* технологи*", "передача военных технологий КНДР", "военных технологий"),
        ("автомат* Калашникова", "партия автоматов Калашникова", "автоматов Калашникова"),
        ("автомат* Калашникова", "партия автоматов для Калашникова", None),
        ("Mi-8*", "two Mi-8MTV helicopters", "Mi-8MTV"),
        ("flat-screen TV*", "flat screen TVs seized", "flat screen TVs"),
        ("destiné* à", "des camions destinés à Pyongyang", "destinés à"),
    ],
)
def test_prefix_on_any_word_of_a_phrase(
    tmp_path: Path, term: str, title: str, found: str | None
) -> None:
    rule = f"id: r\ntitle: R\ncategory: test\nterms:\n  t: ['{term}']\ncondition: t\n"
    rulebook = load_rulebook(write_rules(tmp_path, {"r.yaml": rule}))
    texts = [m.text for hit in rulebook.match(story(title)) for m in hit.matches]
    assert texts == ([found] if found else [])


def test_loading_leaves_the_garbage_collector_as_it_was(tmp_path: Path) -> None:
    assert gc.isenabled()
    load_rulebook(dprk_rules(tmp_path))
    assert gc.isenabled()
    gc.disable()
    try:
        load_rulebook(tmp_path)
        assert not gc.isenabled()
    finally:
        gc.enable()
