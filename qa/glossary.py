"""The lay-term glossary (glossary.yaml): expand a question with the articles' own words.

>>> g = Glossary({"blood thinners": ["warfarin", "eliquis"], "chemotherapy": ["chemo"]})
>>> g.expansions("Is it OK with Warfarin after chemo?")
['blood thinners', 'chemotherapy']
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

GLOSSARY_FILE = Path(__file__).with_name("glossary.yaml")


class Glossary:
    def __init__(self, entries: dict[str, list[str]]):
        self.entries = {term: [lay.lower() for lay in lays] for term, lays in entries.items()}
        self._patterns = [
            (term, whole_words_pattern(lays), _first_words(lays))
            for term, lays in self.entries.items()
        ]

    @classmethod
    def load(cls, path: Path = GLOSSARY_FILE) -> "Glossary":
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise ValueError(f"{path} must map each article term to a list of lay terms")
        return cls({str(k): [str(x) for x in v] for k, v in data.items()})

    def expansions(self, text: str, *, unknown_to: set[str] | None = None) -> list[str]:
        """Article terms whose lay words occur in `text`, in glossary order. With `unknown_to` (a vocabulary),
        only those found through a lay term with a word outside it: a word the articles never use.

        >>> g = Glossary({"blood thinners": ["warfarin"], "pain": ["hurt"]})
        >>> g.expansions("Will warfarin hurt?", unknown_to={"hurt", "will"})
        ['blood thinners']
        """
        lowered = text.lower().replace("\u2019", "'")
        words = set(_WORD.findall(lowered))
        found = []
        for term, pattern, first in self._patterns:
            if (first is not None and not first & words) or term.lower() in lowered:
                continue
            matches = [m.group(0) for m in pattern.finditer(lowered)]
            if matches and (unknown_to is None or any(set(_WORD.findall(m)) - unknown_to for m in matches)):
                found.append(term)
        return found

    def lay_words(self) -> set[str]:
        """Every single-word lay term, for spelling correction and the known-words check."""
        return {w for lays in self.entries.values() for lay in lays for w in re.findall(r"[a-z]+", lay)}

    def lay_terms(self) -> set[str]:
        """Every lay term whole, phrases included (lowercase): words the glossary says the articles cover."""
        return {lay for lays in self.entries.values() for lay in lays}


def whole_words_pattern(phrases) -> re.Pattern:
    """One pattern matching any of `phrases` as whole words, longest first (so "low back pain" beats "low").

    >>> whole_words_pattern(["back", "back pain"]).search("my back pain").group(0)
    'back pain'
    """
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)) + r")\b")


_WORD = re.compile(r"\w+")


def _first_words(lays: list[str]) -> set[str] | None:
    """The first word of each lay term: a term's pattern can only match a text holding one of them as a
    whole word (the pattern starts and ends at word boundaries), so the others are skipped unsearched.
    None when some lay term does not start with a word character (always search then)."""
    firsts = set()
    for lay in lays:
        match = _WORD.match(lay)
        if match is None:
            return None
        firsts.add(match.group(0))
    return firsts


@lru_cache(maxsize=1)
def default_glossary() -> Glossary:
    return Glossary.load()
