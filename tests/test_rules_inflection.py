from __future__ import annotations

import pytest

from daemon.rules.compiler import TermMatcher
from daemon.rules.normalize import fold


def _found(term: str, text: str) -> list[str]:
    """The original text of every match of ``term`` in ``text``."""
    folded = fold(text)
    return [
        text[slice(*(hit.original or folded.original_span(hit.start, hit.end)))]
        for hit in TermMatcher([(0, term)]).scan(folded)
    ]


@pytest.mark.parametrize(
    ("term", "text", "found"),
    [
        ("Северная Корея", "санкции против Северной Кореи", "Северной Кореи"),
        ("Северная Корея", "поставки в Северную Корею", "Северную Корею"),
        ("Северная Корея", "переговоры с Северной Кореей", "Северной Кореей"),
        ("Північна Корея", "санкції проти Північної Кореї", "Північної Кореї"),
        ("Північна Корея", "разом із Північною Кореєю", "Північною Кореєю"),
        ("военная техника", "поставки военной техники", "военной техники"),
        ("военная техника", "обмен военной техникой", "военной техникой"),
        ("Ким Чен Ын", "встреча с Ким Чен Ыном", "Ким Чен Ыном"),
        ("Ким Чен Ын", "письмо Ким Чен Ына", "Ким Чен Ына"),
        ("Путин вручил", "Путина вручили", "Путина вручили"),
        ("ракета", "запуск ракет", "ракет"),
        ("нефть", "поставки нефти", "нефти"),
        ("Білорус", "білоруські підприємства", "білоруські"),
    ],
)
def test_every_word_of_a_cyrillic_term_inflects(term: str, text: str, found: str) -> None:
    assert _found(term, text) == [found]


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("Северная Корея", "Северокорейский лидер"),
        ("Корея", "корейцы приехали"),
        ("прибыль", "посол прибыл в Москву"),
        ("Украине", "территория Украины"),
        ("Россия", "россиянам запретили"),
        ("военные", "военного сотрудничества"),
        ("военный", "военной техники"),
        ("Україні", "війна проти України"),
        ("Ким Чен Ын", "Ким Чен Ыннннн"),
    ],
)
def test_cyrillic_stems_stay_bounded(term: str, text: str) -> None:
    assert _found(term, text) == []


@pytest.mark.parametrize(
    ("term", "text", "found"),
    [
        ("بشار الأسد", "التقى ببشار الأسد", "ببشار الأسد"),
        ("بشار الأسد", "رسالة لبشار للأسد", "لبشار للأسد"),
        ("كوريا الشمالية", "صواريخ لكوريا الشمالية", "لكوريا الشمالية"),
        ("كوريا الشمالية", "أسلحة وكوريا والشمالية", "وكوريا والشمالية"),
        ("الحرس الثوري", "قائد للحرس الثوري", "للحرس الثوري"),
        ("طائرة مسيرة", "طائرات مسيرة إيرانية", "طائرات مسيرة"),
        ("صاروخ", "صواريخ وصاروخهم", "وصاروخهم"),
        ("إيران", "شركات إيرانية", "إيرانية"),
        ("حوثي", "قادة الحوثيين", "الحوثيين"),
        ("سلاح", "ارسال سلاح‌های روسی", "سلاح‌های"),
        ("موشک بالستیک", "موشک‌های بالستیک", "موشک‌های بالستیک"),
        ("نیرو", "نیروی هوایی", "نیروی"),
    ],
)
def test_arabic_and_persian_affixes(term: str, text: str, found: str) -> None:
    assert _found(term, text) == [found]


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("الأسد", "أسد في حديقة الحيوان"),
        ("طائرة", "طائر في السماء"),
        ("صاروخ", "صاروخستان"),
        ("سلاح", "سلاحفة"),
    ],
)
def test_arabic_affixes_stay_bounded(term: str, text: str) -> None:
    assert _found(term, text) == []


def test_persian_and_arabic_indic_digits_fold_to_ascii() -> None:
    assert fold("یاک-۱۳۰ و ٣٠٠").text == "ياك 130 و 300"
    assert _found("Yak-130", "Yak ۱۳۰") == ["Yak ۱۳۰"]
    regex = TermMatcher([], [(0, r"\b130\b")])
    assert [hit.original for hit in regex.scan(fold("یاک-۱۳۰"))] == [(4, 7)]


@pytest.mark.parametrize(
    ("term", "text", "found"),
    [
        ("김정은", "김정은에게 선물", "김정은에게"),
        ("북한", "북한군 파병", "북한군"),
        ("북한", "북한산 석탄", "북한산"),
        ("러시아", "러시아와의 협력", "러시아와의"),
        ("러시아", "러시아로부터 받은", "러시아로부터"),
        ("인도", "인도에서 열린", "인도에서"),
        ("러시아 시장", "러시아 시장에서", "러시아 시장에서"),
    ],
)
def test_hangul_terms_take_particles(term: str, text: str, found: str) -> None:
    assert _found(term, text) == [found]


@pytest.mark.parametrize(
    ("term", "text"),
    [("인도", "인도네시아 해군"), ("러시아", "러시아대사관 앞"), ("북한", "북한학 교수")],
)
def test_hangul_terms_do_not_run_into_other_words(term: str, text: str) -> None:
    assert _found(term, text) == []


def test_hangul_prefix_term_still_matches_any_continuation() -> None:
    assert _found("인도*", "인도네시아 해군") == ["인도네시아"]


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("efectivo", "un centenar de efectivos"),
        ("sport", "European sports cars"),
        ("Korea", "a Korean firm"),
        ("Panzer", "mit Panzern"),
    ],
)
def test_latin_terms_match_as_written(term: str, text: str) -> None:
    """Plurals change meaning too often (efectivo 'cash' / efectivos 'troops'); rules write the
    plural or ``word*``."""
    assert _found(term, text) == []
