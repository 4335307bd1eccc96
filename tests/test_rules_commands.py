from __future__ import annotations

import io
import json
from pathlib import Path

from test_rules_support import dprk_rules, write_rules

from daemon.rules.commands import evaluate_files, rules_test

STORIES = [
    {
        "id": "1",
        "title": "Putin gifts <b>Kim Jong-un</b> an Aurus limousine",
        "summary": "",
        "language": "en",
        "link": "https://example.org/1",
        "published": "2024-02-19",
    },
    {"id": "2", "title": "Aurus unveils a new sedan", "summary": "Nothing else.", "language": "en"},
    {
        "id": "3",
        "title": "普京向金正恩赠送豪华轿车",
        "summary": "",
        "content": "",
        "language": "zh",
    },
]


def _jsonl(records: list[dict]) -> io.StringIO:
    return io.StringIO("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def test_jsonl_contract(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert rules_test(dprk_rules(tmp_path), _jsonl(STORIES), out, "jsonl", err) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["id"] for line in lines] == ["1", "2", "3"]
    first = lines[0]
    assert list(first) == ["id", "alert", "categories", "hits"]
    assert first["alert"] is True and first["categories"] == ["luxury_goods"]
    (hit,) = first["hits"]
    assert list(hit) == ["rule", "category", "severity", "matches"]
    assert (hit["rule"], hit["category"], hit["severity"]) == (
        "dprk-luxury-goods",
        "luxury_goods",
        "high",
    )
    assert {
        "group": "dprk",
        "term": "Kim Jong Un",
        "text": "Kim Jong-un",
        "field": "title",
        "start": 15,
        "end": 26,
    } in hit["matches"]
    for match in hit["matches"]:
        assert list(match) == ["group", "term", "text", "field", "start", "end"]
        assert STORIES[0][match["field"]][match["start"] : match["end"]] == match["text"]
    assert lines[1] == {"id": "2", "alert": False, "categories": [], "hits": []}
    assert lines[2]["alert"] is True
    assert err.getvalue() == ""


def test_bad_lines_are_named_and_the_rest_still_run(tmp_path: Path) -> None:
    source = io.StringIO(
        json.dumps(STORIES[1])
        + "\n{not json\n\n"
        + json.dumps({"title": "no id"})
        + "\n"
        + json.dumps(STORIES[0])
        + "\n"
    )
    out, err = io.StringIO(), io.StringIO()
    assert rules_test(dprk_rules(tmp_path), source, out, "jsonl", err) == 1
    assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == ["2", "1"]
    assert "line 2: not a story" in err.getvalue()
    assert "line 4: not a story" in err.getvalue()


def test_text_format_explains_and_highlights(tmp_path: Path) -> None:
    out = io.StringIO()
    assert rules_test(dprk_rules(tmp_path), _jsonl(STORIES[:2]), out, "text", io.StringIO()) == 0
    text = out.getvalue()
    assert "1: ALERT" in text and "rule dprk-luxury-goods [luxury_goods, high]" in text
    assert "dprk: 'Kim Jong-un' (Kim Jong Un)" in text
    assert "title: Putin **gifts** <b>**Kim Jong-un**</b> an **Aurus** **limousine**" in text
    assert "2: quiet" in text and "no rule matched" in text


def test_unloadable_rules_exit_2_with_problems(tmp_path: Path) -> None:
    root = write_rules(tmp_path, {"bad.yaml": "id: x\n"})
    err = io.StringIO()
    assert rules_test(root, _jsonl(STORIES), io.StringIO(), "jsonl", err) == 2
    assert "bad.yaml:1:" in err.getvalue()


def test_evaluate_files_json_and_table(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.jsonl"
    records = [dict(STORIES[0], labels=["luxury_goods"]), dict(STORIES[1], labels=[])]
    labelled.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    rules = dprk_rules(tmp_path / "rules")
    out = io.StringIO()
    assert evaluate_files(rules, [labelled], out, "json") == 0
    report = json.loads(out.getvalue())
    assert report["alert"]["precision"] == 1.0 and report["alert"]["recall"] == 1.0
    assert report["misjudged"] == []
    table = io.StringIO()
    assert evaluate_files(rules, [labelled], table, "table") == 0
    assert "should alert" in table.getvalue() and "1.000" in table.getvalue()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    err = io.StringIO()
    assert evaluate_files(rules, [bad], io.StringIO(), "json", err) == 1
    assert "bad.jsonl:1" in err.getvalue()
