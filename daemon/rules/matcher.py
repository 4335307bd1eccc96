"""The compiled rulebook: one scan of each field, then every rule's condition over its windows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from daemon.models import Match, Story
from daemon.rules.compiler import TermHit, TermMatcher
from daemon.rules.condition import evaluate
from daemon.rules.model import FIELDS, Catalog, Rule, RuleHit, TermList, TermSource
from daemon.rules.normalize import FoldedText, fold


@dataclass(frozen=True)
class _Found:
    """A term hit placed in the story: field, sentence and word position across fields."""

    field: str
    hit: TermHit
    sentence: int
    word: int


class _StoryScan:
    """The term hits of one story, with positions that windows can compare across fields."""

    def __init__(self, story: Story, matcher: TermMatcher, needs_words: bool) -> None:
        self.folded: dict[str, FoldedText] = {}
        self.by_source: dict[int, list[_Found]] = defaultdict(list)
        scanned: list[tuple[str, FoldedText, list[TermHit]]] = []
        for field in FIELDS:
            value = getattr(story, field) or ""
            if value and not value.isspace():
                folded = fold(value)
                self.folded[field] = folded
                scanned.append((field, folded, matcher.scan(folded)))
        sentence_offset = word_offset = 0
        remaining = sum(1 for _, _, hits in scanned if hits)
        for field, folded, hits in scanned:
            if not remaining:
                break
            for hit in hits:
                self.by_source[hit.source].append(
                    _Found(
                        field,
                        hit,
                        sentence_offset + folded.sentence_of(hit.start),
                        word_offset + folded.word_of(hit.start) if needs_words else 0,
                    )
                )
            remaining -= bool(hits)
            if remaining:
                sentence_offset += folded.sentence_count
                if needs_words:
                    word_offset += folded.word_count + 1

    def match(self, group: str, found: _Found) -> Match:
        folded = self.folded[found.field]
        start, end = found.hit.original or folded.original_span(found.hit.start, found.hit.end)
        return Match(group, found.hit.written, folded.original[start:end], found.field, start, end)


class Rulebook:
    """Compiled rules and lists. ``match`` is pure: the same story always gives the same hits."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.rules: tuple[Rule, ...] = catalog.rules
        self.lists: Mapping[str, TermList] = catalog.lists
        self.sources: tuple[TermSource, ...] = catalog.sources
        self._matcher = TermMatcher(
            ((index, term) for index, source in enumerate(self.sources) for term in source.terms),
            ((index, s.regex) for index, s in enumerate(self.sources) if s.regex is not None),
        )
        self._needs_words = any(rule.window.unit == "word" for rule in self.rules)
        self._positive_sources = {
            rule.id: frozenset(
                source for name in rule.positive_groups for source in rule.groups[name].sources
            )
            for rule in self.rules
        }

    @property
    def key_count(self) -> int:
        """Distinct folded terms in the automaton."""
        return self._matcher.key_count

    def match(self, story: Story) -> tuple[RuleHit, ...]:
        """Hits of every active or test rule (disabled rules are skipped)."""
        return self.match_rules(story, (r for r in self.rules if r.status != "disabled"))

    def match_rules(self, story: Story, rules: Iterable[Rule]) -> tuple[RuleHit, ...]:
        scan = _StoryScan(story, self._matcher, self._needs_words)
        if not scan.by_source:
            return ()
        present = scan.by_source.keys()
        hits = (
            _evaluate_rule(rule, scan)
            for rule in rules
            if not present.isdisjoint(self._positive_sources[rule.id])
        )
        return tuple(hit for hit in hits if hit is not None)


def _evaluate_rule(rule: Rule, scan: _StoryScan) -> RuleHit | None:
    found: dict[str, list[_Found]] = {}
    by_source = scan.by_source
    for name, group in rule.groups.items():
        occurrences: list[_Found] = []
        for source in group.sources:
            items = by_source.get(source)
            if items:
                occurrences.extend(item for item in items if item.field in group.fields)
        if occurrences:
            found[name] = occurrences
    story_groups = set(found)
    if not evaluate(rule.condition, story_groups, story_groups):
        return None
    evidence = _evidence(rule, found, story_groups)
    if not evidence:
        return None
    ordered = sorted(evidence, key=lambda pair: (FIELDS.index(pair[1].field), pair[1].hit.start))
    matches = tuple(dict.fromkeys(scan.match(group, item) for group, item in ordered))
    return RuleHit(
        rule_id=rule.id,
        rule_title=rule.title,
        category=rule.category,
        severity=rule.severity,
        channel=rule.channel,
        references=rule.references,
        matches=matches,
        status=rule.status,
    )


def _evidence(
    rule: Rule, found: dict[str, list[_Found]], story_groups: set[str]
) -> list[tuple[str, _Found]]:
    """Matches of positive groups inside every window where the condition holds."""
    positive = [(name, item) for name in rule.positive_groups for item in found.get(name, ())]
    if rule.window.unit == "story":
        return positive if evaluate(rule.condition, story_groups, story_groups) else []
    size = rule.window.size
    unit_is_sentence = rule.window.unit == "sentence"
    by_position = sorted(
        ((item.sentence if unit_is_sentence else item.word, name, item) for name, item in positive),
        key=lambda entry: (entry[0], entry[1]),
    )
    evidence: dict[tuple[str, int], tuple[str, _Found]] = {}
    for first in sorted({position for position, _, _ in by_position}):
        inside = [
            (name, item) for position, name, item in by_position if first <= position < first + size
        ]
        if evaluate(rule.condition, {name for name, _ in inside}, story_groups):
            evidence.update(((name, id(item)), (name, item)) for name, item in inside)
    return list(evidence.values())
