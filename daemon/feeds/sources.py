"""The feed list: YAML (the source of truth) or OPML, validated into FeedSpecs, and saved back."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from daemon.config import parse_duration
from daemon.errors import ConfigError, FeedListError
from daemon.feeds.identity import canonical_link
from daemon.feeds.opml import FEEDS_SETTING, export_opml, load_opml
from daemon.models import DEFAULT_INTERVAL, FeedSpec

__all__ = [
    "FEEDS_SETTING",
    "FeedDefaults",
    "export_opml",
    "format_duration",
    "load_feed_list",
    "load_opml",
    "save_feed_list",
]

OPML_SUFFIXES = frozenset({".opml", ".xml"})
Duration = Any


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval: Duration | None = None
    fulltext: StrictBool | None = None


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: StrictStr
    name: StrictStr | None = None
    interval: Duration | None = None
    fulltext: StrictBool | None = None
    tags: list[StrictStr] = Field(default_factory=list)


class _FeedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    defaults: _Defaults = Field(default_factory=_Defaults)
    feeds: list[_Entry]


class FeedDefaults(BaseModel):
    """Values for feeds that do not set their own."""

    model_config = ConfigDict(frozen=True)
    interval: timedelta = DEFAULT_INTERVAL
    fulltext: bool = False


def _fail(origin: str, line: int | None, message: str) -> FeedListError:
    where = f"{origin}:{line}" if line else origin
    return FeedListError(FEEDS_SETTING, f"{where}: {message}")


def _line_of(node: yaml.Node | None, location: Sequence[int | str]) -> int | None:
    """1-based line of the YAML node at a pydantic error location, as deep as it exists."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for step in location:
        if isinstance(node, yaml.MappingNode):
            match = next((pair for pair in node.value if pair[0].value == step), None)
            if match is None:
                break
            key, node = match
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                break
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _where(location: Sequence[int | str]) -> str:
    text = ""
    for step in location:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _validation_message(error: dict[str, Any]) -> str:
    location = list(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{_where(location[:-1]) or 'top level'}: unknown key {location[-1]!r}"
    if error["type"] == "missing":
        return f"{_where(location[:-1]) or 'top level'}: missing {location[-1]!r}"
    return f"{_where(location)}: {error['msg']}"


def _duration(value: Duration | None, origin: str, line: int | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value, "interval")
    except ConfigError as exc:
        raise _fail(origin, line, str(exc)) from exc


def _check_url(url: str, origin: str, line: int | None) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _fail(origin, line, f"not an http(s) URL: {url!r}")
    return url


def parse_feed_list(text: str, origin: str = "<feeds>") -> tuple[list[FeedSpec], FeedDefaults]:
    """Feeds and defaults from YAML text; every error names ``origin`` and the line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise _fail(origin, mark.line + 1 if mark else None, f"not valid YAML: {problem}") from exc
    if data is None:
        raise _fail(origin, None, "empty feed list; expected a 'feeds:' list")
    if not isinstance(data, dict):
        raise _fail(origin, 1, "expected a mapping with a 'feeds:' list")
    try:
        parsed = _FeedFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            (_line_of(root, error["loc"]), _validation_message(dict(error)))
            for error in exc.errors()
        ]
        first_line, first_message = problems[0]
        others = "".join(f"; line {line}: {message}" for line, message in problems[1:4])
        raise _fail(origin, first_line, first_message + others) from exc
    defaults_line = _line_of(root, ("defaults", "interval"))
    defaults = FeedDefaults(
        interval=_duration(parsed.defaults.interval, origin, defaults_line) or DEFAULT_INTERVAL,
        fulltext=bool(parsed.defaults.fulltext),
    )
    feeds: list[FeedSpec] = []
    seen: dict[str, int | None] = {}
    for index, entry in enumerate(parsed.feeds):
        line = _line_of(root, ("feeds", index))
        url = _check_url(entry.url, origin, line)
        key = canonical_link(url)
        if key in seen:
            first_line = f" (first at line {seen[key]})" if seen[key] else ""
            raise _fail(origin, line, f"duplicate feed URL {url}{first_line}")
        seen[key] = line
        tags = tuple(dict.fromkeys(tag.strip() for tag in entry.tags if tag.strip()))
        feeds.append(
            FeedSpec(
                url=url,
                name=entry.name.strip() if entry.name and entry.name.strip() else None,
                interval=_duration(
                    entry.interval, origin, _line_of(root, ("feeds", index, "interval"))
                )
                or defaults.interval,
                fulltext=defaults.fulltext if entry.fulltext is None else entry.fulltext,
                tags=tags,
            )
        )
    return feeds, defaults


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise _fail(str(path), None, "no such file") from exc
    except UnicodeDecodeError as exc:
        raise _fail(str(path), None, f"not UTF-8 text: {exc.reason}") from exc
    except OSError as exc:
        raise _fail(str(path), None, f"cannot read: {exc.strerror}") from exc


def load_feed_list(path: Path) -> list[FeedSpec]:
    """The feeds of a YAML feed list, or of an OPML file (by extension .opml / .xml)."""
    path = Path(path)
    if path.suffix.lower() in OPML_SUFFIXES:
        return load_opml(path)
    feeds, _ = parse_feed_list(_read_text(path), str(path))
    return feeds


def format_duration(interval: timedelta) -> str:
    """``timedelta(minutes=10)`` → ``10m``; the inverse of ``parse_duration``."""
    seconds = interval.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _entry(feed: FeedSpec, defaults: FeedDefaults) -> dict[str, Any]:
    entry: dict[str, Any] = {"url": feed.url}
    if feed.name:
        entry["name"] = feed.name
    if feed.interval != defaults.interval:
        entry["interval"] = format_duration(feed.interval)
    if feed.fulltext != defaults.fulltext:
        entry["fulltext"] = feed.fulltext
    if feed.tags:
        entry["tags"] = list(feed.tags)
    return entry


def _existing_layout(path: Path) -> tuple[str, dict[str, Any] | None, FeedDefaults]:
    """Leading comment block and defaults of the file being replaced, if it is readable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return "", None, FeedDefaults()
    header = ""
    for line in text.splitlines(keepends=True):
        if not line.lstrip().startswith("#"):
            break
        header += line
    try:
        raw = yaml.safe_load(text)
        _, defaults = parse_feed_list(text, str(path))
    except (yaml.YAMLError, FeedListError):
        return header, None, FeedDefaults()
    raw_defaults = raw.get("defaults") if isinstance(raw, dict) else None
    return header, raw_defaults if isinstance(raw_defaults, dict) else None, defaults


class _ListIndentingDumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump_feed_list(feeds: Iterable[FeedSpec], defaults: FeedDefaults | None = None) -> str:
    defaults = defaults or FeedDefaults()
    entries = [_entry(feed, defaults) for feed in feeds]
    return yaml.dump(
        {"feeds": entries},
        Dumper=_ListIndentingDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=None,
        width=100,
    )


def save_feed_list(path: Path, feeds: Iterable[FeedSpec]) -> None:
    """Write ``feeds`` as the YAML feed list at ``path`` (atomically), keeping the file's
    leading comments and ``defaults``; values equal to the defaults are left out."""
    path = Path(path)
    feeds = list(feeds)
    seen: set[str] = set()
    for feed in feeds:
        key = canonical_link(feed.url)
        if key in seen:
            raise _fail(str(path), None, f"duplicate feed URL {feed.url}")
        seen.add(key)
    header, raw_defaults, defaults = _existing_layout(path)
    text = header
    if raw_defaults:
        text += yaml.safe_dump({"defaults": raw_defaults}, sort_keys=False, allow_unicode=True)
    text += dump_feed_list(feeds, defaults)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        raise _fail(str(path), None, f"cannot write: {exc.strerror}") from exc
