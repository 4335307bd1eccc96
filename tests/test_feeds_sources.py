"""Feed list: YAML validation with line numbers, saving, OPML import and export."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from daemon.errors import FeedListError
from daemon.feeds.opml import parse_opml
from daemon.feeds.sources import (
    export_opml,
    format_duration,
    load_feed_list,
    load_opml,
    save_feed_list,
)
from daemon.models import FeedSpec

OPML_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "feeds" / "opml"

FEEDS_YAML = """\
# Feeds we watch.
defaults:
  interval: 30m
  fulltext: true
feeds:
  - url: https://example.org/world.xml
    name: Example World
    tags: [world, wire]
  - url: https://example.net/dprk.rss
    interval: 5m
    fulltext: false
"""


def write(tmp_path: Path, text: str, name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(FeedListError) as caught:
        load_feed_list(write(tmp_path, text))
    assert caught.value.setting == "SANCTIONWATCH_FEEDS"
    return str(caught.value)


def test_yaml_feed_list_with_defaults(tmp_path: Path) -> None:
    feeds = load_feed_list(write(tmp_path, FEEDS_YAML))
    assert feeds == [
        FeedSpec(
            url="https://example.org/world.xml",
            name="Example World",
            interval=timedelta(minutes=30),
            fulltext=True,
            tags=("world", "wire"),
        ),
        FeedSpec(url="https://example.net/dprk.rss", interval=timedelta(minutes=5)),
    ]


def test_defaults_are_optional(tmp_path: Path) -> None:
    feeds = load_feed_list(write(tmp_path, "feeds:\n  - url: http://example.org/feed\n"))
    assert feeds == [FeedSpec(url="http://example.org/feed")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("feeds:\n  - url: http://a.example/\n    intervall: 5m\n", ":3: feeds[0]: unknown key"),
        ("feeds:\n  - url: http://a.example/\n    interval: soon\n", ":3: interval: not a dur"),
        ("feeds:\n  - name: No URL\n", ":2: feeds[0]: missing 'url'"),
        ("feeds:\n  - url: http://a.example/\n  - url: HTTP://A.example:80/\n", ":3: duplicate"),
        ("feeds:\n  - url: ftp://a.example/\n", ":2: not an http(s) URL"),
        ("feeds:\n  - url: http://a.example/\n    fulltext: maybe\n", ":3: feeds[0].fulltext"),
        ("feeds: [\n", "not valid YAML"),
        ("feedz: []\n", "unknown key 'feedz'"),
        ("defaults:\n  interval: 0s\nfeeds: []\n", ":2: interval: duration must be positive"),
        ("", "empty feed list"),
    ],
)
def test_invalid_yaml_names_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    message = load_error(tmp_path, text)
    assert "feeds.yaml" in message
    assert expected in message


def test_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(FeedListError) as caught:
        load_feed_list(tmp_path / "absent.yaml")
    assert str(caught.value).startswith("SANCTIONWATCH_FEEDS: ")
    assert "no such file" in str(caught.value)


def test_save_keeps_comments_defaults_and_round_trips(tmp_path: Path) -> None:
    path = write(tmp_path, FEEDS_YAML)
    feeds = load_feed_list(path)
    added = FeedSpec(url="https://example.com/new", name="New", interval=timedelta(hours=1))

    save_feed_list(path, [*feeds, added])

    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Feeds we watch.\ndefaults:\n")
    assert load_feed_list(path) == [*feeds, added]
    assert text.count("interval:") == 3


def test_save_refuses_duplicates(tmp_path: Path) -> None:
    feed = FeedSpec(url="https://example.org/a")
    with pytest.raises(FeedListError):
        save_feed_list(tmp_path / "feeds.yaml", [feed, feed])


def test_format_duration_is_the_inverse_of_parsing() -> None:
    assert format_duration(timedelta(minutes=10)) == "10m"
    assert format_duration(timedelta(hours=2)) == "2h"
    assert format_duration(timedelta(seconds=90)) == "90s"
    assert format_duration(timedelta(days=1)) == "1d"


def test_opml_by_extension(tmp_path: Path) -> None:
    feeds = [
        FeedSpec(url="https://example.org/a", name="A & B", tags=("news", "world")),
        FeedSpec(url="https://example.org/b", name="Bee", tags=("news",)),
        FeedSpec(url="https://example.org/c"),
    ]
    path = write(tmp_path, export_opml(feeds), "feeds.opml")
    assert load_feed_list(path) == [
        FeedSpec(url="https://example.org/a", name="A & B", tags=("news", "world")),
        FeedSpec(url="https://example.org/b", name="Bee", tags=("news",)),
        FeedSpec(url="https://example.org/c", name="https://example.org/c"),
    ]


def test_broken_opml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "<opml>\n<body>\n<outline xmlUrl=http://a/>\n</body></opml>", "x.opml")
    with pytest.raises(FeedListError) as caught:
        load_feed_list(path)
    assert "x.opml:3: not well-formed OPML" in str(caught.value)


@pytest.fixture(scope="module")
def opml_files() -> list[Path]:
    files = sorted(OPML_DIR.glob("*.opml"))
    if not files:
        pytest.skip("../shared/feeds/opml is absent")
    return files


def test_real_opml_files_import_and_round_trip(opml_files: list[Path]) -> None:
    for path in opml_files:
        feeds = load_opml(path)
        assert feeds, path.name
        assert all(feed.url.startswith("http") and feed.name and feed.tags for feed in feeds)
        assert parse_opml(export_opml(feeds)) == feeds, path.name


def test_real_opml_titles_urls_and_categories(opml_files: list[Path]) -> None:
    news = next(path for path in opml_files if path.name == "News.opml")
    feeds = {feed.url: feed for feed in load_opml(news)}
    assert len(feeds) == 11
    nyt = feeds["https://rss.nytimes.com/services/xml/rss/nyt/World.xml"]
    assert (nyt.name, nyt.tags) == ("NYT > World News", ("News",))


def test_unescaped_quotes_in_opml_are_repaired(opml_files: list[Path]) -> None:
    russia = next(path for path in opml_files if "illformed" in path.name)
    feeds = {feed.url: feed for feed in load_opml(russia)}
    assert len(feeds) == 13
    assert feeds["https://www.kommersant.ru/RSS/main.xml"].name == 'Газета "Коммерсантъ". Главное'
    assert all(feed.tags == ("Russia",) for feed in feeds.values())
