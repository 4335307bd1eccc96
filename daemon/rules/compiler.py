"""All terms of all rules and lists in one Aho-Corasick automaton over folded text.

The only importer of pyahocorasick (and of re2, the linear-time regex engine). A folded term is one
key however many rules or lists use it; each key carries the term sources (a list, or a rule's own
group) that wrote it, so the cost of a scan depends on the text, not on the number of terms.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import NamedTuple

import ahocorasick
import re2

from daemon.rules.normalize import FoldedText, fold_term, is_arabic, is_cjk, is_cyrillic, is_hangul

MIN_PREFIX_LENGTH = 3
MAX_CYRILLIC_ENDING = 3
_ARABIC_PREFIX = re.compile("[وف]?(?:[بك]?ال|لل|[بلك])?")

_FIRST_CJK, _LAST_CJK, _FIRST_ARABIC, _LAST_CYRILLIC, _LAST_HANGUL = 1, 2, 4, 8, 16


class _CollectorPause:
    """Nested, thread-safe pauses of the cyclic garbage collector."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._was_enabled = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if not self._depth:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if not self._depth and self._was_enabled:
                    gc.enable()


collector_paused = _CollectorPause()
"""Loading a big term list creates hundreds of thousands of small objects, none in a cycle; the
cyclic collector would walk them again and again, which took over half of the compile time."""


class TermError(ValueError):
    """A term or regex that cannot be used."""


class TermUse(NamedTuple):
    """One source (a list or a rule's group) that wrote a term; ``rest`` holds the words after
    the key, each (folded word, is a prefix, script flags)."""

    source: int
    written: str
    rest: tuple[tuple[str, bool, int], ...] = ()


class TermHit(NamedTuple):
    """A term found in one field's folded text: folded [start, end), original span if known."""

    source: int
    written: str
    start: int
    end: int
    original: tuple[int, int] | None = None


class ParsedTerm(NamedTuple):
    """A term split for the automaton: ``key`` runs up to the first word written with ``*``
    (``prefix`` says whether it ends in one); the words after it are checked after a key hit."""

    key: str
    prefix: bool
    rest: tuple[tuple[str, bool], ...] = ()


_STAR_AT_WORD_END = re.compile(r"\*(?=\s|$)")


@lru_cache(maxsize=262_144)
def parse_term(written: str) -> ParsedTerm:
    """Fold a term and find its prefix words (``word*``); raises TermError."""
    if "*" not in written:
        key = fold_term(written)
        if not key:
            raise TermError(f"term {written!r} has no letters or digits")
        return ParsedTerm(key, False)
    segments = _STAR_AT_WORD_END.split(written.strip())
    words: list[tuple[str, bool]] = []
    for index, segment in enumerate(segments):
        starred = index < len(segments) - 1
        if "*" in segment:
            raise TermError(f"term {written!r}: '*' is only allowed at the end of a word")
        if starred and not segment[-1:].isalnum():
            raise TermError(f"term {written!r}: '*' must follow a letter or digit directly")
        folded = fold_term(segment).split()
        words += [(word, starred and n == len(folded) - 1) for n, word in enumerate(folded)]
    if not words:
        raise TermError(f"term {written!r} has no letters or digits")
    first_prefix = next((n for n, (_, star) in enumerate(words) if star), len(words) - 1)
    key = " ".join(word for word, _ in words[: first_prefix + 1])
    prefix = words[first_prefix][1]
    syllabic = is_cjk(key[-1]) or is_hangul(key[-1])
    if prefix and not syllabic and len(key.replace(" ", "")) < MIN_PREFIX_LENGTH:
        raise TermError(
            f"term {written!r}: a prefix needs at least {MIN_PREFIX_LENGTH} letters before '*'"
        )
    return ParsedTerm(key, prefix, tuple(words[first_prefix + 1 :]))


