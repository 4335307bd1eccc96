"""Folding story text and terms into one comparable form, remembering where each character
came from.

Folded text holds only letters and digits separated by single spaces: case, width, compatibility
forms, diacritics, Arabic/Persian letter variants, harakat and tatweel are folded away; markup is
removed; punctuation, symbols and control characters become spaces. Every folded character keeps the
index of the original character it came from, so a match can quote the original text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cached_property

_KEPT_MARKS = frozenset("\u3099\u309a")
_LETTER_VARIANTS = str.maketrans(
    {
        "ی": "ي",
        "ى": "ي",
        "ک": "ك",
        "ة": "ه",
        "ۀ": "ه",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
    }
)
_REMOVED = frozenset("\u0640")
DIGITS = str.maketrans({chr(zero + n): str(n) for zero in (0x0660, 0x06F0) for n in range(10)})
"""Arabic-Indic and Persian digits as ASCII digits (one character for one, so offsets hold)."""
_NON_ASCII_DIGIT = re.compile("[\u0660-\u0669\u06f0-\u06f9]")


def ascii_digits(text: str) -> str:
    """``text`` with Arabic-Indic and Persian digits as ASCII digits, same length."""
    return text.translate(DIGITS) if _NON_ASCII_DIGIT.search(text) else text


_TAG = re.compile(
    r"<!--.*?-->|<(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9]*)\b[^<>]{0,4000}>|<![^<>]{0,4000}>",
    re.DOTALL,
)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
_MARKUP = re.compile(f"{_TAG.pattern}|{_ENTITY.pattern}", re.DOTALL)
_BLOCK_TAGS = frozenset(
    [
        "p",
        "br",
        "div",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "td",
        "th",
        "table",
        "blockquote",
        "section",
        "article",
        "hr",
    ]
)
_WORDS = re.compile(r"[^ ]+")

_SENTENCE_END = re.compile(
    r"(?P<latin>[.!?…]+)[\"'”’»)\]]*(?=\s|$)|[。！？؟۔]+[」』”’)）]*|\n\s*\n"
)
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "gen",
        "lt",
        "col",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "maj",
        "jr",
        "sr",
        "inc",
        "co",
        "corp",
        "ltd",
        "no",
        "nos",
        "vs",
        "etc",
        "approx",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "st.",
        "pres",
        "gov",
        "sen",
        "rep",
        "dept",
        "est",
        "fig",
        "art",
        "para",
    ]
)


def is_cjk(char: str) -> bool:
    """Han, Hiragana or Katakana: scripts written without spaces between words."""
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF
        or 0x31F0 <= code <= 0x31FF
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF66 <= code <= 0xFF9F
        or 0x20000 <= code <= 0x3FFFF
    )


def is_cyrillic(char: str) -> bool:
    return 0x0400 <= ord(char) <= 0x052F


def is_hangul(char: str) -> bool:
    code = ord(char)
    return 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F


def is_arabic(char: str) -> bool:
    code = ord(char)
    return 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0x08A0 <= code <= 0x08FF


def _strip_marks(text: str) -> str:
    return "".join(
        c for c in text if c in _KEPT_MARKS or not unicodedata.category(c).startswith("M")
    )


def _fold_char(char: str) -> str:
    if char in _REMOVED:
        return ""
    category = unicodedata.category(char)
    if category == "Cf" or category.startswith("M"):
        return "\u3099" if char == "\u3099" else ("\u309a" if char == "\u309a" else "")
    if not (category.startswith("L") or category.startswith("N")):
        return " "
    folded = _strip_marks(unicodedata.normalize("NFKD", char)).casefold()
    folded = unicodedata.normalize("NFKC", _strip_marks(unicodedata.normalize("NFKD", folded)))
    folded = folded.translate(_LETTER_VARIANTS).translate(DIGITS)
    return "".join(
        c if c in _KEPT_MARKS or unicodedata.category(c)[0] in "LN" else " " for c in folded
    )


class _FoldTable(dict[str, str]):
    def __missing__(self, char: str) -> str:
        folded = _fold_char(char)
        self[char] = folded
        return folded


_FOLD_TABLE = _FoldTable()


@dataclass(frozen=True)
class CleanText:
    """Text with markup removed and entities decoded, mapped back to the original.

    ``pieces`` (None when nothing was removed) holds, for every non-empty piece of ``text``, its
    start in ``text``, the original [start, end) it came from, and whether it was copied (else
    it replaced a tag or an entity, and each of its characters maps to the whole of it)."""

    original: str
    text: str
    pieces: tuple[tuple[int, int, int, bool], ...] | None = None

    @cached_property
    def _piece_starts(self) -> list[int]:
        return [piece[0] for piece in self.pieces or ()]

    def _original_range(self, index: int) -> tuple[int, int]:
        assert self.pieces is not None
        clean_start, begin, finish, copied = self.pieces[
            bisect_right(self._piece_starts, index) - 1
        ]
        if copied:
            return begin + index - clean_start, begin + index - clean_start + 1
        return begin, finish

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of the clean text's [start, end)."""
        if self.pieces is None:
            return start, end
        return self._original_range(start)[0], self._original_range(end - 1)[1]


