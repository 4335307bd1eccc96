"""Hostile input: bounded time and a sensible outcome (generous bounds, not benchmarks)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_rules_support import dprk_rules, story, write_rules

from daemon.rules import Rulebook, load_rulebook

GENEROUS_SECONDS = 10.0

BAIT_RULE = """\
id: bait
title: Regex bait
category: test
terms:
  money: {regex: '(a+)+$'}
  word: [aaaa*]
condition: money and word
window: story
"""


@pytest.fixture
def rulebook(tmp_path: Path) -> Rulebook:
    return load_rulebook(dprk_rules(tmp_path, **{"bait.yaml": BAIT_RULE}))


def _timed(rulebook: Rulebook, title: str, summary: str = "", content: str = ""):
    started = time.perf_counter()
    hits = rulebook.match(story(title, summary, content))
    assert time.perf_counter() - started < GENEROUS_SECONDS
    return hits


def test_catastrophic_backtracking_bait_runs_in_linear_time(rulebook: Rulebook) -> None:
    bait = "a" * 50_000 + "!"
    assert _timed(rulebook, bait) == ()
    hits = _timed(rulebook, "a" * 50_000)
    assert [hit.rule_id for hit in hits] == ["bait"]


def test_one_megabyte_of_text(rulebook: Rulebook) -> None:
    filler = "Officials met in Geneva to discuss the weather. " * 21_000
    content = filler + "Putin gifts Kim Jong Un an Aurus limousine."
    assert len(content) > 1_000_000
    (hit,) = _timed(rulebook, "Talks", content=content)
    assert hit.rule_id == "dprk-luxury-goods"
    assert all(content[m.start : m.end] == m.text for m in hit.matches)


def test_only_emoji_and_control_characters(rulebook: Rulebook) -> None:
    assert _timed(rulebook, "🚗💎🔫" * 1000, "\x00\x01\x1b[31m\u200b\ufeff" * 1000) == ()
    assert _timed(rulebook, "", "") == ()
    assert _timed(rulebook, "<<<>>>&&&;;;" * 500) == ()


def test_unclosed_markup_and_entities_do_not_hide_the_story(rulebook: Rulebook) -> None:
    title = "Putin gifts Kim Jong Un &amp an Aurus <limousine &#xZZ; <b"
    (hit,) = _timed(rulebook, title)
    assert {m.text for m in hit.matches} >= {"gifts", "Kim Jong Un", "Aurus"}


def test_ten_thousand_terms_compile(tmp_path: Path) -> None:
    entries = "\n".join(f"  - Person Number{i} Surname{i}" for i in range(10_000))
    root = write_rules(
        tmp_path,
        {
            "lists/names.yaml": f"name: names\nentries:\n{entries}\n",
            "r.yaml": "id: r\ntitle: R\ncategory: test\nterms:\n  n: {list: names}\ncondition: n\n",
        },
    )
    rulebook = load_rulebook(root)
    assert rulebook.key_count == 10_000
    (hit,) = rulebook.match(story("Person Number9999 Surname9999 seen"))
    assert hit.matches[0].text == "Person Number9999 Surname9999"
