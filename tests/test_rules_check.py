"""Seeded mistakes: each must be reported at the right file and line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from test_rules_support import DPRK_LIST, LUXURY_LIST, LUXURY_RULE, dprk_rules, write_rules

from daemon.errors import RuleLoadError
from daemon.rules import check_rules, load_rulebook
from daemon.rules.commands import rules_check

RULE_PATH = "dprk/luxury.yaml"


def _problems(root: Path) -> list[tuple[str, int, str]]:
    return [
        (Path(p.path).relative_to(root).as_posix(), p.line, p.detail) for p in check_rules(root)
    ]


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return lines[occurrence - 1]


def _seeded(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    assert old in LUXURY_RULE
    text = LUXURY_RULE.replace(old, new, 1)
    return dprk_rules(tmp_path, **{RULE_PATH: text}), text


@pytest.mark.parametrize(
    ("old", "new", "line_marker", "message"),
    [
        ("severity: high", "sevrity: high", "sevrity", "unknown field 'sevrity'"),
        ("severity: high", "severity: urgent", "severity: urgent", "severity"),
        ("window: 2 sentences", "window: two sentences", "window:", "window"),
        (
            "condition: dprk and luxury and supply and not noise",
            "condition: dprk and luxuri and supply and not noise",
            "condition:",
            "unknown group 'luxuri'",
        ),
        (
            "condition: dprk and luxury and supply and not noise",
            "condition: dprk and (luxury or supply and not noise",
            "condition:",
            "expected ')'",
        ),
        (
            "{list: luxury_goods}",
            "{list: luxury_good}",
            "luxury_good}",
            "unknown list 'luxury_good'",
        ),
        ('noise:  ["Kim Kardashian"]', "noise:  []", "noise:", "non-empty"),
        ("gift*, present*", "gi*ft, present*", "supply:", "'*' is only allowed at the end"),
        ("gift*, present*", "gi*, present*", "supply:", "at least 3 letters"),
        (
            '  noise:  ["Kim Kardashian"]',
            "  noise:  [\"Kim Kardashian\"]\n  money: {regex: '(a)\\1'}",
            "money:",
            "invalid regex",
        ),
        (
            '    - "Aurus unveils',
            '    - "Putin gifts Kim Jong Un an Aurus"\n    - "Aurus unveils',
            'Putin gifts Kim Jong Un an Aurus"',
            "should stay quiet but matched",
        ),
        (
            '    - "Putin gifts Kim Jong Un a Russian-made Aurus limousine"',
            '    - "Kim Jong Un buys a sandwich"',
            "buys a sandwich",
            "should alert but did not match",
        ),
        ("category: luxury_goods", "category: Luxury Goods", "category:", "category"),
        ("title: Luxury", "title: [Luxury", "category:", "YAML syntax error"),
        (
            "  noise:",
            "  dprk: {list: dprk_actors}\n  noise:",
            "dprk: {list",
            "duplicate key 'dprk'",
        ),
        ("  noise:", "  unused: [Aurus]\n  noise:", "unused:", "group 'unused' is not used"),
        ("  noise:", "  far: {terms: [x ray], fields: [body]}\n  noise:", "far:", "body"),
        ("id: dprk-luxury-goods", "id: DPRK Luxury", "id:", "id"),
    ],
)
def test_seeded_mistake_is_reported_at_its_line(
    tmp_path: Path, old: str, new: str, line_marker: str, message: str
) -> None:
    root, text = _seeded(tmp_path, old, new)
    problems = _problems(root)
    expected_line = _line_of(text, line_marker)
    assert any(
        path == RULE_PATH and line == expected_line and message in detail
        for path, line, detail in problems
    ), problems


def test_duplicate_rule_id_is_reported_in_the_second_file(tmp_path: Path) -> None:
    root = dprk_rules(tmp_path, **{"other/copy.yaml": LUXURY_RULE})
    (problem,) = check_rules(root)
    assert problem.path.endswith("other/copy.yaml")
    assert problem.line == 1
    assert "duplicate rule id 'dprk-luxury-goods'" in problem.detail
    assert "dprk/luxury.yaml:1" in problem.detail


def test_list_mistakes_are_reported_in_the_list_file(tmp_path: Path) -> None:
    broken = DPRK_LIST.replace("  - Pyongyang", "  - {name: Pyongyang, alias: [Pхеньян]}")
    root = write_rules(
        tmp_path,
        {
            "lists/dprk_actors.yaml": broken,
            "lists/luxury_goods.yaml": LUXURY_LIST.replace("name: luxury_goods", "name: luxury"),
            RULE_PATH: LUXURY_RULE,
        },
    )
    problems = _problems(root)
    assert (
        "lists/dprk_actors.yaml",
        7,
        "entries.2: unknown field 'alias'; known: aliases, id, name, note, source, type",
    ) in problems
    assert any(
        path == "lists/luxury_goods.yaml" and line == 1 and "must match the file name" in detail
        for path, line, detail in problems
    )


def test_load_rulebook_raises_with_every_problem(tmp_path: Path) -> None:
    text = LUXURY_RULE.replace("severity: high", "severity: urgent").replace(
        "window: 2 sentences", "window: forever"
    )
    root = dprk_rules(tmp_path, **{RULE_PATH: text})
    with pytest.raises(RuleLoadError) as raised:
        load_rulebook(root)
    assert [p.line for p in raised.value.problems] == [
        _line_of(text, "severity"),
        _line_of(text, "window"),
    ]


def test_rules_check_prints_path_line_message_and_exit_code(tmp_path: Path) -> None:
    root, _ = _seeded(tmp_path, "severity: high", "sevrity: high")
    out = io.StringIO()
    assert rules_check(root, out) == 1
    first = out.getvalue().splitlines()[0]
    assert first.startswith(f"{root / RULE_PATH}:5: terms") is False
    assert first.startswith(f"{root / RULE_PATH}:4: file: unknown field 'sevrity'")


def test_rules_check_ok_summary(tmp_path: Path) -> None:
    out = io.StringIO()
    assert rules_check(dprk_rules(tmp_path), out) == 0
    assert out.getvalue().startswith("OK: 1 rules, 2 lists (16 list terms)")
    assert "3 examples pass" in out.getvalue()


def test_single_rule_file_uses_the_lists_beside_it(tmp_path: Path) -> None:
    root = dprk_rules(tmp_path)
    assert check_rules(root / RULE_PATH) == []


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    (problem,) = check_rules(tmp_path / "nowhere")
    assert "no such file or folder" in problem.detail
