"""The compiled rulebook: one scan of each field, then the rules whose condition can hold.

A rule is looked at only when a term source of one of its positive groups was found; its
condition is first tried on the whole story (bit sets of groups, no positions needed), and only
when it holds there are sentence or word positions worked out and its windows tried.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from daemon.models import Match, Story
from daemon.rules.compiler import TermHit, TermMatcher, collector_paused
from daemon.rules.condition import GroupTest, compile_condition, window_lookups
from daemon.rules.model import FIELDS, Catalog, Rule, RuleHit, TermList, TermSource
from daemon.rules.normalize import FoldedText, fold

_FIELD_BIT = {field: 1 << index for index, field in enumerate(FIELDS)}
_Evidence = tuple[tuple[int, int, str, int], str, int, TermHit]
"""(sort key, group, field index, hit)"""


@dataclass(frozen=True)
class _GroupPlan:
    name: str
    bit: int
    sources: tuple[int, ...]
    field_mask: int
    unless: tuple[int, ...]
    in_window: bool


@dataclass(frozen=True)
class _RulePlan:
    """A rule prepared for matching: its groups as bits and its condition compiled over them.

    ``positive`` groups give the evidence; those ``in_window`` are placed in sentences or words,
    together with the ``window_vetoes`` (window-scoped groups used only under ``not``).
    ``story_test`` is the condition on the story's groups alone: it holds whenever some window
    could satisfy the condition."""

    index: int
    rule: Rule
    groups: tuple[_GroupPlan, ...]
    positive: tuple[_GroupPlan, ...]
    positive_mask: int
    window_vetoes: tuple[_GroupPlan, ...]
    vetoed_in_windows: bool
    test: GroupTest
    story_test: GroupTest


def _plan(index: int, rule: Rule) -> _RulePlan:
    bits = {name: 1 << number for number, name in enumerate(rule.groups)}
    scopes = rule.scopes
    lookups = list(window_lookups(rule.condition, scopes))
    in_window = {name for name, _ in lookups}
    groups = {
        name: _GroupPlan(
            name,
            bits[name],
            tuple(dict.fromkeys(group.sources)),
            sum(_FIELD_BIT[field] for field in set(group.fields)),
            group.unless,
            name in in_window,
        )
        for name, group in rule.groups.items()
    }
    positive = tuple(groups[name] for name in rule.positive_groups if name in groups)
    positive_names = {group.name for group in positive}
    vetoed_in_windows = any(against for _, against in lookups) and rule.window.unit != "story"
    test = compile_condition(rule.condition, bits, scopes)
    return _RulePlan(
        index,
        rule,
        tuple(groups.values()),
        positive,
        sum(group.bit for group in positive),
        tuple(g for g in groups.values() if g.in_window and g.name not in positive_names),
        vetoed_in_windows,
        test,
        compile_condition(rule.condition, bits, scopes, best_case=True)
        if vetoed_in_windows
        else test,
    )


class _StoryScan:
    """The term hits of one story by source; positions across fields are worked out on demand."""

    def __init__(self, story: Story, matcher: TermMatcher) -> None:
        self.folded: list[FoldedText | None] = []
        self.by_source: dict[int, list[tuple[int, TermHit]]] = {}
        self.source_fields: dict[int, int] = {}
        for index, field in enumerate(FIELDS):
            value = getattr(story, field) or ""
            if not value or value.isspace():
                self.folded.append(None)
                continue
            folded = fold(value)
            self.folded.append(folded)
            bit = 1 << index
            for hit in matcher.scan(folded):
                source = hit.source
                found = self.by_source.get(source)
                if found is None:
                    self.by_source[source] = [(index, hit)]
                    self.source_fields[source] = bit
                else:
                    found.append((index, hit))
                    self.source_fields[source] |= bit
        self._positions: dict[str, dict[tuple[int, int], int]] = {}
        self._spans: dict[tuple[int, int, int], tuple[int, int]] = {}
        self._kept: dict[tuple[int, tuple[int, ...]], list[tuple[int, TermHit]]] = {}

    def hits(self, source: int, unless: tuple[int, ...]) -> Sequence[tuple[int, TermHit]]:
        """(field index, hit) of ``source``, less those overlapping a hit of an ``unless``
        source in the same field."""
        found = self.by_source.get(source, ())
        if not unless or not found:
            return found
        kept = self._kept.get((source, unless))
        if kept is None:
            cancelling = [
                (field_index, hit.start, hit.end)
                for other in unless
                for field_index, hit in self.by_source.get(other, ())
            ]
            kept = self._kept[source, unless] = [
                (field_index, hit)
                for field_index, hit in found
                if not any(
                    field_index == at and start < hit.end and hit.start < end
                    for at, start, end in cancelling
                )
            ]
        return kept

    def field_bits(self, source: int, unless: tuple[int, ...]) -> int:
        """The fields where ``source`` has a hit that no ``unless`` hit cancels."""
        bits = 0
        for field_index, _ in self.hits(source, unless):
            bits |= 1 << field_index
        return bits

    def position(self, unit: str, field_index: int, start: int) -> int:
        """The sentence or word number of a folded offset, counted across title, summary and
        content together."""
        known = self._positions.setdefault(unit, {})
        position = known.get((field_index, start))
        if position is None:
            position = 0
            for folded in self.folded[:field_index]:
                if folded is not None:
                    position += (
                        folded.sentence_count if unit == "sentence" else folded.word_count + 1
                    )
            folded = self.folded[field_index]
            assert folded is not None
            position += folded.sentence_of(start) if unit == "sentence" else folded.word_of(start)
            known[field_index, start] = position
        return position

    def extent(self, unit: str) -> int:
        """One past the story's last sentence or word position."""
        if unit == "sentence":
            return sum(folded.sentence_count for folded in self.folded if folded is not None)
        return sum(folded.word_count + 1 for folded in self.folded if folded is not None) - 1

    def matches(self, evidence: Iterable[_Evidence]) -> tuple[Match, ...]:
        """One Match per distinct (group, term, field, span), in the order of ``evidence``."""
        distinct: dict[tuple[str, str, int, int, int], None] = {}
        spans = self._spans
        for _, group, field_index, hit in evidence:
            span = hit.original or spans.get((field_index, hit.start, hit.end))
            if span is None:
                folded = self.folded[field_index]
                assert folded is not None
                span = spans[field_index, hit.start, hit.end] = folded.original_span(
                    hit.start, hit.end
                )
            distinct[group, hit.written, field_index, span[0], span[1]] = None
        matches = []
        for group, term, field_index, start, end in distinct:
            folded = self.folded[field_index]
            assert folded is not None
            text = folded.original[start:end]
            matches.append(Match(group, term, text, FIELDS[field_index], start, end))
        return tuple(matches)


