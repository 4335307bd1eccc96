"""All terms of all rules and lists in one Aho-Corasick automaton over folded text.

The only importer of pyahocorasick (and of re2, the linear-time regex engine). A folded term is one
key however many rules or lists use it; each key carries the term sources (a list, or a rule's own
group) that wrote it, so the cost of a scan depends on the text, not on the number of terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick
import re2

from daemon.rules.normalize import FoldedText, fold_term, is_arabic, is_cjk, is_cyrillic, is_hangul

MIN_PREFIX_LENGTH = 3
MAX_CYRILLIC_ENDING = 3
_ARABIC_PREFIX = re.compile("[وف]?(?:[بك]?ال|لل|[بلك])?")

_FIRST_CJK, _LAST_CJK, _FIRST_ARABIC, _LAST_CYRILLIC, _LAST_HANGUL = 1, 2, 4, 8, 16


class TermError(ValueError):
    """A term or regex that cannot be used."""


@dataclass(frozen=True)
class TermUse:
    """One source (a list or a rule's group) that wrote a term."""

    source: int
    written: str


@dataclass(frozen=True)
class TermHit:
    """A term found in one field's folded text: folded [start, end), original span if known."""

    source: int
    written: str
    start: int
    end: int
    original: tuple[int, int] | None = None


def parse_term(written: str) -> tuple[str, bool]:
    """The folded key of a term and whether it is a prefix (``word*``); raises TermError."""
    stripped = written.strip()
    prefix = stripped.endswith("*")
    body = stripped[:-1] if prefix else stripped
    if "*" in body:
        raise TermError(f"term {written!r}: '*' is only allowed at the end of a term")
    key = fold_term(body)
    if not key:
        raise TermError(f"term {written!r} has no letters or digits")
    if prefix and not body.rstrip()[-1:].isalnum():
        raise TermError(f"term {written!r}: '*' must follow a letter or digit directly")
    syllabic = is_cjk(key[-1]) or is_hangul(key[-1])
    if prefix and not syllabic and len(key.rsplit(" ", 1)[-1]) < MIN_PREFIX_LENGTH:
        raise TermError(
            f"term {written!r}: a prefix needs at least {MIN_PREFIX_LENGTH} letters before '*'"
        )
    return key, prefix


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
    flags = 0
    if is_cjk(key[0]):
        flags |= _FIRST_CJK
    if is_cjk(key[-1]):
        flags |= _LAST_CJK
    if is_arabic(key[0]):
        flags |= _FIRST_ARABIC
    if is_cyrillic(key[-1]):
        flags |= _LAST_CYRILLIC
    if is_hangul(key[-1]):
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


class TermMatcher:
    """Finds every term of every source in folded text, in one pass per field."""

    def __init__(
        self, terms: Iterable[tuple[int, str]], regexes: Iterable[tuple[int, str]] = ()
    ) -> None:
        exact: dict[str, list[TermUse]] = {}
        prefix: dict[str, list[TermUse]] = {}
        for source, written in terms:
            key, is_prefix = parse_term(written)
            uses = (prefix if is_prefix else exact).setdefault(key, [])
            if all(use.source != source for use in uses):
                uses.append(TermUse(source, written))
        self.key_count = len(exact.keys() | prefix.keys())
        self._automaton: ahocorasick.Automaton | None = None
        if self.key_count:
            automaton = ahocorasick.Automaton()
            for key in exact.keys() | prefix.keys():
                value = (
                    len(key),
                    _flags(key),
                    tuple(exact.get(key, ())),
                    tuple(prefix.get(key, ())),
                )
                automaton.add_word(key, value)
            automaton.make_automaton()
            self._automaton = automaton
        self._regexes = [(source, pattern, compile_regex(pattern)) for source, pattern in regexes]

    def scan(self, folded: FoldedText) -> list[TermHit]:
        """Every term occurrence in the folded text (and every regex match in its clean text)."""
        hits: list[TermHit] = []
        text = folded.text
        if self._automaton is not None and text:
            for last, (length, flags, exact, prefix) in self._automaton.iter(text):
                start = last - length + 1
                if not _left_ok(text, start, flags):
                    continue
                if exact:
                    end = _exact_end(text, last + 1, flags)
                    if end is not None:
                        hits.extend(TermHit(use.source, use.written, start, end) for use in exact)
                if prefix:
                    end = last + 1 if flags & _LAST_CJK else _word_end(text, last + 1)
                    hits.extend(TermHit(use.source, use.written, start, end) for use in prefix)
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
