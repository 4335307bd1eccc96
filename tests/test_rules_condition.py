from __future__ import annotations

from itertools import product
from pathlib import Path

import pytest
from test_rules_support import story, write_rules

from daemon.rules import load_rulebook
from daemon.rules.condition import (
    All,
    AnyOf,
    AtLeast,
    ConditionError,
    Group,
    Not,
    compile_condition,
    evaluate,
    group_names,
    parse_condition,
    positive_names,
)


def test_precedence_not_binds_tighter_than_and_than_or() -> None:
    assert parse_condition("a or b and not c") == AnyOf(
        (Group("a"), All((Group("b"), Not(Group("c")))))
    )
    assert parse_condition("(a or b) and c") == All((AnyOf((Group("a"), Group("b"))), Group("c")))


def test_n_of_with_nested_expressions() -> None:
    expr = parse_condition("2 of (a, b, c or d) and not e")
    assert expr == All(
        (AtLeast(2, (Group("a"), Group("b"), AnyOf((Group("c"), Group("d"))))), Not(Group("e")))
    )
    assert group_names(expr) == ["a", "b", "c", "d", "e"]
    assert positive_names(expr) == ["a", "b", "c", "d"]
    assert evaluate(expr, {"a", "d"}, {"a", "d"})
    assert not evaluate(expr, {"a"}, {"a"})
    assert not evaluate(expr, {"a", "b"}, {"a", "b", "e"})


def test_not_looks_at_the_whole_story_positive_part_at_the_window() -> None:
    expr = parse_condition("a and b and not c")
    assert not evaluate(expr, {"a", "b"}, {"a", "b", "c"})
    assert not evaluate(expr, {"a"}, {"a", "b"})


@pytest.mark.parametrize(
    ("source", "column", "message"),
    [
        ("", 1, "empty"),
        ("a and", 6, "expected a group name"),
        ("a b", 3, "join groups with and / or"),
        ("(a or b", 8, "expected ')'"),
        ("3 of (a, b)", 1, "between 1 and 2"),
        ("2 (a, b)", 3, "'of'"),
        ("a & b", 3, "unexpected character '&'"),
    ],
)
def test_errors_name_the_column(source: str, column: int, message: str) -> None:
    with pytest.raises(ConditionError) as raised:
        parse_condition(source)
    assert raised.value.column == column
    assert message in str(raised.value)


def _rule(window: str, condition: str = "a and b", extra: str = "") -> str:
    return f"""\
id: windowed
title: Windowed
category: test
terms:
  a: [alpha]
  b: [beta]
{extra}condition: {condition}
window: {window}
"""


@pytest.mark.parametrize(
    ("window", "title", "summary", "fires"),
    [
        ("sentence", "alpha beta", "", True),
        ("sentence", "alpha", "beta.", False),
        ("2 sentences", "alpha", "beta.", True),
        ("2 sentences", "alpha", "One. Two beta.", False),
        ("3 words", "alpha one beta", "", True),
        ("3 words", "alpha one two beta", "", False),
        ("story", "alpha", "Far away. Very far. beta", True),
        ("sentence", "阿尔法 alpha。其他 beta", "", False),
        ("sentence", "alpha؟ beta", "", False),
    ],
)
def test_windows(tmp_path: Path, window: str, title: str, summary: str, fires: bool) -> None:
    rulebook = load_rulebook(write_rules(tmp_path, {"r.yaml": _rule(window)}))
    assert bool(rulebook.match(story(title, summary))) is fires


def test_n_of_rule_and_per_group_fields(tmp_path: Path) -> None:
    extra = "  c: [gamma]\n  t: {terms: [delta], fields: [title]}\n"
    rule = _rule("story", "2 of (a, b, c) and t", extra)
    rulebook = load_rulebook(write_rules(tmp_path, {"r.yaml": rule}))
    assert rulebook.match(story("delta alpha", "gamma"))
    assert not rulebook.match(story("alpha", "gamma delta"))
    assert not rulebook.match(story("delta alpha"))


def test_rule_fields_limit_where_terms_count(tmp_path: Path) -> None:
    rule = _rule("story").replace("terms:", "fields: [title]\nterms:")
    rulebook = load_rulebook(write_rules(tmp_path, {"r.yaml": rule}))
    assert rulebook.match(story("alpha beta"))
    assert not rulebook.match(story("alpha", "beta"))


def test_exclusion_respects_its_group_fields(tmp_path: Path) -> None:
    extra = "  n: {terms: [noise], fields: [title]}\n"
    rule = _rule("story", "a and b and not n", extra)
    rulebook = load_rulebook(write_rules(tmp_path, {"r.yaml": rule}))
    assert not rulebook.match(story("alpha beta noise"))
    assert rulebook.match(story("alpha beta", "noise"))


def test_evidence_is_only_from_windows_that_satisfy_the_condition(tmp_path: Path) -> None:
    rulebook = load_rulebook(write_rules(tmp_path, {"r.yaml": _rule("sentence")}))
    (hit,) = rulebook.match(story("alpha here.", "Later alpha beta."))
    assert [(m.field, m.text) for m in hit.matches] == [("summary", "alpha"), ("summary", "beta")]


@pytest.mark.parametrize(
    "text",
    [
        "a",
        "a and b and c and not d",
        "a and (b or (c and d)) and not (d or e)",
        "((a and b) or c) and not e",
        "(a or (b and (c or d or (e and not a)))) and not e",
        "2 of (a, b or c, not d, e)",
        "a or not not b",
        "not (a and b) and c",
        "a and not (b and not c)",
    ],
)
def test_compiled_condition_agrees_with_evaluate_everywhere(text: str) -> None:
    expr = parse_condition(text)
    names = "abcde"
    bits = {name: 1 << index for index, name in enumerate(names)}
    test = compile_condition(expr, bits)
    for window_flags, story_flags in product(product((0, 1), repeat=5), repeat=2):
        window = {name for name, on in zip(names, window_flags, strict=True) if on}
        in_story = {name for name, on in zip(names, story_flags, strict=True) if on}
        window_bits = sum(bits[name] for name in window)
        story_bits = sum(bits[name] for name in in_story)
        assert test(window_bits, story_bits) == evaluate(expr, window, in_story), (window, in_story)
