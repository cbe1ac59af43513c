"""Typo tolerance: correct question words that are not English words to the nearest word of
the corpus (or the glossary).

A word is left alone when it is in the corpus, in the glossary, or a known English word
(pyspellchecker's frequency list, shipped in its wheel): "cost" must stay "cost", not
become "most", or the bot would think it knows about prices. Only unknown words are
corrected, and only to a corpus word within a small edit distance (optimal string
alignment, so a swap of two letters counts as one edit).

>>> SpellFixer({"acupuncture", "sessions", "neuropathy"}).correct("acupunture sesions for nueropathy cost")
('acupuncture sessions for neuropathy cost', {'acupunture': 'acupuncture', 'sesions': 'sessions', 'nueropathy': 'neuropathy'})
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]")


RAREST_COUNT = 50  # pyspellchecker's count for its rarest words ("viatica", "messene")


@lru_cache(maxsize=1)
def _checker():
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1)


def english_words():
    return _checker().word_frequency


def english_neighbours(word: str) -> dict[str, int]:
    """The English words one edit from `word` (a letter left out, added, changed, or two swapped), with how often
    each is used; the rarest words of the list are left out.

    >>> sorted(english_neighbours("injurred"))
    ['incurred', 'injured']
    """
    checker, word = _checker(), word.lower()
    counts = checker.word_frequency
    return {w: counts[w] for w in checker.edit_distance_1(word) if w != word and w in counts and counts[w] > RAREST_COUNT}


def max_edits(word: str) -> int:
    return 0 if len(word) < 4 else 1 if len(word) < 7 else 2


class SpellFixer:
    def __init__(self, vocabulary: set[str] | Counter, *, keep: set[str] | frozenset[str] = frozenset()):
        """`vocabulary`: the words a typo may be corrected to (with how often each is used); `keep`: words
        never corrected but never a correction either (the business words of qa/requests.yaml and
        qa/topics.yaml: "medicaid" must stay itself, and a typo of an article's word must not become it)."""
        counts = vocabulary if isinstance(vocabulary, Counter) else Counter(vocabulary)
        self.vocabulary = {w.lower(): c for w, c in counts.items() if len(w) >= 3}
        self.keep = {w.lower() for w in keep}
        self._choices = sorted(self.vocabulary)

    def known(self, word: str) -> bool:
        w = word.lower()
        return w in self.vocabulary or w in self.keep or w in english_words()

    def fix_word(self, word: str) -> str | None:
        """The corpus word `word` is a misspelling of, or None."""
        w = word.lower()
        limit = max_edits(w)
        if limit == 0 or self.known(w):
            return None
        found = process.extract(w, self._choices, scorer=OSA.distance, score_cutoff=limit, limit=5)
        if not found:
            return None
        best = min(found, key=lambda item: (item[1], -self.vocabulary[item[0]], item[0]))
        return best[0]

    def correct(self, text: str) -> tuple[str, dict[str, str]]:
        corrections: dict[str, str] = {}

        def replace(match: re.Match) -> str:
            fixed = self.fix_word(match.group(0))
            if fixed is None:
                return match.group(0)
            corrections[match.group(0)] = fixed
            return fixed

        return _WORD.sub(replace, text), corrections
