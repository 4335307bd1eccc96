"""Helpers for the rules tests: write a small rules folder into a temporary directory."""

from __future__ import annotations

import textwrap
from pathlib import Path

from daemon.models import Story

DPRK_LIST = """\
name: dprk_actors
description: DPRK leadership and state
entries:
  - name: Kim Jong Un
    aliases: [Kim Jong-un, 김정은, 金正恩, Ким Чен Ын, キム・ジョンウン, كيم جونغ أون]
  - North Korea
  - Pyongyang
"""

LUXURY_LIST = """\
name: luxury_goods
entries: [limousine, Aurus, Mercedes-Benz, 리무진, 豪华轿车, лимузин, ليموزين]
"""

LUXURY_RULE = """\
id: dprk-luxury-goods
title: Luxury goods supplied to North Korea
category: luxury_goods
severity: high
channel: "#sanctions-dprk"
references: ["UNSCR 1718 (2006) para 8(a)(iii)"]
terms:
  dprk:   {list: dprk_actors}
  luxury: {list: luxury_goods}
  supply: [gift*, present*, deliver*, suppl*, ship*, 선물, 赠送, подар*, هدية]
  noise:  ["Kim Kardashian"]
condition: dprk and luxury and supply and not noise
window: 2 sentences
examples:
  alert:
    - "Putin gifts Kim Jong Un a Russian-made Aurus limousine"
    - {title: "Kim rides new limousine", summary: "The Aurus was a gift from Pyongyang's friends."}
  quiet:
    - "Aurus unveils a new Senat sedan at the Moscow motor show"
"""


def write_rules(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> YAML text) under ``root``; returns ``root``."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def dprk_rules(root: Path, **extra: str) -> Path:
    return write_rules(
        root,
        {
            "lists/dprk_actors.yaml": DPRK_LIST,
            "lists/luxury_goods.yaml": LUXURY_LIST,
            "dprk/luxury.yaml": LUXURY_RULE,
            **extra,
        },
    )


def story(title: str, summary: str = "", content: str = "", story_id: str = "s1") -> Story:
    return Story(id=story_id, feed_url="test", title=title, summary=summary, content=content)
