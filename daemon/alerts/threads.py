"""Story clusters: does a new alert belong in the thread of an earlier one? Pure functions.

Two stories cover the same event when they are the same story (a new rule matched it), share a
canonical link, or have near-identical titles. Titles are compared with rapidfuzz's token-set
ratio, which scores 100 whenever one title's words are a subset of the other's; a short title
such as "North Korea" would then join everything, so both titles need a few words and the
shorter one at least half the words of the longer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from rapidfuzz import fuzz

from daemon.feeds.identity import canonical_link
from daemon.models import Alert, Story

TITLE_SIMILARITY = 90.0
MIN_TITLE_WORDS = 4


def same_event(story: Story, other: Story, threshold: float = TITLE_SIMILARITY) -> bool:
    if story.id == other.id:
        return True
    if story.link and other.link and canonical_link(story.link) == canonical_link(other.link):
        return True
    return similar_titles(story.title, other.title, threshold)


def similar_titles(first: str, second: str, threshold: float = TITLE_SIMILARITY) -> bool:
    words_first, words_second = _words(first), _words(second)
    shorter, longer = sorted((len(words_first), len(words_second)))
    if shorter < MIN_TITLE_WORDS or shorter * 2 < longer:
        return False
    score = fuzz.token_set_ratio(" ".join(words_first), " ".join(words_second))
    return bool(score >= threshold)


def find_thread_root(
    story: Story, roots: Sequence[Alert], threshold: float = TITLE_SIMILARITY
) -> Alert | None:
    """The earliest top-level alert covering the same event as ``story``, if any."""
    for root in sorted(roots, key=lambda alert: alert.id):
        if same_event(story, root.story, threshold):
            return root
    return None


def _words(title: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", title).casefold()
    cleaned = "".join(char if char.isalnum() else " " for char in folded)
    return cleaned.split()
