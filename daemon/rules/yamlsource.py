"""YAML documents with the line of every key and value, and JSON Schema problems at those lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match

from daemon.errors import RuleProblem

Location = tuple[str | int, ...]


_BASE_LOADER = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _Loader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """Safe YAML (libyaml when available) where only true/false are booleans: ``id: off`` or a
    term ``no`` stay text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass
class YamlDocument:
    """Plain data from one YAML file; ``lines`` maps a location to its value's line (1-based),
    ``key_lines`` a mapping key's location to the key's own line."""

    path: str
    data: Any
    lines: dict[Location, int] = field(default_factory=dict)
    key_lines: dict[Location, int] = field(default_factory=dict)

    def line(self, location: Location) -> int:
        location = tuple(location)
        while location and location not in self.lines:
            location = location[:-1]
        return self.lines.get(location, 1)

    def key_line(self, location: Location) -> int:
        return self.key_lines.get(tuple(location)) or self.line(location)

    def problem(self, location: Location, message: str) -> RuleProblem:
        return RuleProblem(self.path, self.line(location), message)


def read_yaml(path: Path, shown_path: str) -> tuple[YamlDocument | None, list[RuleProblem]]:
    """Parse one file; a syntax error is a problem at the line the parser names."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [RuleProblem(shown_path, 1, f"cannot read file: {error}")]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        return None, [RuleProblem(shown_path, line, f"YAML syntax error: {error.problem}")]
    except yaml.YAMLError as error:
        return None, [RuleProblem(shown_path, 1, f"YAML error: {error}")]
    problems: list[RuleProblem] = []
    document = YamlDocument(shown_path, None)
    try:
        if node is not None:
            document.data = _convert(node, (), document, problems, loader)
    except yaml.YAMLError as error:
        return None, [RuleProblem(shown_path, 1, f"YAML error: {error}")]
    finally:
        loader.dispose()
    return document, problems


def _convert(
    node: yaml.Node,
    location: Location,
    document: YamlDocument,
    problems: list[RuleProblem],
    loader: _Loader,
) -> Any:
    document.lines[location] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                problems.append(
                    RuleProblem(document.path, key_node.start_mark.line + 1, "keys must be text")
                )
                continue
            if key in mapping:
                problems.append(
                    RuleProblem(
                        document.path, key_node.start_mark.line + 1, f"duplicate key {key!r}"
                    )
                )
            document.key_lines[(*location, key)] = key_node.start_mark.line + 1
            mapping[key] = _convert(value_node, (*location, key), document, problems, loader)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*location, index), document, problems, loader)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """One of the JSON Schemas shipped beside this module (rule.schema.json, list.schema.json)."""
    text = resources.files("daemon.rules").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(name))


def schema_problems(document: YamlDocument, schema_name: str) -> list[RuleProblem]:
    """Every place where the document breaks the schema, at the line of the offending key/value."""
    problems = [_describe(document, error) for error in _innermost(document, schema_name)]
    unique: dict[tuple[int, str], RuleProblem] = {}
    for problem in problems:
        unique.setdefault((problem.line, problem.detail), problem)
    return sorted(unique.values(), key=lambda p: p.line)


def _innermost(document: YamlDocument, schema_name: str) -> Iterator[ValidationError]:
    for error in _validator(schema_name).iter_errors(document.data):
        while error.context:
            error = best_match(_plausible_branches(error))
        yield error


def _plausible_branches(error: ValidationError) -> list[ValidationError]:
    """Errors of the oneOf/anyOf branches that accept the value's type (the branch meant)."""
    wrong_type = [
        e for e in error.context if e.validator == "type" and e.absolute_path == error.absolute_path
    ]
    meant = [e for e in error.context if e not in wrong_type]
    return meant or list(error.context)


def _where(path: Location) -> str:
    return ".".join(str(part) for part in path) or "file"


def _describe(document: YamlDocument, error: ValidationError) -> RuleProblem:
    path = tuple(error.absolute_path)
    where = _where(path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        extra = [key for key in error.instance if key not in known]
        key = extra[0] if extra else ""
        hint = f"; known: {', '.join(known)}" if known else ""
        return RuleProblem(
            document.path, document.key_line((*path, key)), f"{where}: unknown field {key!r}{hint}"
        )
    if error.validator == "required":
        return RuleProblem(document.path, document.line(path), f"{where}: {error.message}")
    if error.validator == "type" and not isinstance(error.instance, dict | list):
        message = f"{error.instance!r} is not text; quote it" if path else error.message
        return RuleProblem(document.path, document.line(path), f"{where}: {message}")
    if error.validator == "propertyNames":
        return RuleProblem(
            document.path,
            document.key_line((*path, error.instance)),
            f"{where}: name {error.instance!r} must be letters, digits, _ or -",
        )
    return RuleProblem(document.path, document.line(path), f"{where}: {error.message}")
