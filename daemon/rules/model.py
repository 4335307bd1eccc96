"""The loaded, validated form of rules and term lists."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from daemon.models import Hit, Story
from daemon.rules.condition import Expr

FIELDS = ("title", "summary", "content")
_WINDOW = re.compile(r"^\s*(?:(sentence|story)|([1-9][0-9]*)\s+(sentences?|words?))\s*$")


@dataclass(frozen=True)
class Window:
    """Where the positive part of a condition must hold: N sentences, N words, or the story."""

    unit: str
    size: int = 1

    @classmethod
    def parse(cls, text: str) -> Window:
        found = _WINDOW.match(text)
        if not found:
            raise ValueError(f"window {text!r}: use sentence, N sentences, N words or story")
        if found.group(1):
            return cls(found.group(1))
        return cls(found.group(3).rstrip("s"), int(found.group(2)))

    def __str__(self) -> str:
        if self.unit == "story" or (self.unit == "sentence" and self.size == 1):
            return self.unit
        return f"{self.size} {self.unit}s"


@dataclass(frozen=True)
class GroupSpec:
    """A named term group of a rule: the term sources it draws on, the fields it looks at, its
    ``scope`` (None: the window outside ``not``, the story under it) and the sources of its
    ``unless`` phrases, whose matches cancel the group's matches they overlap."""

    name: str
    sources: tuple[int, ...]
    fields: tuple[str, ...]
    line: int
    scope: str | None = None
    unless: tuple[int, ...] = ()


@dataclass(frozen=True)
class Example:
    story: Story
    alert: bool
    line: int


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    category: str
    severity: str
    status: str
    channel: str | None
    references: tuple[str, ...]
    fields: tuple[str, ...]
    groups: Mapping[str, GroupSpec]
    condition: Expr
    condition_text: str
    positive_groups: tuple[str, ...]
    window: Window
    examples: tuple[Example, ...] = ()
    description: str = ""
    path: str = ""
    line: int = 1

    @property
    def scopes(self) -> dict[str, str]:
        """The groups given a ``scope``, with it."""
        return {name: group.scope for name, group in self.groups.items() if group.scope}


@dataclass(frozen=True)
class ListEntry:
    name: str
    aliases: tuple[str, ...] = ()
    source: str | None = None

    @property
    def terms(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class TermList:
    name: str
    entries: tuple[ListEntry, ...]
    description: str = ""
    source: str | None = None
    path: str = ""

    @property
    def term_count(self) -> int:
        return sum(len(entry.terms) for entry in self.entries)


@dataclass(frozen=True)
class TermSource:
    """Where a set of terms comes from: a list, or one rule's own group."""

    label: str
    terms: tuple[str, ...] = ()
    regex: str | None = None


@dataclass(frozen=True)
class RuleHit(Hit):
    """A Hit that also says whether its rule is active (alerts) or in test (recorded only)."""

    status: str = "active"

    @property
    def alerts(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class Catalog:
    """Everything loaded from a rules folder, before compilation."""

    rules: tuple[Rule, ...]
    lists: Mapping[str, TermList]
    sources: tuple[TermSource, ...] = field(default=())
