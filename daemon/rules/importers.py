"""Term list entries from public sanctions lists: UN consolidated XML, OFAC SDN (CSV or XML),
OpenSanctions FollowTheMoney JSON lines. Weak or low-quality aliases are left out: in news text
they cause more false alerts than they find."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator
from pathlib import Path

from daemon.rules.compiler import TermError, parse_term
from daemon.rules.model import ListEntry
from daemon.rules.normalize import is_cjk, is_hangul

MIN_NAME_LENGTH = 4
MIN_SYLLABIC_NAME_LENGTH = 2
_OFAC_NULL = "-0-"
_PATRONYMIC_ENDINGS = ("vich", "vna", "ichna", "ich", "ogly", "oglu", "kyzy")
_FTM_SCHEMAS = frozenset(
    {"Person", "Organization", "Company", "LegalEntity", "PublicBody", "Vessel", "Airplane"}
)
_FTM_NAME_PROPERTIES = ("alias", "previousName")
FORMATS = {
    "un": "UN Security Council consolidated list",
    "ofac": "OFAC SDN list",
    "opensanctions": "OpenSanctions (FollowTheMoney)",
}


class ImportFormatError(ValueError):
    """The source is not in the format asked for."""


def import_entries(fmt: str, source: Path) -> tuple[list[ListEntry], str]:
    """Entries (name plus aliases) read from ``source`` in format ``fmt``, and the origin label."""
    readers = {"un": _read_un, "ofac": _read_ofac, "opensanctions": _read_ftm}
    if fmt not in readers:
        raise ImportFormatError(f"unknown format {fmt!r}; use one of {', '.join(readers)}")
    return list(_clean(readers[fmt](source))), FORMATS[fmt]


def _usable(name: str) -> bool:
    try:
        key = parse_term(name).key
    except TermError:
        return False
    letters = key.replace(" ", "")
    syllabic = all(is_cjk(c) or is_hangul(c) for c in letters)
    return len(letters) >= (MIN_SYLLABIC_NAME_LENGTH if syllabic else MIN_NAME_LENGTH)


def _clean(entries: Iterable[ListEntry]) -> Iterator[ListEntry]:
    """Drop unusable names, duplicate aliases, and wildcard characters that came with the data."""
    for entry in entries:
        names = [" ".join(n.replace("*", " ").split()) for n in entry.terms]
        usable = [n for n in dict.fromkeys(names) if n and _usable(n)]
        if usable:
            yield ListEntry(usable[0], tuple(usable[1:]), entry.source)


def _person_names(*parts: str) -> list[str]:
    """A name from its parts (first to fourth name), in the order the list gives them."""
    parts_present = [p.strip() for p in parts if p and p.strip()]
    return [" ".join(parts_present)] if parts_present else []


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: ElementTree.Element, child: str) -> str:
    for item in element:
        if _local(item.tag) == child:
            return (item.text or "").strip()
    return ""


def _parse_xml(source: Path) -> ElementTree.Element:
    try:
        return ElementTree.parse(source).getroot()
    except ElementTree.ParseError as error:
        raise ImportFormatError(f"not well-formed XML: {error}") from None


def _read_un(source: Path) -> Iterator[ListEntry]:
    root = _parse_xml(source)
    if _local(root.tag) != "CONSOLIDATED_LIST":
        raise ImportFormatError("expected a UN CONSOLIDATED_LIST document")
    for record in root.iter():
        kind = _local(record.tag)
        if kind not in ("INDIVIDUAL", "ENTITY"):
            continue
        parts = [_text(record, f"{n}_NAME") for n in ("FIRST", "SECOND", "THIRD", "FOURTH")]
        names = _person_names(*parts)
        original = _text(record, "NAME_ORIGINAL_SCRIPT")
        if original:
            names.append(original)
        for alias in record:
            if _local(alias.tag) not in ("INDIVIDUAL_ALIAS", "ENTITY_ALIAS"):
                continue
            if _text(alias, "QUALITY").lower() in ("low", "weak"):
                continue
            if name := _text(alias, "ALIAS_NAME"):
                names.append(name)
        if names:
            reference = _text(record, "REFERENCE_NUMBER") or _text(record, "DATAID")
            yield ListEntry(names[0], tuple(names[1:]), f"UN {reference}".strip())


def _read_ofac(source: Path) -> Iterator[ListEntry]:
    if source.suffix.lower() == ".xml":
        yield from _read_ofac_xml(source)
    else:
        yield from _read_ofac_csv(source)


def _ofac_individual(name: str) -> list[str]:
    """OFAC writes people as 'FAMILY, Given Names'; news writes both orders, and Russian names
    often without the patronymic ('Sergei SHOIGU')."""
    family, _, given = name.partition(",")
    if not given.strip():
        return [name.strip()]
    family, given = family.strip(), given.strip()
    names = [f"{given} {family}", f"{family} {given}"]
    given_words = given.split()
    if len(given_words) > 1 and given_words[-1].lower().endswith(_PATRONYMIC_ENDINGS):
        names.append(f"{given_words[0]} {family}")
    return names


def _read_ofac_csv(source: Path) -> Iterator[ListEntry]:
    aliases: dict[str, list[str]] = {}
    alt_path = source.with_name("alt.csv")
    with source.open(encoding="utf-8", errors="replace", newline="") as rows:
        records = [row for row in csv.reader(rows) if row and row[0].strip().isdigit()]
    if not records or any(len(row) < 4 for row in records):
        raise ImportFormatError("expected OFAC sdn.csv rows: ent_num, SDN_Name, SDN_Type, …")
    if alt_path.is_file():
        with alt_path.open(encoding="utf-8", errors="replace", newline="") as rows:
            for row in csv.reader(rows):
                if len(row) >= 4 and row[0].strip().isdigit() and row[3].strip() != _OFAC_NULL:
                    aliases.setdefault(row[0].strip(), []).append(row[3].strip())
    for row in records:
        number, name, kind = row[0].strip(), row[1].strip(), row[2].strip().lower()
        person = kind == "individual"
        names = _ofac_individual(name) if person else [name]
        for alias in aliases.get(number, ()):
            names += _ofac_individual(alias) if person else [alias]
        program = row[3].strip()
        yield ListEntry(names[0], tuple(names[1:]), f"OFAC SDN {number} {program}".strip())


def _read_ofac_xml(source: Path) -> Iterator[ListEntry]:
    root = _parse_xml(source)
    if _local(root.tag) != "sdnList":
        raise ImportFormatError("expected an OFAC sdnList document")
    for record in root:
        if _local(record.tag) != "sdnEntry":
            continue
        person = _text(record, "sdnType").lower() == "individual"
        names = [_xml_name(record, person)]
        for aka_list in record:
            if _local(aka_list.tag) != "akaList":
                continue
            for aka in aka_list:
                if _text(aka, "category").lower() == "weak":
                    continue
                names.append(_xml_name(aka, person))
        flat = [n for group in names for n in group]
        if flat:
            yield ListEntry(flat[0], tuple(flat[1:]), f"OFAC SDN {_text(record, 'uid')}")


def _xml_name(element: ElementTree.Element, person: bool) -> list[str]:
    last, first = _text(element, "lastName"), _text(element, "firstName")
    if person and first:
        return _ofac_individual(f"{last}, {first}")
    return [n for n in (last or first,) if n]


def _read_ftm(source: Path) -> Iterator[ListEntry]:
    with source.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                schema, properties = record["schema"], record.get("properties", {})
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ImportFormatError(
                    f"line {number}: expected a FollowTheMoney entity (schema, properties)"
                ) from None
            if schema not in _FTM_SCHEMAS:
                continue
            names = list(properties.get("name", []))
            for key in _FTM_NAME_PROPERTIES:
                names += properties.get(key, [])
            if names:
                yield ListEntry(names[0], tuple(names[1:]), f"OpenSanctions {record.get('id', '')}")