def strip_markup(original: str) -> CleanText:
    """Remove HTML tags and comments, decode entities; block tags become paragraph breaks."""
    if "<" not in original and "&" not in original:
        return CleanText(original, original)
    texts: list[str] = []
    pieces: list[tuple[int, int, int, bool]] = []
    length = 0
    position = 0
    for found in _MARKUP.finditer(original):
        begin, finish = found.span()
        if begin > position:
            texts.append(original[position:begin])
            pieces.append((length, position, begin, True))
            length += begin - position
        token = found.group()
        if token.startswith("&"):
            replacement = html.unescape(token)
        elif (found.group("name") or "").lower() in _BLOCK_TAGS:
            replacement = "\n\n"
        else:
            replacement = " "
        if replacement:
            texts.append(replacement)
            pieces.append((length, begin, finish, False))
            length += len(replacement)
        position = finish
    if position < len(original):
        texts.append(original[position:])
        pieces.append((length, position, len(original), True))
    return CleanText(original, "".join(texts), tuple(pieces))


def _sentence_ends(text: str) -> list[int]:
    """Indexes in ``text`` where a new sentence begins."""
    ends: list[int] = []
    for found in _SENTENCE_END.finditer(text):
        if found.group("latin") and found.group("latin") == ".":
            word_start = text.rfind(" ", 0, found.start()) + 1
            word = text[word_start : found.start()].lstrip("(\"'«“").casefold()
            if len(word) <= 1 or word in _ABBREVIATIONS:
                continue
            following = text[found.end() :].lstrip()
            if following[:1].islower() or following[:1].isdigit():
                continue
        ends.append(found.end())
    return ends


@dataclass(frozen=True)
class FoldedText:
    """One field's folded text. ``joined`` is the clean text folded character by character
    before spaces are collapsed; the maps between the three are built only when asked for."""

    clean: CleanText
    text: str
    joined: str

    @property
    def original(self) -> str:
        return self.clean.original

    @cached_property
    def _pieces_base(self) -> list[int] | None:
        """Clean index of every ``joined`` character, when folding changed lengths."""
        if len(self.joined) == len(self.clean.text):
            return None
        base: list[int] = []
        for index, char in enumerate(self.clean.text):
            base.extend([index] * len(_FOLD_TABLE[char]))
        return base

    @cached_property
    def _words(self) -> tuple[list[int], list[int], list[int]]:
        """Per word: folded start, joined start, joined end."""
        folded_starts: list[int] = []
        joined_starts: list[int] = []
        joined_ends: list[int] = []
        folded = 0
        for found in _WORDS.finditer(self.joined):
            begin, finish = found.span()
            folded_starts.append(folded)
            joined_starts.append(begin)
            joined_ends.append(finish)
            folded += finish - begin + 1
        return folded_starts, joined_starts, joined_ends

    def _clean_index(self, index: int) -> int:
        if len(self.text) == len(self.joined):
            joined = index
        else:
            folded_starts, joined_starts, joined_ends = self._words
            word = bisect_right(folded_starts, index) - 1
            joined = min(joined_starts[word] + index - folded_starts[word], joined_ends[word])
        base = self._pieces_base
        return joined if base is None else base[joined]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of the folded [start, end)."""
        return self.clean.original_span(self._clean_index(start), self._clean_index(end - 1) + 1)

    def folded_index(self, clean_index: int) -> int:
        """The first folded character that comes from ``clean_index`` or after it."""
        base = self._pieces_base
        joined = clean_index if base is None else bisect_left(base, clean_index)
        folded_starts, joined_starts, joined_ends = self._words
        word = bisect_right(joined_ends, joined)
        if word == len(joined_ends):
            return len(self.text)
        return folded_starts[word] + max(0, joined - joined_starts[word])

    @cached_property
    def sentence_starts(self) -> tuple[int, ...]:
        breaks = {self.folded_index(end) for end in _sentence_ends(self.clean.text)}
        return tuple(sorted(b for b in breaks if 0 < b < len(self.text)))

    def sentence_of(self, index: int) -> int:
        return bisect_right(self.sentence_starts, index)

    @property
    def sentence_count(self) -> int:
        return len(self.sentence_starts) + 1

    @cached_property
    def token_starts(self) -> tuple[int, ...]:
        """Start of every word; each Chinese or Japanese character counts as a word."""
        starts: list[int] = []
        previous = " "
        for index, char in enumerate(self.text):
            if char != " " and (previous == " " or is_cjk(char) or is_cjk(previous)):
                starts.append(index)
            previous = char
        return tuple(starts)

    def word_of(self, index: int) -> int:
        return bisect_right(self.token_starts, index) - 1

    @property
    def word_count(self) -> int:
        return len(self.token_starts)


def fold(original: str) -> FoldedText:
    """Fold a field's text (markup removed) for matching; see the module docstring."""
    clean = strip_markup(original)
    joined = "".join(map(_FOLD_TABLE.__getitem__, clean.text))
    return FoldedText(clean, " ".join(joined.split()), joined)


def fold_term(term: str) -> str:
    """The folded form of a term as written in a rule or list (no offsets needed)."""
    return " ".join("".join(map(_FOLD_TABLE.__getitem__, html.unescape(term))).split())