def compile_regex(pattern: str) -> re2._Regexp:
    """Compile a linear-time (RE2) case-insensitive regex; raises TermError."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = False
    try:
        return re2.compile(pattern, options)
    except re2.error as problem:
        detail = problem.args[0] if problem.args else problem
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise TermError(f"invalid regex {pattern!r}: {detail}") from None


def _flags(key: str) -> int:
    return _edge_flags(key[0], key[-1])


@lru_cache(maxsize=65_536)
def _edge_flags(first: str, last: str) -> int:
    flags = 0
    if is_cjk(first):
        flags |= _FIRST_CJK
    if is_cjk(last):
        flags |= _LAST_CJK
    if is_arabic(first):
        flags |= _FIRST_ARABIC
    if is_cyrillic(last):
        flags |= _LAST_CYRILLIC
    if is_hangul(last):
        flags |= _LAST_HANGUL
    return flags


def _word_end(text: str, index: int) -> int:
    length = len(text)
    while index < length and text[index] != " " and not is_cjk(text[index]):
        index += 1
    return index


def _left_ok(text: str, start: int, flags: int) -> bool:
    if start == 0 or flags & _FIRST_CJK:
        return True
    before = text[start - 1]
    if before == " " or is_cjk(before):
        return True
    if flags & _FIRST_ARABIC:
        word_start = text.rfind(" ", 0, start) + 1
        return _ARABIC_PREFIX.fullmatch(text, word_start, start) is not None
    return False


def _exact_end(text: str, end: int, flags: int) -> int | None:
    """Where an exact (non-prefix) match ends, allowing inflection; None if not at a boundary."""
    if end == len(text) or flags & _LAST_CJK:
        return end
    after = text[end]
    if after == " " or is_cjk(after):
        return end
    if flags & _LAST_CYRILLIC:
        word_end = _word_end(text, end)
        ending = text[end:word_end]
        if len(ending) <= MAX_CYRILLIC_ENDING and all(map(is_cyrillic, ending)):
            return word_end
    elif flags & _LAST_HANGUL:
        word_end = _word_end(text, end)
        if all(map(is_hangul, text[end:word_end])):
            return word_end
    return None


def _continue(text: str, end: int, rest: tuple[tuple[str, bool, int], ...]) -> int | None:
    """Where the words after a key end, each after one space; None if they do not follow."""
    for word, is_prefix, flags in rest:
        if end >= len(text) or text[end] != " " or not text.startswith(word, end + 1):
            return None
        end += 1 + len(word)
        if is_prefix:
            end = _word_end(text, end)
        else:
            found = _exact_end(text, end, flags)
            if found is None:
                return None
            end = found
    return end


class TermMatcher:
    """Finds every term of every source in folded text, in one pass per field."""

    def __init__(
        self, terms: Iterable[tuple[int, str]], regexes: Iterable[tuple[int, str]] = ()
    ) -> None:
        exact: dict[str, dict[int, str]] = {}
        prefix: dict[str, dict[tuple[int, tuple[tuple[str, bool, int], ...]], TermUse]] = {}
        for source, written in terms:
            key, is_prefix, words = parse_term(written)
            if is_prefix:
                rest = tuple((word, star, _flags(word)) for word, star in words)
                prefix.setdefault(key, {}).setdefault(
                    (source, rest), TermUse(source, written, rest)
                )
            else:
                sources = exact.get(key)
                if sources is None:
                    exact[key] = {source: written}
                elif source not in sources:
                    sources[source] = written
        keys = exact.keys() | prefix.keys()
        self.key_count = len(keys)
        self._automaton: ahocorasick.Automaton | None = None
        if keys:
            automaton = ahocorasick.Automaton()
            for key in keys:
                exact_uses = tuple(exact[key].items()) if key in exact else ()
                prefix_uses = tuple(prefix[key].values()) if key in prefix else ()
                automaton.add_word(key, (len(key), _flags(key), exact_uses, prefix_uses))
            automaton.make_automaton()
            self._automaton = automaton
        self._regexes = [(source, pattern, compile_regex(pattern)) for source, pattern in regexes]

    def scan(self, folded: FoldedText) -> list[TermHit]:
        """Every term occurrence in the folded text (and every regex match in its clean text)."""
        hits: list[TermHit] = []
        text = folded.text
        size = len(text)
        if self._automaton is not None and text:
            for last, (length, flags, exact, prefix) in self._automaton.iter(text):
                start = last - length + 1
                if start and text[start - 1] != " " and not _left_ok(text, start, flags):
                    continue
                if exact:
                    end: int | None = last + 1
                    if end != size and text[end] != " ":
                        end = _exact_end(text, last + 1, flags)
                    if end is not None:
                        for source, written in exact:
                            hits.append(TermHit(source, written, start, end))
                if prefix:
                    end = last + 1 if flags & _LAST_CJK else _word_end(text, last + 1)
                    for use in prefix:
                        use_end = _continue(text, end, use.rest) if use.rest else end
                        if use_end is not None:
                            hits.append(TermHit(use.source, use.written, start, use_end))
        for source, pattern, regex in self._regexes:
            hits.extend(self._regex_hits(folded, source, pattern, regex))
        return hits

    @staticmethod
    def _regex_hits(
        folded: FoldedText, source: int, pattern: str, regex: re2._Regexp
    ) -> Iterable[TermHit]:
        clean = folded.clean
        for found in regex.finditer(clean.text):
            begin, finish = found.span()
            if begin == finish:
                continue
            start = min(folded.folded_index(begin), max(len(folded.text) - 1, 0))
            end = max(folded.folded_index(finish), start + 1)
            yield TermHit(source, pattern, start, end, clean.original_span(begin, finish))
