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

from daemon.rules.inflection import (
    ANYWHERE,
    ARABIC_ARTICLE,
    ARABIC_PREFIX,
    EXACT,
    NEEDS_ENDING,
    WORD,
    WordForm,
    ending_end,
    left_fits,
    next_word_end,
    previous_word_start,
    word_form,
)
from daemon.rules.normalize import FoldedText, ascii_digits, fold_term, is_cjk, is_hangul

MIN_PREFIX_LENGTH = 3


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


@lru_cache(maxsize=4096)
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


@lru_cache(maxsize=4096)
def term_forms(written: str) -> tuple[WordForm, ...]:
    """Every word of a term as it is looked for (see daemon.rules.inflection)."""
    key, prefix, rest = parse_term(written)
    key_words = key.split()
    words = [(word, False) for word in key_words[:-1]] + [(key_words[-1], prefix), *rest]
    return tuple(
        word_form(word, starred, n == len(words) - 1) for n, (word, starred) in enumerate(words)
    )


def _anchor(forms: tuple[WordForm, ...]) -> tuple[int, int]:
    """The words [first, last) that form the automaton key: of the runs of words that stand
    next to each other as written (each but the last exact, none after the first taking an
    attached prefix), the one with the longest text, so that the key is as selective as it can
    be; the words before and after it are checked around a key hit."""
    runs: list[tuple[int, int]] = []
    first = 0
    for n, form in enumerate(forms):
        following = forms[n + 1] if n + 1 < len(forms) else None
        if following is None or form.ending != EXACT or following.left not in (WORD, ANYWHERE):
            runs.append((first, n + 1))
            first = n + 1
    return max(runs, key=lambda run: sum(len(form.stem) + 1 for form in forms[run[0] : run[1]]))


def _go_back(text: str, start: int, before: tuple[WordForm, ...]) -> int | None:
    """Where the words before a key start, each one space before the next; None if they do not
    stand there. ``before`` runs from the nearest word backwards."""
    for form in before:
        found = previous_word_start(text, start, form)
        if found is None:
            return None
        start = found
    return start


def _continue(text: str, end: int, rest: tuple[WordForm, ...]) -> int | None:
    """Where the words after a key end, each after one space; None if they do not follow."""
    for form in rest:
        found = next_word_end(text, end, form)
        if found is None:
            return None
        end = found
    return end


_Check = tuple[int, int, tuple[WordForm, ...], tuple[WordForm, ...]]


class TermMatcher:
    """Finds every term of every source in folded text, in one pass per field."""

    def __init__(
        self, terms: Iterable[tuple[int, str]], regexes: Iterable[tuple[int, str]] = ()
    ) -> None:
        uses: dict[str, dict[_Check, dict[int, str]]] = {}
        for source, written in terms:
            forms = term_forms(written)
            if len(forms) == 1:
                form = forms[0]
                key, check = form.stem, (form.left, form.ending, (), ())
            else:
                first, last = _anchor(forms)
                key = " ".join(form.stem for form in forms[first:last])
                before = tuple(reversed(forms[:first]))
                check = (forms[first].left, forms[last - 1].ending, before, forms[last:])
            sources = uses.setdefault(key, {}).setdefault(check, {})
            if source not in sources:
                sources[source] = written
        self.key_count = len(uses)
        # Each key's value is one flat tuple, the fewest objects per key: (key length, use, ...),
        # a use being (left, ending, before, rest, source, written, source, written, ...).
        self._automaton: ahocorasick.Automaton | None = None
        if uses:
            automaton = ahocorasick.Automaton()
            for key, checks in uses.items():
                automaton.add_word(
                    key,
                    (
                        len(key),
                        *(
                            (*check, *(item for pair in sources.items() for item in pair))
                            for check, sources in checks.items()
                        ),
                    ),
                )
            automaton.make_automaton()
            self._automaton = automaton
        self._regexes = [(source, pattern, compile_regex(pattern)) for source, pattern in regexes]

    def scan(self, folded: FoldedText) -> list[TermHit]:
        """Every term occurrence in the folded text (and every regex match in its clean text)."""
        hits: list[TermHit] = []
        text = folded.text
        size = len(text)
        if self._automaton is not None and text:
            for last, uses in self._automaton.iter(text):
                start = last - uses[0] + 1
                glued = start > 0 and text[start - 1] != " "
                after = last + 1
                at_boundary = after == size or text[after] == " "
                for use in range(1, len(uses)):
                    record = uses[use]
                    left, ending, before, rest = record[0], record[1], record[2], record[3]
                    if (glued or left == ARABIC_ARTICLE) and not left_fits(text, start, left):
                        continue
                    if at_boundary and ending < NEEDS_ENDING:
                        end: int | None = after
                    else:
                        end = ending_end(text, after, ending)
                    if end is not None and rest:
                        end = _continue(text, end, rest)
                    if end is not None:
                        begin = start if left < ARABIC_PREFIX else text.rfind(" ", 0, start) + 1
                        if before:
                            begin = _go_back(text, begin, before)
                            if begin is None:
                                continue
                        for n in range(4, len(record), 2):
                            hits.append(TermHit(record[n], record[n + 1], begin, end))
        if self._regexes:
            clean_text = ascii_digits(folded.clean.text)
            for source, pattern, regex in self._regexes:
                hits.extend(self._regex_hits(folded, clean_text, source, pattern, regex))
        return hits

    @staticmethod
    def _regex_hits(
        folded: FoldedText, clean_text: str, source: int, pattern: str, regex: re2._Regexp
    ) -> Iterable[TermHit]:
        clean = folded.clean
        for found in regex.finditer(clean_text):
            begin, finish = found.span()
            if begin == finish:
                continue
            start = min(folded.folded_index(begin), max(len(folded.text) - 1, 0))
            end = max(folded.folded_index(finish), start + 1)
            yield TermHit(source, pattern, start, end, clean.original_span(begin, finish))
