"""Group ``scope`` (window or story) and ``unless`` phrases."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import pytest
from test_rules_support import story, write_rules

from daemon.models import Story
from daemon.rules import Rulebook, check_rules, load_rulebook
from daemon.rules.condition import compile_condition, evaluate, parse_condition

NOISE_LIST = """\
name: noise_no_deal
entries: [no agreements were announced, 没有达成协议]
"""


def _rule(
    condition: str, window: str = "sentence", noise_scope: str = "", extra_terms: str = ""
) -> str:
    scope = f", scope: {noise_scope}" if noise_scope else ""
    return f"""\
id: scoped
title: Scoped exclusion
category: arms_transfer
terms:
  dprk:  [North Korea, Pyongyang, 朝鲜]
  deal:  [deal, deals, talks, 协议, 会谈]
  arms:  [missiles, shells, 导弹]
  noise: {{list: noise_no_deal{scope}}}
{extra_terms}condition: {condition}
window: {window}
"""


def _hits(tmp_path: Path, rule: str, *stories: Story) -> list[bool]:
    rulebook = load_rulebook(
        write_rules(tmp_path, {"lists/noise_no_deal.yaml": NOISE_LIST, "r.yaml": rule})
    )
    return [bool(rulebook.match(item)) for item in stories]


SAME_SENTENCE = story(
    "North Korea and Russia held arms talks on missiles; no agreements were announced."
)
OTHER_SENTENCE = story(
    "North Korea and Russia held arms talks on missiles. "
    "Separately, on trade, no agreements were announced."
)


@pytest.mark.parametrize(
    ("scope", "same_sentence", "other_sentence"),
    [("", False, False), ("story", False, False), ("window", False, True)],
)
def test_window_scoped_exclusion_vetoes_only_its_own_sentence(
    tmp_path: Path, scope: str, same_sentence: bool, other_sentence: bool
) -> None:
    rule = _rule("dprk and deal and arms and not noise", noise_scope=scope)
    assert _hits(tmp_path, rule, SAME_SENTENCE, OTHER_SENTENCE) == [same_sentence, other_sentence]


def test_window_scoped_exclusion_in_n_sentences(tmp_path: Path) -> None:
    rule = _rule("dprk and deal and arms and not noise", "2 sentences", "window")
    near = story("North Korea held talks on missiles. Yet no agreements were announced.")
    far = story(
        "North Korea held talks on missiles. It was cold. Elsewhere no agreements were announced."
    )
    assert _hits(tmp_path, rule, near, far) == [False, True]


def test_any_window_of_the_story_without_the_exclusion_holds(tmp_path: Path) -> None:
    rule = _rule("dprk and deal and arms and not noise", "2 sentences", "window")
    before = "Rain fell. North Korea held talks on missiles. No agreements were announced."
    spread = "North Korea held talks. On missiles. No agreements were announced."
    joined = "North Korea held talks. On missiles, no agreements were announced. Rain fell."
    assert _hits(tmp_path, rule, story(before), story(spread), story(joined)) == [
        True,
        True,
        False,
    ]


def test_window_scoped_exclusion_in_n_words(tmp_path: Path) -> None:
    rule = _rule("dprk and deal and arms and not noise", "8 words", "window")
    near = story("North Korea talks missiles and no agreements were announced")
    far = story(
        "North Korea talks missiles, said the ministry in a long statement read on radio, "
        "and then no agreements were announced"
    )
    assert _hits(tmp_path, rule, near, far) == [False, True]


def test_window_scoped_exclusion_in_a_story_window_vetoes_the_story(tmp_path: Path) -> None:
    rule = _rule("dprk and deal and arms and not noise", "story", "window")
    assert _hits(tmp_path, rule, OTHER_SENTENCE, story("North Korea talks missiles.")) == [
        False,
        True,
    ]


def test_window_scoped_exclusion_in_chinese(tmp_path: Path) -> None:
    rule = _rule("dprk and deal and arms and not noise", noise_scope="window")
    same = story("朝鲜与俄罗斯举行导弹会谈，没有达成协议。")
    other = story("朝鲜与俄罗斯举行导弹会谈。贸易方面没有达成协议。")
    assert _hits(tmp_path, rule, same, other) == [False, True]


def test_window_scoped_exclusion_inside_an_or(tmp_path: Path) -> None:
    rule = _rule("dprk and (arms or (deal and not noise))", noise_scope="window")
    assert _hits(
        tmp_path,
        rule,
        story("North Korea talks; no agreements were announced. North Korea talks."),
        story("North Korea talks; no agreements were announced. North Korea missiles"),
        story("North Korea talks; no agreements were announced."),
    ) == [True, True, False]


def test_window_scoped_group_used_positively_behaves_as_before(tmp_path: Path) -> None:
    rule = _rule("dprk and (arms or deal) and noise", noise_scope="window")
    inside = story("North Korea missiles: no agreements were announced.")
    apart = story("North Korea missiles. No agreements were announced.")
    assert _hits(tmp_path, rule, inside, apart) == [True, False]


def _story_scoped_rulebook(
    tmp_path: Path, condition: str, scope: str = "story", window: str = "sentence"
) -> Rulebook:
    scope_key = f", scope: {scope}" if scope else ""
    rule = f"""\
