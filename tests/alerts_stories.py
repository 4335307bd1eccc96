"""Alerts used by the alerts tests: the founding story, a title-only one, non-English ones."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.models import Alert, Hit, Match, Story

NOW = datetime(2024, 2, 20, 9, 40, tzinfo=UTC)

DPRK_RULE = dict(
    rule_id="dprk-luxury-goods",
    rule_title="Luxury goods supplied to North Korea",
    category="luxury_goods",
    severity="high",
    channel="#sanctions-dprk",
    references=(
        "UNSCR 1718 (2006) para 8(a)(iii)",
        "https://www.un.org/securitycouncil/sanctions/1718",
    ),
)


def match(group: str, term: str, field: str, text: str, found: str, occurrence: int = 0) -> Match:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(found, start + 1)
    return Match(group, term, found, field, start, start + len(found))


def alert_for(story: Story, matches: list[Match], alert_id: int = 42, **rule: object) -> Alert:
    fields = {**DPRK_RULE, **rule}
    hit = Hit(matches=tuple(matches), **fields)  # type: ignore[arg-type]
    return Alert(alert_id, story, (hit,), hit.channel)


def founding_alert(alert_id: int = 42) -> Alert:
    title = "Putin gifts Kim Jong Un an Aurus limousine"
    summary = (
        "Russian President Vladimir Putin has gifted North Korean leader Kim Jong Un a "
        "Russian-made Aurus car, state media KCNA said on Tuesday, in a move that appears to "
        "breach UN sanctions banning the supply of luxury goods to Pyongyang."
    )
    story = Story(
        id="https://example.com/world/putin-gifts-kim-aurus",
        feed_url="https://example.com/world/rss.xml",
        title=title,
        summary=summary,
        link="https://example.com/world/putin-gifts-kim-aurus?utm=rss&ref=feed",
        published=datetime(2024, 2, 20, 6, 15, tzinfo=UTC),
        language="en",
        source="Example Wire",
    )
    return alert_for(
        story,
        [
            match("dprk", "kim jong un", "title", title, "Kim Jong Un"),
            match("luxury", "aurus", "title", title, "Aurus"),
            match("luxury", "limousine", "title", title, "limousine"),
            match("supply", "gift*", "title", title, "gifts"),
            match("dprk", "kim jong un", "summary", summary, "Kim Jong Un"),
            match("luxury", "aurus", "summary", summary, "Aurus"),
            match("supply", "gift*", "summary", summary, "gifted"),
        ],
        alert_id,
    )


def title_only_alert() -> Alert:
    title = "N. Korea's Kim receives second Aurus from Putin - KCNA"
    story = Story(
        id="wire-2024-06-20-0815",
        feed_url="https://wire.example.org/asia.rss",
        title=title,
        link="https://wire.example.org/asia/kim-second-aurus",
        published=datetime(2024, 2, 18, 22, 5, tzinfo=UTC),
    )
    return alert_for(
        story,
        [
            match("dprk", "kim", "title", title, "Kim"),
            match("supply", "receiv*", "title", title, "receives"),
            match("luxury", "aurus", "title", title, "Aurus"),
        ],
        43,
    )


def russian_alert() -> Alert:
    title = "Путин подарил Ким Чен Ыну автомобиль Aurus"
    summary = (
        "Президент России Владимир Путин подарил лидеру КНДР Ким Чен Ыну автомобиль Aurus "
        "российского производства, сообщило ЦТАК. Поставки предметов роскоши в КНДР запрещены "
        "резолюциями Совета Безопасности ООН."
    )
    story = Story(
        id="ria-20240220-aurus",
        feed_url="https://news.example.ru/rss",
        title=title,
        summary=summary,
        link="https://news.example.ru/20240220/aurus.html",
        published=datetime(2024, 2, 20, 9, 38, tzinfo=UTC),
        language="ru",
        source="Пример Новости",
    )
    return alert_for(
        story,
        [
            match("dprk", "ким чен ын", "summary", summary, "Ким Чен Ын"),
            match("supply", "подар*", "summary", summary, "подар"),
            match("luxury", "aurus", "summary", summary, "Aurus"),
            match("dprk", "ким чен ын", "title", title, "Ким Чен Ын"),
        ],
        44,
    )


def korean_alert() -> Alert:
    title = "푸틴, 김정은에게 아우루스 승용차 선물"
    summary = (
        "러시아 푸틴 대통령이 김정은 국무위원장에게 러시아제 아우루스 승용차를 "
        "선물했다고 조선중앙통신이 보도했다."
    )
    story = Story(
        id="yna-aurus",
        feed_url="https://news.example.kr/rss",
        title=title,
        summary=summary,
        link="https://news.example.kr/view/aurus",
        published=datetime(2024, 2, 16, 1, 0, tzinfo=UTC),
        language="ko",
        source="예시 뉴스",
    )
    return alert_for(
        story,
        [
            match("dprk", "김정은", "summary", summary, "김정은"),
            match("luxury", "아우루스", "summary", summary, "아우루스"),
            match("supply", "선물", "summary", summary, "선물"),
        ],
        45,
    )


INJECTION_TITLE = "<!channel> Kim gets a yacht <http://evil.example|click> & more"


def injection_alert() -> Alert:
    summary = "<@U024BE7LH> <!here> *Kim Jong Un* receives a yacht <https://evil.example> & <#C123>"
    story = Story(
        id="evil",
        feed_url="https://evil.example/feed",
        title=INJECTION_TITLE,
        summary=summary,
        link="https://evil.example/a|b>c<!channel>",
        published=NOW,
        source="<!everyone> Evil & Co",
    )
    return alert_for(
        story,
        [
            match("dprk", "kim", "title", INJECTION_TITLE, "Kim"),
            match("luxury", "yacht", "title", INJECTION_TITLE, "yacht"),
            match("dprk", "kim jong un", "summary", summary, "Kim Jong Un"),
            match("luxury", "yacht", "summary", summary, "yacht"),
            match("supply", "receiv*", "summary", summary, "receives"),
        ],
        66,
    )


LEADER_RULE = dict(
    rule_id="leader-gifts",
    rule_title="Gifts between sanctioned leaders",
    category="sanctioned_leader",
    severity="medium",
    channel="#sanctions-dprk",
    references=("EU Regulation 2017/1509", "UNSCR 1718 (2006) para 8(a)(iii)"),
)


def multi_hit_alert() -> Alert:
    """The founding story matched by two rules for one channel: the more severe one leads."""
    founding = founding_alert(46)
    title, summary = founding.story.title, founding.story.summary
    leader = Hit(
        matches=(
            match("giver", "putin", "title", title, "Putin"),
            match("giver", "vladimir putin", "summary", summary, "Vladimir Putin"),
            match("receiver", "kim jong un", "summary", summary, "Kim Jong Un"),
            match("gift", "gift*", "summary", summary, "gifted"),
        ),
        **LEADER_RULE,  # type: ignore[arg-type]
    )
    return Alert(46, founding.story, (leader, founding.hit), "#sanctions-dprk")
