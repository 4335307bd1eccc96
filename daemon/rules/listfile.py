"""Reading one term-list file, ``rules/lists/NAME.yaml``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from daemon.errors import RuleProblem
from daemon.rules.compiler import TermError, parse_term
from daemon.rules.model import ListEntry, TermList
from daemon.rules.yamlsource import read_yaml, schema_problems


def load_list(path: Path, problems: list[RuleProblem]) -> TermList | None:
    """The list in ``path``, or None when it cannot be used; problems go to ``problems``."""
    document, found = read_yaml(path, str(path))
    problems.extend(found)
    if document is None:
        return None
    if document.data is None:
        problems.append(RuleProblem(str(path), 1, "file is empty"))
        return None
    schema_found = [] if _plainly_valid_list(data := document.data) else None
    if schema_found is None:
        schema_found = schema_problems(document, "list.schema.json")
    if schema_found:
        problems.extend(schema_found)
        return None
    name = data.get("name", path.stem)
    if name != path.stem:
        problems.append(
            document.problem(
                ("name",), f"list name {name!r} must match the file name {path.name!r}"
            )
        )
    entries: list[ListEntry] = []
    for index, raw in enumerate(data["entries"]):
        entry = (
            ListEntry(raw)
            if isinstance(raw, str)
            else ListEntry(raw["name"], tuple(raw.get("aliases", ())), raw.get("source"))
        )
        for term_index, term in enumerate(entry.terms):
            location: tuple[str | int, ...] = ("entries", index)
            if term_index:
                location = ("entries", index, "aliases", term_index - 1)
            elif not isinstance(raw, str):
                location = ("entries", index, "name")
            try:
                parse_term(term)
            except TermError as error:
                problems.append(document.problem(location, str(error)))
        entries.append(entry)
    description, source = data.get("description", ""), data.get("source")
    del document, data
    kept = tuple(
        ListEntry(_copy(entry.name), tuple(map(_copy, entry.aliases)), entry.source)
        for entry in entries
    )
    return TermList(name, kept, description, source, str(path))


def _copy(text: str) -> str:
    """A fresh copy of a term. The parser allocates term strings among its node tree; kept as
    they are, a few live terms pin each block of that tree's freed memory and a big list costs
    its parse tree in resident memory for good. Copies made once the tree is gone do not."""
    return text.encode().decode()


_LIST_KEYS = frozenset({"name", "description", "source", "entries"})
_ENTRY_KEYS = frozenset({"name", "aliases", "source", "id", "type", "note"})


def _plainly_valid_list(data: Any) -> bool:
    """A quick check that lets the common, valid list skip JSON Schema validation (which costs
    about a second per 10,000 entries); anything unusual goes to the schema for its messages."""
    if not isinstance(data, dict) or not data.keys() <= _LIST_KEYS:
        return False
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        return False
    if not all(isinstance(data.get(k, ""), str) for k in ("name", "description", "source")):
        return False
    if not re.fullmatch(r"[A-Za-z0-9_-]+", data.get("name", "x")):
        return False
    for entry in entries:
        if isinstance(entry, str):
            if not entry:
                return False
            continue
        if not isinstance(entry, dict) or not entry.keys() <= _ENTRY_KEYS:
            return False
        if not isinstance(entry.get("name"), str) or not entry["name"]:
            return False
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
            return False
        if not all(isinstance(entry.get(k, ""), str) for k in ("source", "id", "type", "note")):
            return False
    return True
