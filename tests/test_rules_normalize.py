from __future__ import annotations

import pytest

from daemon.rules.normalize import fold, fold_term, strip_markup


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("Kim Jong-un", "kim jong un"),
        ("KIM JONG UN", "kim jong un"),
        ("Kim  Jong Un", "kim jong un"),
        ("Kim Jong‐un", "kim jong un"),
        ("Ｋｉｍ　Ｊｏｎｇ－ｕｎ", "kim jong un"),
        ("Lukašenka", "lukasenka"),
        ("Straße", "strasse"),
        ("Ёлка", "елка"),
        ("ایران کشور", "ايران كشور"),
        ("مُحَمَّد", "محمد"),
        ("بـــشار", "بشار"),
        ("الأسد", "الاسد"),
        ("مدرسة", "مدرسه"),
        ("l'Aurus", "l aurus"),
        ("S-400", "s 400"),
        ("🚗🚗 \x00\x07", ""),
        ("می\u200cخواهد", "میخواهد".replace("ی", "ي")),
    ],
)
def test_fold_term_folds_case_width_diacritics_punctuation_and_letter_variants(
    written: str, folded: str
) -> None:
    assert fold_term(written) == folded


def test_folded_text_maps_back_to_original_spans() -> None:
    original = "<p>Putin&nbsp;gifts <b>Kim Jong-un</b> an Aurus</p>"
    folded = fold(original)
    assert folded.text == "putin gifts kim jong un an aurus"
    start = folded.text.index("kim jong un")
    begin, end = folded.original_span(start, start + len("kim jong un"))
    assert original[begin:end] == "Kim Jong-un"
    aurus = folded.text.index("aurus")
    begin, end = folded.original_span(aurus, aurus + 5)
    assert original[begin:end] == "Aurus"


def test_markup_and_entities_are_removed_before_folding() -> None:
    assert fold("Kim&#39;s &amp; <b>car</b> &lt;3").text == "kim s car 3"


def test_entity_maps_to_whole_entity_in_original() -> None:
    original = "Caf&eacute; owner"
    folded = fold(original)
    assert folded.text == "cafe owner"
    begin, end = folded.original_span(0, 4)
    assert original[begin:end] == "Caf&eacute;"


def test_sentences_split_on_latin_cjk_and_arabic_punctuation() -> None:
    assert fold("One thing. Another thing! A third?").sentence_count == 3
    assert fold("金正恩访问。普京赠送豪华轿车。").sentence_count == 2
    assert fold("هل وصلت السيارة؟ نعم وصلت").sentence_count == 2
    assert fold("The U.S. and Mr. Kim met on Jan. 5 in Hanoi.").sentence_count == 1


def test_tokens_count_cjk_characters_as_words() -> None:
    folded = fold("普京 gifts 金正恩")
    assert folded.word_count == 2 + 1 + 3


def test_every_clean_character_maps_back_to_what_it_came_from() -> None:
    original = "<p>Kim&nbsp;Jong&#45;un</p><b>Aurus</b> &amp; more &xyzw; end"
    clean = strip_markup(original)
    assert clean.text == "\n\nKim\xa0Jong-un\n\n Aurus  & more &xyzw; end"
    for index, char in enumerate(clean.text):
        start, end = clean.original_span(index, index + 1)
        piece = original[start:end]
        assert piece == char or piece[0] in "<&", (index, char, piece)
    assert clean.original_span(2, 13) == (3, 23)
    assert original[3:23] == "Kim&nbsp;Jong&#45;un"
