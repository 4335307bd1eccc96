"""The rules engine: load YAML rules and term lists, compile them, match stories.

``load_rulebook(path)`` raises RuleLoadError with every problem; ``check_rules(path)`` returns
those problems plus every embedded example that does not behave as its rule declares.
"""

from __future__ import annotations

from pathlib import Path

from daemon.errors import RuleLoadError, RuleProblem
from daemon.rules.loader import load_catalog
from daemon.rules.matcher import Rulebook
from daemon.rules.model import Rule, RuleHit, TermList

__all__ = [
    "Rule",
    "RuleHit",
    "Rulebook",
    "TermList",
    "check_examples",
    "check_rules",
    "load_rulebook",
]


def load_rulebook(path: Path | str) -> Rulebook:
    """Load and compile every rule and list under ``path`` (a folder or one rule file)."""
    catalog, problems = load_catalog(Path(path))
    if problems:
        raise RuleLoadError(problems)
    return Rulebook(catalog)


def check_examples(rulebook: Rulebook) -> list[RuleProblem]:
    """Every embedded example that does not behave as declared, at the example's line."""
    problems: list[RuleProblem] = []
    for rule in rulebook.rules:
        for example in rule.examples:
            hit = any(rulebook.match_rules(example.story, (rule,)))
            if hit == example.alert:
                continue
            expected = "alert" if example.alert else "stay quiet"
            problems.append(
                RuleProblem(
                    rule.path,
                    example.line,
                    f"rule {rule.id!r}: example should {expected} but "
                    + ("did not match" if example.alert else "matched"),
                )
            )
    return problems


def check_rules(path: Path | str) -> list[RuleProblem]:
    """Load problems, or, when everything loads, the examples that fail."""
    catalog, problems = load_catalog(Path(path))
    if problems:
        return problems
    return check_examples(Rulebook(catalog))
