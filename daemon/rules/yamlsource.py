"""YAML documents with the line of every key and value, and JSON Schema problems at those lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match
from yaml.constructor import SafeConstructor

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
    """Plain data from one YAML file, and its node tree for finding the line (1-based) of any
    value or key; lines are looked up only when asked for, usually to report a problem."""

    path: str
    data: Any
    root: yaml.Node | None = None

    def line(self, location: Location) -> int:
        """The line of the value at ``location``, or of the nearest enclosing value."""
        node = self.root
        if node is None:
            return 1
        for part in location:
            child = _child(node, part)
            if child is None:
                break
            node = child[1]
        return node.start_mark.line + 1

    def key_line(self, location: Location) -> int:
        """The line of the mapping key at ``location`` (else as ``line``)."""
        parent = self.root
        for part in location[:-1]:
            found = _child(parent, part) if parent is not None else None
            parent = found[1] if found else None
        found = _child(parent, location[-1]) if parent is not None and location else None
        if found is None or found[0] is None:
            return self.line(location)
        return found[0].start_mark.line + 1

    def problem(self, location: Location, message: str) -> RuleProblem:
        return RuleProblem(self.path, self.line(location), message)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    """(key node, value node) of ``part`` in a mapping (the last of duplicate keys), or
    (None, item) in a sequence; None when there is no such entry."""
    if isinstance(node, yaml.MappingNode):
        found = None
        for key_node, value_node in node.value:
            key = _key(key_node)
            if _is_text_key(key) and key == part:
                found = (key_node, value_node)
        return found
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part >= 0:
        return (None, node.value[part]) if part < len(node.value) else None
    return None


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
    finally:
        loader.dispose()
    problems: list[RuleProblem] = []
    document = YamlDocument(shown_path, None, node)
    try:
        if node is not None:
            document.data = _convert(node, shown_path, problems)
    except yaml.YAMLError as error:
        return None, [RuleProblem(shown_path, 1, f"YAML error: {error}")]
    return document, problems


_STR_TAG = "tag:yaml.org,2002:str"


def _scalar(node: yaml.Node) -> Any:
    if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
        return node.value
    return SafeConstructor().construct_object(node, deep=True)


_key = _scalar


def _is_text_key(key: Any) -> bool:
    return isinstance(key, str | int | float | bool) and key is not None


def _convert(node: yaml.Node, path: str, problems: list[RuleProblem]) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return node.value if node.tag == _STR_TAG else _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path, problems) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _key(key_node)
            if not _is_text_key(key):
                problems.append(
                    RuleProblem(path, key_node.start_mark.line + 1, "keys must be text")
                )
                continue
            if key in mapping:
                problems.append(
                    RuleProblem(path, key_node.start_mark.line + 1, f"duplicate key {key!r}")
                )
            mapping[key] = _convert(value_node, path, problems)
        return mapping
    return _scalar(node)


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