id: story-scoped
title: Story-scoped positive group
category: arms_transfer
terms:
  dprk: {{terms: [North Korea, Pyongyang]{scope_key}}}
  deal: [deal]
  arms: [shells, missiles]
  gift: [gift]
condition: {condition}
window: {window}
"""
    return load_rulebook(write_rules(tmp_path, {"r.yaml": rule}))


DPRK_IN_TITLE = story(
    "Pyongyang's week",
    "Russia signed a deal to buy artillery shells. Nothing else was said.",
)


@pytest.mark.parametrize(
    ("condition", "scope", "alerts"),
    [
        ("dprk and deal and arms and not gift", "", False),
        ("dprk and deal and arms and not gift", "window", False),
        ("dprk and deal and arms and not gift", "story", True),
        ("deal and arms and not not dprk and not gift", "", True),
        ("deal and arms and not not dprk and not gift", "story", True),
        ("deal and arms and not not dprk and not gift", "window", False),
    ],
)
def test_story_scoped_positive_group_may_hold_anywhere(
    tmp_path: Path, condition: str, scope: str, alerts: bool
) -> None:
    rulebook = _story_scoped_rulebook(tmp_path, condition, scope)
    assert bool(rulebook.match(DPRK_IN_TITLE)) == alerts


@pytest.mark.parametrize("window", ["sentence", "3 words", "2 sentences"])
def test_story_scoped_group_is_evidence_and_the_window_still_counts(
    tmp_path: Path, window: str
) -> None:
    rulebook = _story_scoped_rulebook(
        tmp_path, "dprk and deal and arms and not gift", window=window
    )
    assert [
        (m.group, m.text) for m in rulebook.match(story("Pyongyang", "deal shells"))[0].matches
    ] == [
        ("dprk", "Pyongyang"),
        ("deal", "deal"),
        ("arms", "shells"),
    ]
    assert not rulebook.match(story("Pyongyang deal.", "Russia. Ships. Shells."))
    assert not rulebook.match(story("Russia signed a deal to buy artillery shells."))
    assert not rulebook.match(story("Pyongyang", "deal shells", "a gift"))


def test_story_scoped_group_alone_in_an_or_needs_no_window(tmp_path: Path) -> None:
    rulebook = _story_scoped_rulebook(
        tmp_path, "(deal and arms and not gift) or (dprk and not gift)"
    )
    (hit,) = rulebook.match(story("Pyongyang is quiet.", "Russia signs no deal."))
    assert hit.matches[0].group == "dprk"
    assert not rulebook.match(story("Pyongyang is quiet.", "A gift arrives."))


@pytest.mark.parametrize(
    "text",
    [
        "a and b and not c",
        "a and (b or not c) and not d",
        "2 of (a, b, not c) and not (d or e)",
        "a and not (b and not c)",
        "(a or not not e) and not b",
        "not (a or b) and c",
    ],
)
def test_scoped_condition_compiles_to_evaluate_and_its_best_case_never_misses(text: str) -> None:
    expr = parse_condition(text)
    names = "abcde"
    bits = {name: 1 << index for index, name in enumerate(names)}
    for scope_of in product(("", "window", "story"), repeat=3):
        scopes = {name: scope for name, scope in zip("bce", scope_of, strict=True) if scope}
        test = compile_condition(expr, bits, scopes)
        best_case = compile_condition(expr, bits, scopes, best_case=True)
        for story_flags in product((0, 1), repeat=5):
            story_bits = sum(bit for bit, on in zip(bits.values(), story_flags, strict=True) if on)
            in_story = {name for name in names if story_bits & bits[name]}
            for window_bits in range(32):
                if window_bits & ~story_bits:
                    continue
                window = {name for name in names if window_bits & bits[name]}
                holds = test(window_bits, story_bits)
                assert holds == evaluate(expr, window, in_story, scopes), (scopes, window)
                assert not holds or best_case(story_bits, story_bits), (scopes, window)


def _aid_rule(unless: str, window: str = "sentence") -> str:
    return f"""\
