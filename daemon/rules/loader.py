"""Loading a rules folder: rule files, term lists, and every problem at its file and line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daemon.errors import RuleProblem
from daemon.models import Story
from daemon.rules.compiler import TermError, collector_paused, compile_regex, parse_term
from daemon.rules.condition import (
    ConditionError,
    evaluate,
    group_names,
    parse_condition,
    positive_names,
)
from daemon.rules.listfile import load_list
from daemon.rules.model import (
    FIELDS,
    Catalog,
    Example,
    GroupSpec,
    Rule,
    TermList,
    TermSource,
    Window,
)
from daemon.rules.yamlsource import YamlDocument, read_yaml, schema_problems

LISTS_FOLDER = "lists"
_SUFFIXES = (".yaml", ".yml")


def find_files(root: Path) -> tuple[list[Path], list[Path]]:
    """Rule files and list files under ``root``; a single rule file takes lists from its
    nearest enclosing folder that has a ``lists/`` folder."""
    if root.is_file():
        for folder in root.resolve().parents:
            if (folder / LISTS_FOLDER).is_dir():
                return [root], _yaml_files(folder / LISTS_FOLDER)
        return [root], []
    lists_folder = root / LISTS_FOLDER
    rules = [
        path
        for path in _yaml_files(root)
        if lists_folder not in path.parents and not _hidden(path.relative_to(root))
    ]
    return rules, _yaml_files(lists_folder) if lists_folder.is_dir() else []


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in _SUFFIXES and p.is_file())


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def load_catalog(root: Path) -> tuple[Catalog, list[RuleProblem]]:
    """Read and validate everything under ``root``; returns what loaded and every problem."""
    with collector_paused():
        return _load_catalog(root)


def _load_catalog(root: Path) -> tuple[Catalog, list[RuleProblem]]:
    problems: list[RuleProblem] = []
    if not root.exists():
        return Catalog((), {}), [RuleProblem(str(root), 1, "no such file or folder")]
    rule_paths, list_paths = find_files(root)
    lists: dict[str, TermList] = {}
    for path in list_paths:
        term_list = load_list(path, problems)
        if term_list is None:
            continue
        if term_list.name in lists:
            problems.append(
                RuleProblem(
                    str(path),
                    1,
                    f"list {term_list.name!r} also defined in {lists[term_list.name].path}",
                )
            )
            continue
        lists[term_list.name] = term_list
    builder = _RuleBuilder(lists, {path.stem for path in list_paths})
    rules: list[Rule] = []
    seen: dict[str, Rule] = {}
    for path in rule_paths:
        document, found = read_yaml(path, str(path))
        problems.extend(found)
        if document is None or document.data is None:
            if document is not None:
                problems.append(RuleProblem(str(path), 1, "file is empty"))
            continue
        rule = builder.build(document, problems)
        if rule is None:
            continue
        if rule.id in seen:
            first = seen[rule.id]
            problems.append(
                RuleProblem(
                    str(path),
                    document.line(("id",)),
                    f"duplicate rule id {rule.id!r}, first defined at {first.path}:{first.line}",
                )
            )
            continue
        seen[rule.id] = rule
        rules.append(rule)
    return Catalog(tuple(rules), lists, tuple(builder.sources)), problems


class _RuleBuilder:
    """Turns validated rule documents into Rules, numbering the term sources they use."""

    def __init__(self, lists: Mapping[str, TermList], list_files: set[str]) -> None:
        self.lists = lists
        self.list_files = list_files
        self.sources: list[TermSource] = []
        self.list_sources: dict[str, int] = {}

    def _list_source(self, name: str) -> int:
        if name not in self.list_sources:
            self.list_sources[name] = len(self.sources)
            terms = tuple(t for entry in self.lists[name].entries for t in entry.terms)
            self.sources.append(TermSource(f"list {name}", terms))
        return self.list_sources[name]

    def _new_source(self, source: TermSource) -> int:
        self.sources.append(source)
        return len(self.sources) - 1

    def build(self, document: YamlDocument, problems: list[RuleProblem]) -> Rule | None:
        schema_found = schema_problems(document, "rule.schema.json")
        if schema_found:
            problems.extend(schema_found)
            return None
        data: dict[str, Any] = document.data
        before = len(problems)
        rule_fields = tuple(data.get("fields", FIELDS))
        groups = {
            name: self._group(document, rule_fields, data["id"], name, spec, problems)
            for name, spec in data["terms"].items()
        }
        try:
            condition = parse_condition(data["condition"])
        except ConditionError as error:
            problems.append(
                document.problem(("condition",), f"condition, column {error.column}: {error}")
            )
            return None
        known = ", ".join(groups)
        named = group_names(condition)
        for name in named:
            if name not in groups:
                problems.append(
                    document.problem(
                        ("condition",), f"condition names unknown group {name!r} (groups: {known})"
                    )
                )
        for name in groups:
            if name not in named:
                problems.append(
                    RuleProblem(
                        document.path,
                        document.key_line(("terms", name)),
                        f"group {name!r} is not used in the condition",
                    )
                )
        positive = positive_names(condition)
        if not positive:
            problems.append(
                document.problem(("condition",), "condition needs a group that is not under 'not'")
            )
        elif evaluate(condition, set(), set(), _scopes(groups)):
            problems.append(
                document.problem(("condition",), "condition holds on a story that matches nothing")
            )
        try:
            window = Window.parse(data.get("window", "sentence"))
        except ValueError as error:
            problems.append(document.problem(("window",), str(error)))
            return None
        if len(problems) > before:
            return None
        return Rule(
            id=data["id"],
            title=data["title"],
            category=data["category"],
            severity=data.get("severity", "medium"),
            status=data.get("status", "active"),
            channel=data.get("channel"),
            references=tuple(data.get("references", ())),
            fields=rule_fields,
            groups={name: group for name, group in groups.items() if group is not None},
            condition=condition,
            condition_text=data["condition"],
            positive_groups=tuple(positive),
            window=window,
            examples=_examples(document),
            description=data.get("description", ""),
            path=document.path,
            line=document.line(("id",)),
        )

    def _group(
        self,
        document: YamlDocument,
        rule_fields: tuple[str, ...],
        rule_id: str,
        name: str,
        spec: Any,
        problems: list[RuleProblem],
    ) -> GroupSpec | None:
        location: tuple[str | int, ...] = ("terms", name)
        if isinstance(spec, list):
            spec = {"terms": spec}
            term_location: tuple[str | int, ...] = location
        else:
            term_location = (*location, "terms")
        label = f"{rule_id}.{name}"
        lists_found = self._list_sources(document, location, spec, ("list", "lists"), problems)
        sources = lists_found + self._own_terms(
            document, term_location, label, spec.get("terms", []), problems
        )
        if "regex" in spec:
            try:
                compile_regex(spec["regex"])
                sources.append(self._new_source(TermSource(label, regex=spec["regex"])))
            except TermError as error:
                problems.append(document.problem((*location, "regex"), str(error)))
        unless_terms = spec.get("unless", [])
        unless = self._list_sources(document, location, spec, (None, "unless_lists"), problems)
        unless += self._own_terms(
            document, (*location, "unless"), f"{label} unless", unless_terms, problems
        )
        own_terms = {parse_term(term) for term in spec.get("terms", []) if _usable(term)}
        for index, phrase in enumerate(unless_terms):
            if _usable(phrase) and parse_term(phrase) in own_terms:
                problems.append(
                    document.problem(
                        (*location, "unless", index),
                        f"unless {phrase!r} is also a term of group {name!r}: "
                        "it would cancel every match of that term",
                    )
                )
        group_fields = tuple(f for f in spec.get("fields", rule_fields) if f in rule_fields)
        if not group_fields:
            problems.append(
                document.problem(
                    (*location, "fields"), f"group {name!r} looks at no field the rule looks at"
                )
            )
        return GroupSpec(
            name,
            tuple(sources),
            group_fields,
            document.line(location),
            spec.get("scope"),
            tuple(dict.fromkeys(unless)),
        )

    def _list_sources(
        self,
        document: YamlDocument,
        location: tuple[str | int, ...],
        spec: dict[str, Any],
        keys: tuple[str | None, str],
        problems: list[RuleProblem],
    ) -> list[int]:
        """The sources of the lists a group names under ``keys`` (one list, a list of lists)."""
        single, several = keys
        list_refs: list[tuple[tuple[str | int, ...], str]] = []
        if single is not None and single in spec:
            list_refs.append(((*location, single), spec[single]))
        list_refs += [
            ((*location, several, index), list_name)
            for index, list_name in enumerate(spec.get(several, []))
        ]
        sources: list[int] = []
        for at, list_name in list_refs:
            if list_name in self.list_files and list_name not in self.lists:
                continue
            if list_name not in self.lists:
                available = ", ".join(sorted(self.lists)) or "none"
                problems.append(
                    document.problem(at, f"unknown list {list_name!r} (lists: {available})")
                )
                continue
            sources.append(self._list_source(list_name))
        return sources

    def _own_terms(
        self,
        document: YamlDocument,
        location: tuple[str | int, ...],
        label: str,
        terms: list[str],
        problems: list[RuleProblem],
    ) -> list[int]:
        for index, term in enumerate(terms):
            try:
                parse_term(term)
            except TermError as error:
                problems.append(document.problem((*location, index), str(error)))
        return [self._new_source(TermSource(label, tuple(terms)))] if terms else []


def _scopes(groups: Mapping[str, GroupSpec | None]) -> dict[str, str]:
    return {name: group.scope for name, group in groups.items() if group and group.scope}


def _usable(term: str) -> bool:
    try:
        parse_term(term)
    except TermError:
        return False
    return True


def _examples(document: YamlDocument) -> tuple[Example, ...]:
    examples: list[Example] = []
    for kind in ("alert", "quiet"):
        for index, raw in enumerate(document.data.get("examples", {}).get(kind, [])):
            line = document.line(("examples", kind, index))
            fields = {"title": raw} if isinstance(raw, str) else raw
            story = Story(
                id=f"{document.path}:{line}",
                feed_url="example",
                title=fields.get("title", ""),
                summary=fields.get("summary", ""),
                content=fields.get("content", ""),
            )
            examples.append(Example(story, kind == "alert", line))
    return tuple(examples)
