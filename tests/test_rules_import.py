from __future__ import annotations

import io
from pathlib import Path

import pytest
from test_rules_support import story, write_rules

from daemon.rules import load_rulebook
from daemon.rules.commands import lists_import
from daemon.rules.importers import ImportFormatError, import_entries

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lists"

WATCH_RULE = """\
id: sanctioned-names
title: A sanctioned person or company is named
category: sanctioned_leader
terms:
  name: {list: imported}
condition: name
window: story
"""


def _rulebook_with_import(tmp_path: Path, fmt: str, source: Path):
    root = write_rules(tmp_path / "rules", {"watch.yaml": WATCH_RULE})
    assert lists_import(fmt, source, "imported", root / "lists" / "imported.yaml") == 0
    return load_rulebook(root)


def _found(rulebook, title: str) -> list[str]:
    return [m.text for hit in rulebook.match(story(title)) for m in hit.matches]


def test_un_consolidated_names_original_script_and_good_aliases_match(tmp_path: Path) -> None:
    rulebook = _rulebook_with_import(tmp_path, "un", FIXTURES / "un_consolidated.xml")
    assert _found(rulebook, "KOMID ships parts to Tehran") == ["KOMID"]
    assert _found(rulebook, "Choe Chun-sik visits Moscow") == ["Choe Chun-sik"]
    assert _found(rulebook, "최춘식, 모스크바 방문") == ["최춘식"]
    assert _found(rulebook, "Changgwang Sinyong Corporation named in report") != []
    assert _found(rulebook, "Choe wins the marathon") == []


def test_ofac_csv_with_aliases_matches_both_name_orders(tmp_path: Path) -> None:
    rulebook = _rulebook_with_import(tmp_path, "ofac", FIXTURES / "ofac_csv" / "sdn.csv")
    assert _found(rulebook, "Kim Jong-un inspects a factory") == ["Kim Jong-un"]
    assert _found(rulebook, "Sergei Shoigu arrives in Pyongyang") == ["Sergei Shoigu"]
    assert _found(rulebook, "Sergey Shoygu arrives") == ["Sergey Shoygu"]
    assert _found(rulebook, "Jong Kim opens a bakery") == []


def test_ofac_xml_skips_weak_aliases(tmp_path: Path) -> None:
    rulebook = _rulebook_with_import(tmp_path, "ofac", FIXTURES / "sdn.xml")
    assert _found(rulebook, "KOMID front company exposed") == ["KOMID"]
    assert _found(rulebook, "Shoigu Sergei Kuzhugetovich met officials") != []
    assert _found(rulebook, "Sergei Rachmaninoff concert") == []


def test_opensanctions_entities_names_and_aliases_match(tmp_path: Path) -> None:
    rulebook = _rulebook_with_import(tmp_path, "opensanctions", FIXTURES / "opensanctions.jsonl")
    assert _found(rulebook, "Владимир Путин подарил автомобиль") == ["Владимир Путин"]
    assert _found(rulebook, "Tanker Eagle S detained off Finland") == ["Eagle S"]
    assert _found(rulebook, "VVP spotted") == []
    assert _found(rulebook, "Pyongyang weather") == []


def test_wrong_format_is_reported_not_written(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError):
        import_entries("un", FIXTURES / "sdn.xml")
    with pytest.raises(ImportFormatError):
        import_entries("opensanctions", FIXTURES / "un_consolidated.xml")
    out = tmp_path / "x.yaml"
    assert lists_import("ofac", FIXTURES / "opensanctions.jsonl", "x", out) == 1
    assert not out.exists()
    assert lists_import("nope", FIXTURES / "sdn.xml", "x", out) == 1


def test_imported_list_passes_rules_check(tmp_path: Path) -> None:
    from daemon.rules.commands import rules_check

    root = write_rules(tmp_path / "rules", {"watch.yaml": WATCH_RULE})
    lists_import("un", FIXTURES / "un_consolidated.xml", "imported", root / "lists/imported.yaml")
    out = io.StringIO()
    assert rules_check(root, out) == 0
    assert out.getvalue().startswith("OK: 1 rules, 1 lists")