class Rulebook:
    """Compiled rules and lists. ``match`` is pure: the same story always gives the same hits."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.rules: tuple[Rule, ...] = catalog.rules
        self.lists: Mapping[str, TermList] = catalog.lists
        self.sources: tuple[TermSource, ...] = catalog.sources
        with collector_paused():
            self._matcher = TermMatcher(
                (
                    (index, term)
                    for index, source in enumerate(self.sources)
                    for term in source.terms
                ),
                ((index, s.regex) for index, s in enumerate(self.sources) if s.regex is not None),
            )
        self._plans = tuple(_plan(index, rule) for index, rule in enumerate(self.rules))
        self._plan_of = {id(rule): plan for rule, plan in zip(self.rules, self._plans, strict=True)}
        self._enabled = tuple(plan for plan in self._plans if plan.rule.status != "disabled")
        uses: dict[int, list[tuple[int, int, int]]] = {}
        guarded: dict[int, list[tuple[int, int, int, tuple[int, ...]]]] = {}
        for plan in self._plans:
            for group in plan.groups:
                for source in group.sources:
                    if group.unless:
                        guarded.setdefault(source, []).append(
                            (plan.index, group.bit, group.field_mask, group.unless)
                        )
                    else:
                        uses.setdefault(source, []).append(
                            (plan.index, group.bit, group.field_mask)
                        )
        self._source_uses = {source: tuple(found) for source, found in uses.items()}
        self._guarded_uses = {source: tuple(found) for source, found in guarded.items()}

    @property
    def key_count(self) -> int:
        """Distinct folded terms in the automaton."""
        return self._matcher.key_count

    def match(self, story: Story) -> tuple[RuleHit, ...]:
        """Hits of every active or test rule (disabled rules are skipped)."""
        return self._match_plans(story, self._enabled)

    def match_rules(self, story: Story, rules: Iterable[Rule]) -> tuple[RuleHit, ...]:
        """Hits of the given rules of this rulebook, whatever their status."""
        return self._match_plans(story, [self._plan_of[id(rule)] for rule in rules])

    def _match_plans(self, story: Story, plans: Iterable[_RulePlan]) -> tuple[RuleHit, ...]:
        scan = _StoryScan(story, self._matcher)
        if not scan.by_source:
            return ()
        groups = [0] * len(self._plans)
        source_uses = self._source_uses
        for source, fields in scan.source_fields.items():
            for index, bit, field_mask in source_uses.get(source, ()):
                if fields & field_mask:
                    groups[index] |= bit
        if self._guarded_uses:
            for source in scan.source_fields:
                for index, bit, field_mask, unless in self._guarded_uses.get(source, ()):
                    if not groups[index] & bit and scan.field_bits(source, unless) & field_mask:
                        groups[index] |= bit
        hits: list[RuleHit] = []
        for plan in plans:
            story_groups = groups[plan.index]
            if story_groups & plan.positive_mask and plan.story_test(story_groups, story_groups):
                hit = _rule_hit(plan, scan, story_groups)
                if hit is not None:
                    hits.append(hit)
        return tuple(hits)


def _rule_hit(plan: _RulePlan, scan: _StoryScan, story_groups: int) -> RuleHit | None:
    rule = plan.rule
    evidence = _evidence(plan, scan, story_groups)
    if not evidence:
        return None
    matches = scan.matches(evidence)
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


def _evidence(plan: _RulePlan, scan: _StoryScan, story_groups: int) -> list[_Evidence]:
    """Matches of positive groups inside every window where the condition holds, in text order
    (ties: by group name within a window, by the condition's group order for ``story``), and
    those of story-scoped positive groups when it holds somewhere."""
    window = plan.rule.window
    whole_story = window.unit == "story"
    placed: list[_Evidence] = []
    anywhere: list[_Evidence] = []
    count = 0
    for group in plan.positive:
        found = placed if group.in_window or whole_story else anywhere
        tie = "" if whole_story else group.name
        for source in group.sources:
            for field_index, hit in scan.hits(source, group.unless):
                if group.field_mask >> field_index & 1:
                    key = (field_index, hit.start, tie, count)
                    found.append((key, group.name, field_index, hit))
                    count += 1
    if whole_story:
        return sorted(placed)
    unit, size = window.unit, window.size
    bits = {group.name: group.bit for group in plan.positive}
    position_groups: dict[int, int] = {}
    positions: list[int] = []
    for _, name, field_index, hit in placed:
        position = scan.position(unit, field_index, hit.start)
        positions.append(position)
        position_groups[position] = position_groups.get(position, 0) | bits[name]
    for group in plan.window_vetoes:
        for source in group.sources:
            for field_index, hit in scan.hits(source, group.unless):
                if group.field_mask >> field_index & 1:
                    position = scan.position(unit, field_index, hit.start)
                    position_groups[position] = position_groups.get(position, 0) | group.bit
    ordered = sorted(position_groups)
    starts = ordered
    if plan.vetoed_in_windows:
        last_start = max(scan.extent(unit) - size, 0)
        starts = sorted(
            {0} | {min(max(p + shift, 0), last_start) for p in ordered for shift in (1 - size, 1)}
        )
    covered, held = _windows_that_hold(plan, position_groups, ordered, starts, size, story_groups)
    evidence = [
        item for item, position in zip(placed, positions, strict=True) if position in covered
    ]
    if anywhere and (held or plan.test(0, story_groups)):
        evidence += anywhere
    return sorted(evidence)


def _windows_that_hold(
    plan: _RulePlan,
    position_groups: Mapping[int, int],
    ordered: list[int],
    starts: list[int],
    size: int,
    story_groups: int,
) -> tuple[set[int], bool]:
    """The positions (``ordered``) inside windows of ``size`` where the condition holds, and
    whether any does.

    Without exclusions in the window, a window starting at each position is enough: moving a
    window's start back to the nearest position only adds groups. With them, a window must be
    tried at every place in the story where its groups change: ending at a position, and
    starting just after one."""
    covered: set[int] = set()
    held = False
    first = end = 0
    for start in starts:
        while first < len(ordered) and ordered[first] < start:
            first += 1
        end = max(end, first)
        while end < len(ordered) and ordered[end] < start + size:
            end += 1
        inside = 0
        for position in ordered[first:end]:
            inside |= position_groups[position]
        if inside and plan.test(inside, story_groups):
            held = True
            covered.update(ordered[first:end])
    return covered, held
