"""``rules backtest`` against a real SQLite store, and ``lists import`` through the real command."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clirun import sanctionwatch
from test_rules_support import dprk_rules

from daemon.models import Hit, Match, Story
from daemon.rules import load_rulebook
from daemon.rules.backtest import StoryChange, compare_alerts
from daemon.rules.commands import backtest
from daemon.store import Store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lists"
NOW = datetime.now(UTC).replace(microsecond=0)

GIFT = "Putin gifts Kim Jong Un a Russian-made Aurus limousine"
SEDAN = "Aurus unveils a new Senat sedan at the Moscow motor show"
WEATHER = "Rain expected in Geneva on Tuesday"


def _story(story_id: str, title: str) -> Story:
    return Story(id=story_id, feed_url="http://feeds.example/a.xml", title=title)


def _hit(rule_id: str) -> Hit:
    return Hit(
        rule_id, rule_id, "luxury_goods", "high", None, (), (Match("g", "t", "t", "title", 0, 1),)
    )


def test_compare_alerts_lists_gained_and_lost_stories_in_examined_order() -> None:
    titles = {"a": "A", "b": "B", "c": "C", "d": "D"}
    would = {"a": {"r2", "r1"}, "b": {"r1"}, "x": {"r1"}, "d": set()}
    alerted = {"b": {"r3"}, "c": {"r1"}, "y": {"r1"}}
    report = compare_alerts(titles, would, alerted)
    assert (report.examined, report.would_alert, report.alerted) == (4, 2, 2)
    assert report.newly_alerting == (StoryChange("a", "A", ("r1", "r2")),)
    assert report.no_longer_alerting == (StoryChange("c", "C", ("r1",)),)


def test_compare_alerts_with_nothing_to_compare() -> None:
    report = compare_alerts({}, {}, {})
    assert (report.examined, report.would_alert, report.alerted) == (0, 0, 0)
    assert report.to_json_lines() == [
        {
            "type": "summary",
            "examined": 0,
            "would_alert": 0,
            "alerted": 0,
            "newly_alerting": 0,
            "no_longer_alerting": 0,
        }
    ]


@pytest.fixture
def store(sqlite_url: str) -> Store:
    """Four stories seen a day ago and one seen 40 days ago. The gift story was not alerted
    (its rule was new); the sedan story was alerted by a rule that no longer fires; the
    weather story was recorded quietly by a rule in test."""
    store = Store.connect(sqlite_url)
    store.upgrade()
    day_ago, long_ago = NOW - timedelta(days=1), NOW - timedelta(days=40)
    store.save_stories([_story("old", GIFT)], long_ago)
    store.record_hits(_story("old", GIFT), [_hit("old-rule")], long_ago, enqueue=True)
    stories = [_story("gift", GIFT), _story("sedan", SEDAN), _story("weather", WEATHER)]
    store.save_stories(stories, day_ago)
    store.record_hits(stories[1], [_hit("aurus-any")], day_ago, enqueue=True)
    store.record_hits(stories[2], [_hit("trial-rule")], day_ago, enqueue=False)
    yield store
    store.close()


def test_history_gives_recent_stories_and_only_the_rules_that_alerted(store: Store) -> None:
    since = NOW - timedelta(days=30)
    assert [s.id for s in store.stories_since(since)] == ["gift", "sedan", "weather"]
    assert [s.title for s in store.stories_since(since)] == [GIFT, SEDAN, WEATHER]
    assert store.recorded_rules_since(since) == {"sedan": {"aurus-any"}}
    assert store.recorded_rules_since(NOW - timedelta(days=60)) == {
        "old": {"old-rule"},
        "sedan": {"aurus-any"},
    }
    assert store.stories_since(NOW) == []


def test_backtest_compares_the_rules_with_what_the_store_says_alerted(
    store: Store, tmp_path: Path
) -> None:
    rules = dprk_rules(tmp_path / "rules")
    since = NOW - timedelta(days=30)
    stories, recorded = store.stories_since(since), store.recorded_rules_since(since)

    out = io.StringIO()
    assert backtest(rules, stories, recorded, out, "jsonl") == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {
            "type": "summary",
            "examined": 3,
            "would_alert": 1,
            "alerted": 1,
            "newly_alerting": 1,
            "no_longer_alerting": 1,
        },
        {"type": "newly_alerting", "id": "gift", "title": GIFT, "rules": ["dprk-luxury-goods"]},
        {"type": "no_longer_alerting", "id": "sedan", "title": SEDAN, "rules": ["aurus-any"]},
    ]

    table = io.StringIO()
    assert backtest(rules, stories, recorded, table, "table") == 0
    text = table.getvalue()
    assert "3 stories examined: 1 would alert, 1 alerted" in text
    assert "newly alerting: 1" in text and "no longer alerting: 1" in text
    assert "dprk-luxury-goods" in text and "aurus-any" in text and WEATHER not in text


def test_backtest_counts_only_active_rules_as_alerting(store: Store, tmp_path: Path) -> None:
    rules = dprk_rules(tmp_path / "rules")
    rule_file = rules / "dprk" / "luxury.yaml"
    rule_file.write_text(rule_file.read_text().replace("severity: high", "status: test"))
    assert load_rulebook(rules).rules[0].status == "test"
    since = NOW - timedelta(days=30)
    out = io.StringIO()
    backtest(rules, store.stories_since(since), store.recorded_rules_since(since), out, "jsonl")
    summary = json.loads(out.getvalue().splitlines()[0])
    assert (summary["would_alert"], summary["newly_alerting"]) == (0, 0)


def test_backtest_with_broken_rules_exits_2(tmp_path: Path) -> None:
    rules = dprk_rules(tmp_path / "rules", **{"bad.yaml": "id: bad\ntitle: [unclosed\n"})
    err = io.StringIO()
    assert backtest(rules, [], {}, io.StringIO(), "table", err) == 2
    assert "bad.yaml:3: YAML syntax error" in err.getvalue()


def test_rules_backtest_command(store: Store, sqlite_url: str, tmp_path: Path) -> None:
    rules = dprk_rules(tmp_path / "rules")
    env = {"SANCTIONWATCH_DATABASE_URL": sqlite_url, "SANCTIONWATCH_RULES": str(rules)}
    result = sanctionwatch("rules", "backtest", "--format", "jsonl", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[0])
    assert (summary["examined"], summary["newly_alerting"]) == (3, 1)

    result = sanctionwatch("rules", "backtest", "--since", "60d", str(rules), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "4 stories examined: 2 would alert, 2 alerted" in result.stdout

    result = sanctionwatch("rules", "backtest", "--since", "soon", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "--since" in result.stderr


def _watch_rules(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "watch.yaml").write_text(
        "id: sanctioned-names\ntitle: A sanctioned name\ncategory: sanctioned_leader\n"
        "terms:\n  name: {list: imported}\ncondition: name\nwindow: story\n",
        encoding="utf-8",
    )
    return root


def test_lists_import_command_writes_a_list_the_rules_use(tmp_path: Path) -> None:
    rules = _watch_rules(tmp_path / "rules")
    env = {"SANCTIONWATCH_RULES": str(rules)}
    source = str(FIXTURES / "un_consolidated.xml")
    result = sanctionwatch("lists", "import", "un", source, "imported", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (rules / "lists" / "imported.yaml").is_file()
    assert "entries" in result.stderr

    check = sanctionwatch("rules", "check", env=env, cwd=tmp_path)
    assert check.returncode == 0, check.stdout
    rulebook = load_rulebook(rules)
    (hit,) = rulebook.match(_story("s", "KOMID ships parts to Tehran"))
    assert [m.text for m in hit.matches] == ["KOMID"]


def test_lists_import_command_out_and_mistakes(tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "people.yaml"
    source = str(FIXTURES / "opensanctions.jsonl")
    args = ("lists", "import", "opensanctions", source, "people", "--out", str(out))
    result = sanctionwatch(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8").count("- name:") >= 1

    missing = sanctionwatch("lists", "import", "un", str(tmp_path / "none.xml"), "x", cwd=tmp_path)
    assert missing.returncode == 1 and "none.xml" in missing.stderr
    bad_name = sanctionwatch("lists", "import", "un", source, "../escape", cwd=tmp_path)
    assert bad_name.returncode == 2 and "list name" in bad_name.stderr
    bad_format = sanctionwatch("lists", "import", "csv", source, "x", cwd=tmp_path)
    assert bad_format.returncode == 2 and "invalid choice" in bad_format.stderr
