"""How each word of a term may be inflected in story text.

Story text is never stemmed. Each folded term word becomes a stem, a rule for what may stand
before it inside the same word (Arabic attached prefixes) and a rule for what may follow it (a
bounded ending), so matching stays one automaton pass over folded text and every hit still covers
whole original words.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from daemon.rules.normalize import is_arabic, is_cjk, is_cyrillic, is_hangul

EXACT, ANY, PREFIX, CYRILLIC, HANGUL, ARABIC_LAST, ARABIC_INNER, CYRILLIC_CASE = range(8)
ARABIC_FEMININE_LAST, ARABIC_FEMININE_INNER, CYRILLIC_CASE_NEEDED = range(8, 11)
NEEDS_ENDING = ARABIC_FEMININE_LAST
"""Ending rules: nothing, anything (the stem ends in a Chinese or Japanese character), the rest of
the word (``word*``), any three Cyrillic letters, Korean particles, Arabic-script suffixes on the
last or an inner word, a Cyrillic case ending; from NEEDS_ENDING on an ending is required:
Arabic-script suffixes after a stem whose final ة was taken off, a non-empty Cyrillic case
ending."""

WORD, ANYWHERE, ARABIC_PREFIX, ARABIC_ARTICLE = range(4)
"""Left rules: a word start, anywhere (Chinese or Japanese), after an optional Arabic attached
prefix, after a definite article (ال, or its attached forms بال، لل, …) that the stem lost."""

MIN_CYRILLIC_STEM = 4
MAX_CYRILLIC_ENDING = 3
MIN_ARABIC_STEM = 3
MAX_ARABIC_PREFIX = 4

_CYRILLIC_ENDING_LETTERS = frozenset("аеиоуыьэюямхвгіє")
_CYRILLIC_ADJECTIVE_ENDINGS = ("ыи", "ии", "іи", "ои", "ая", "яя", "ое", "ее", "ые", "ие")
_CYRILLIC_FINAL_LETTERS = frozenset("аяоыь")
_CYRILLIC_VOWELS = frozenset("аеиоуыэюяіє")
_CYRILLIC_NO_BARE_STEM = frozenset("иь")

_ARABIC_ANY_PREFIX = re.compile("[وف]?(?:[بك]?ال|لل|[بلك])?")
_ARABIC_ARTICLE_PREFIX = re.compile("[وف]?(?:[بك]?ال|لل)")
_PERSIAN_PLURAL_AND_EZAFE = frozenset(["ها", "هاي", "هايي", "ي", "اي"])
_ARABIC_SUFFIXES = _PERSIAN_PLURAL_AND_EZAFE | frozenset(
    ["ان", "يان", "ات", "ون", "ين", "يين", "يه", "يات", "ه", "هم", "هما", "هن", "ش", "شان"]
)
_FEMININE_PLURAL_AND_POSSESSIVE = frozenset(
    ["ات", "تان", "تين", "ته", "تها", "تهم", "اته", "اتها", "اتهم"]
)

_HANGUL_NOUN_SUFFIX = "들|측|산|제|군|인|행|발|간|용|형|급|계|씨"
_HANGUL_PARTICLES = (
    "이 가 은 는 을 를 의 에 에게 에게서 에서 으로 로 으로부터 로부터 으로서 로서 "
    "으로써 로써 과 와 도 만 까지 부터 께 께서 한테 보다 처럼 이나 나 이랑 랑 이며 며 이고 "
    "이다 이었다 였다 였고 이었고 인 이라는 라는 이란 란 이라고 라고 이라며 라며 이자 이든 "
    "에는 에도 에서는 에서도 에게는 에의 와의 과의 로의 으로의 에서의 까지의 만의 으론 론 "
    "뿐 밖에 대로 조차 마저 야 이야 등 등의 등을 등이 등과 등에"
)
_HANGUL_PARTICLE = "|".join(sorted(_HANGUL_PARTICLES.split(), key=len, reverse=True))
_HANGUL_ENDING = re.compile(f"(?:{_HANGUL_NOUN_SUFFIX})?(?:{_HANGUL_PARTICLE}){{0,2}}")

_SUFFIX_SETS: dict[int, frozenset[str]] = {
    ARABIC_LAST: _ARABIC_SUFFIXES,
    ARABIC_INNER: _PERSIAN_PLURAL_AND_EZAFE,
    ARABIC_FEMININE_LAST: frozenset("ه" + suffix for suffix in ("", *_ARABIC_SUFFIXES))
    | _FEMININE_PLURAL_AND_POSSESSIVE,
    ARABIC_FEMININE_INNER: frozenset("ه" + suffix for suffix in ("", *_PERSIAN_PLURAL_AND_EZAFE))
    | frozenset(["ات", "ت"]),
}


_LONGEST_ENDING = {
    CYRILLIC: MAX_CYRILLIC_ENDING,
    CYRILLIC_CASE: MAX_CYRILLIC_ENDING,
    CYRILLIC_CASE_NEEDED: MAX_CYRILLIC_ENDING,
    HANGUL: 12,
    **{ending: max(map(len, suffixes)) for ending, suffixes in _SUFFIX_SETS.items()},
}


class WordForm(NamedTuple):
    """One term word as it is looked for: its stem and the left and ending rules around it."""

    stem: str
    left: int
    ending: int


def cyrillic_stem(word: str, attributive: bool) -> str:
    """``word`` without a dictionary-form ending, if at least four letters remain: a nominative
    noun ending (-а -я -о -ь -й), plural -ы, and an adjective ending where the adjective
    qualifies a following word. A word written in another case keeps it, since the author chose
    that case (Украине, Україні: -и and -і are dative or locative too); so does an adjective
    used as a noun (военные "the military" is not военного)."""
    for ending in _CYRILLIC_ADJECTIVE_ENDINGS:
        if word.endswith(ending):
            if attributive and len(word) - len(ending) >= MIN_CYRILLIC_STEM:
                return word[: -len(ending)]
            return word
    short_i = word[-1] == "и" and word[-2:-1] in _CYRILLIC_VOWELS
    if (word[-1] in _CYRILLIC_FINAL_LETTERS or short_i) and len(word) > MIN_CYRILLIC_STEM:
        return word[:-1]
    return word


def word_form(word: str, starred: bool, last: bool) -> WordForm:
    """How one folded term word is looked for; ``last`` says it ends the term."""
    left = ANYWHERE if is_cjk(word[0]) else WORD
    if is_cjk(word[-1]):
        return WordForm(word, left, ANY)
    if all(map(is_arabic, word)):
        return _arabic_form(word, PREFIX if starred else None, last)
    if starred:
        return WordForm(word, left, PREFIX)
    if word.isalpha() and all(map(is_cyrillic, word)):
        if last or len(word) >= MIN_CYRILLIC_STEM:
            return _cyrillic_form(word, last)
    elif is_hangul(word[-1]) and last:
        return WordForm(word, left, HANGUL)
    return WordForm(word, left, EXACT)


def _cyrillic_form(word: str, last: bool) -> WordForm:
    """A word inflects after its stem; one whose bare stem is no form of it (прибыль, not
    прибыл) needs an ending. A last word kept whole takes any three letters, as before."""
    stem = cyrillic_stem(word, attributive=not last)
    if stem == word:
        return WordForm(word, WORD, CYRILLIC if last else CYRILLIC_CASE)
    if word[len(stem)] in _CYRILLIC_NO_BARE_STEM:
        return WordForm(stem, WORD, CYRILLIC_CASE_NEEDED)
    return WordForm(stem, WORD, CYRILLIC_CASE)


def _arabic_form(word: str, ending: int | None, last: bool) -> WordForm:
    left = ARABIC_PREFIX
    if word.startswith("ال") and len(word) - 2 >= MIN_ARABIC_STEM:
        word, left = word[2:], ARABIC_ARTICLE
    if ending is not None:
        return WordForm(word, left, ending)
    if len(word) < MIN_ARABIC_STEM:
        return WordForm(word, left, EXACT)
    if word.endswith("ه") and len(word) > MIN_ARABIC_STEM:
        return WordForm(word[:-1], left, ARABIC_FEMININE_LAST if last else ARABIC_FEMININE_INNER)
    return WordForm(word, left, ARABIC_LAST if last else ARABIC_INNER)


def word_end(text: str, index: int) -> int:
    """Where the word (run of letters up to a space or a Chinese/Japanese character) ends."""
    length = len(text)
    while index < length and text[index] != " " and not is_cjk(text[index]):
        index += 1
    return index


def ending_end(text: str, after: int, ending: int) -> int | None:
    """Where a stem that ends at ``after`` ends as a word under its ending rule; None if the rest
    of the word is no allowed ending."""
    if ending == ANY:
        return after
    if after == len(text) or text[after] == " " or is_cjk(text[after]):
        return after if ending < NEEDS_ENDING else None
    if ending == EXACT:
        return None
    if ending == PREFIX:
        return word_end(text, after)
    end = _short_word_end(text, after, _LONGEST_ENDING[ending])
    if end is None:
        return None
    tail = text[after:end]
    if ending == CYRILLIC:
        fits = len(tail) <= MAX_CYRILLIC_ENDING and all(map(is_cyrillic, tail))
    elif ending in (CYRILLIC_CASE, CYRILLIC_CASE_NEEDED):
        fits = len(tail) <= MAX_CYRILLIC_ENDING and all(c in _CYRILLIC_ENDING_LETTERS for c in tail)
    elif ending == HANGUL:
        fits = _HANGUL_ENDING.fullmatch(tail) is not None
    else:
        fits = tail in _SUFFIX_SETS[ending]
    return end if fits else None


def _short_word_end(text: str, index: int, longest: int) -> int | None:
    """Where the word ends if that is at most ``longest`` characters on; None if further."""
    stop = min(index + longest + 1, len(text))
    while index < stop:
        char = text[index]
        if char == " " or is_cjk(char):
            return index
        index += 1
    return index if index == len(text) else None


def left_fits(text: str, start: int, left: int) -> bool:
    """Whether a stem may start at ``start``, given what stands before it in the same word."""
    if start == 0 or left == ANYWHERE:
        return left != ARABIC_ARTICLE
    before = text[start - 1]
    if before == " " or is_cjk(before):
        return left != ARABIC_ARTICLE
    if left == WORD:
        return False
    word_start = text.rfind(" ", 0, start) + 1
    pattern = _ARABIC_ARTICLE_PREFIX if left == ARABIC_ARTICLE else _ARABIC_ANY_PREFIX
    return pattern.fullmatch(text, word_start, start) is not None


def next_word_end(text: str, end: int, form: WordForm) -> int | None:
    """Where ``form`` ends if it is the word after the one ending at ``end`` (one space between),
    None if it is not."""
    begin = end + 1
    if end >= len(text) or text[end] != " ":
        return None
    stem, left, ending = form
    if left in (WORD, ANYWHERE):
        if not text.startswith(stem, begin):
            return None
        return ending_end(text, begin + len(stem), ending)
    last_start = min(begin + MAX_ARABIC_PREFIX, word_end(text, begin))
    for start in range(begin, last_start + 1):
        if text.startswith(stem, start) and left_fits(text, start, left):
            found = ending_end(text, start + len(stem), ending)
            if found is not None:
                return found
    return None


def previous_word_start(text: str, start: int, form: WordForm) -> int | None:
    """Where ``form`` starts if it is the word before the one starting at ``start`` (one space
    between), None if it is not."""
    if start < 2 or text[start - 1] != " ":
        return None
    end = start - 1
    begin = text.rfind(" ", 0, end) + 1
    stem, left, ending = form
    if left == WORD:
        candidates: range = range(begin, begin + 1)
    elif left == ANYWHERE:
        candidates = range(begin, end)
    else:
        candidates = range(begin, min(begin + MAX_ARABIC_PREFIX, end) + 1)
    for stem_start in candidates:
        if (
            text.startswith(stem, stem_start)
            and left_fits(text, stem_start, left)
            and ending_end(text, stem_start + len(stem), ending) == end
        ):
            return begin
    return None
