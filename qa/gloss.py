"""A rough English gloss of a Spanish question, so that the English articles can be searched with it.

There is no translation model here (and no network), so the gloss is a reviewed lexicon (qa/spanish.yaml): the
articles' vocabulary and everyday question words in Spanish, phrases first ("dejar de tomar" -> "stop taking"),
then single words; articles and most function words drop out; a word the lexicon does not know (a drug name,
an English word in Spanglish) stays as it is. "puedo seguir tomando la gabapentina si empiezo la acupuntura?"
becomes something like "can I keep taking gabapentina if I start acupuncture?": not good English, but the
words that retrieval, the question bank and the re-ranker need.

Only what is searched is glossed: the answer quotes the English articles, and the note that the articles are in
English comes first (qa/wording.py). Safety triage reads the Spanish itself (qa/red_flags.py).

>>> Gloss({"dejar de tomar": "stop taking"}, {"puedo": "can I", "la": "", "gabapentina": "gabapentin"}).english("¿Puedo dejar de tomar la gabapentina?")
'can I stop taking gabapentin?'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .errors import QAError

LEXICON_FILE = Path(__file__).with_name("spanish.yaml")
_TOKEN = re.compile(r"[^\W\d_]+|\d+|[^\w\s]", re.UNICODE)


def fold(word: str) -> str:
    """Lower case, accents (and the tilde of ñ) removed: how the lexicon's keys are written.

    >>> fold("Año"), fold("AGUJAS")
    ('ano', 'agujas')
    """
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


@dataclass(frozen=True)
class Gloss:
    phrases: dict[str, str]
    words: dict[str, str]

    @classmethod
    def load(cls, path: Path = LEXICON_FILE) -> "Gloss":
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise QAError(f"The Spanish lexicon {path} cannot be read ({exc}); restore it from git.") from exc
        if data.get("format") != 1 or not isinstance(data.get("words"), dict):
            raise QAError(f"The Spanish lexicon {path} must have 'format: 1' and a 'words:' mapping; restore it from git.")
        return cls({fold(str(k)): str(v) for k, v in (data.get("phrases") or {}).items()},
                   {fold(str(k)): str(v) for k, v in data["words"].items()})

    def english(self, text: str) -> str:
        """The gloss of `text`: phrases, then words, replaced by their English; punctuation kept; ¿ and ¡ dropped."""
        tokens = _TOKEN.findall(text)
        folded = [fold(t) for t in tokens]
        longest = max((len(p.split()) for p in self.phrases), default=0)
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for size in range(min(longest, len(tokens) - i), 1, -1):
                phrase = " ".join(folded[i : i + size])
                if phrase in self.phrases:
                    out.append(self.phrases[phrase])
                    i += size
                    break
            else:
                token, key = tokens[i], folded[i]
                if token in "¿¡":
                    pass
                elif key in self.words:
                    out.append(self.words[key])
                else:
                    out.append(token)
                i += 1
        text = " ".join(t for t in out if t)
        return re.sub(r"\s+([?.!,;:])", r"\1", text).strip()


@lru_cache(maxsize=1)
def spanish() -> Gloss:
    """The packaged lexicon, loaded once."""
    return Gloss.load()