id: military-aid
title: Military aid to the DPRK
category: arms_transfer
terms:
  dprk: [North Korea, Pyongyang, КНДР, 朝鲜]
  aid: {{terms: [military assistance, military aid, военная помощь, 军事援助], {unless}}}
condition: dprk and aid
window: {window}
"""


AID_UNLESS = (
    "unless: [mutual military assistance, mutual military aid, "
    "взаимная военная помощь, 相互军事援助]"
)


@pytest.mark.parametrize(
    ("text", "alerts"),
    [
        ("Russia pledges military aid to North Korea", True),
        ("Russia and North Korea sign a mutual military aid treaty", False),
        ("A mutual military aid treaty; Russia also sends North Korea military aid", True),
        ("North Korea: MUTUAL Military-Aid pact", False),
        ("Россия оказывает КНДР военную помощь", True),
        ("Договор о взаимной военной помощи с КНДР", False),
        ("俄罗斯向朝鲜提供军事援助", True),
        ("俄罗斯与朝鲜签署相互军事援助条约", False),
    ],
)
def test_unless_discards_only_matches_inside_the_phrase(
    tmp_path: Path, text: str, alerts: bool
) -> None:
    rulebook = load_rulebook(write_rules(tmp_path, {"r.yaml": _aid_rule(AID_UNLESS)}))
    assert bool(rulebook.match(story(text))) == alerts


def test_unless_keeps_the_surviving_match_as_evidence(tmp_path: Path) -> None:
    rulebook = load_rulebook(write_rules(tmp_path, {"r.yaml": _aid_rule(AID_UNLESS, "story")}))
    (hit,) = rulebook.match(story("A mutual military aid pact, then military aid to Pyongyang"))
    assert [(m.group, m.start) for m in hit.matches if m.group == "aid"] == [("aid", 33)]


def test_unless_applies_within_one_field_only(tmp_path: Path) -> None:
    rulebook = load_rulebook(write_rules(tmp_path, {"r.yaml": _aid_rule(AID_UNLESS, "story")}))
    assert rulebook.match(story("Mutual military aid pact", "North Korea gets military aid"))
    assert not rulebook.match(story("North Korea pact", "on mutual military aid"))


def test_unless_lists_and_regex_groups(tmp_path: Path) -> None:
    rule = """\
id: money
title: Money to the DPRK
category: sanctions_evasion
terms:
  dprk: [North Korea]
  money: {regex: '\\$\\s?\\d+ ?(m|million)\\b', unless_lists: [refunds]}
condition: dprk and money
"""
    refunds = "name: refunds\nentries: [refund of 5 million]\n"
    rulebook = load_rulebook(write_rules(tmp_path, {"r.yaml": rule, "lists/refunds.yaml": refunds}))
    assert rulebook.match(story("North Korea received $5 million"))
    assert not rulebook.match(story("North Korea sought a refund of $5 million"))


@pytest.mark.parametrize(
    ("noise", "message"),
    [
        ("{list: noise_no_deal, scope: sentence}", "'sentence' is not one of ['window', 'story']"),
        ("{list: noise_no_deal, unless: []}", "should be non-empty"),
        ("{list: noise_no_deal, unless_lists: []}", "should be non-empty"),
        ("{terms: [no deal, talks], unless: [No  Deal]}", "would cancel every match"),
        ("{list: noise_no_deal, unless: [gi*t]}", "only allowed at the end"),
        ("{list: noise_no_deal, unless_lists: [nowhere]}", "unknown list 'nowhere'"),
    ],
)
def test_misuse_is_reported_at_its_line(tmp_path: Path, noise: str, message: str) -> None:
    text = _rule("dprk and deal and arms and not noise").replace(
        "  noise: {list: noise_no_deal}", f"  noise: {noise}"
    )
    root = write_rules(tmp_path, {"lists/noise_no_deal.yaml": NOISE_LIST, "r.yaml": text})
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("  noise:"))
    problems = [(p.line, p.detail) for p in check_rules(root)]
    assert any(at == line and message in detail for at, detail in problems), problems
