"""A rough English gloss of a question in Spanish, Chinese, Russian or Vietnamese, so that the English articles
can be searched with it.

There is no translation model here (and no network), so the gloss is a reviewed lexicon per language
(qa/spanish.yaml, qa/chinese.yaml, qa/russian.yaml, qa/vietnamese.yaml): the articles' vocabulary and everyday
question words, phrases first ("dejar de tomar" -> "stop taking"), then single words; articles and most
function words drop out; a word the lexicon does not know (a drug name, an English word in Spanglish) stays as
it is. "puedo seguir tomando la gabapentina si empiezo la acupuntura?" becomes something like "can I keep taking
gabapentina if I start acupuncture?": not good English, but the words that retrieval, the question bank and the
re-ranker need. Two languages need more than words between spaces: Russian inflects, so its lexicon also has
`stems` (a word's beginning: "иглоукалыван" for every form of "иглоукалывание"); Chinese has no spaces, so
its lexicon is read character by character (`match: characters`), longest entry first, and a Chinese character
it does not know drops out.

Only what is searched is glossed: the answer quotes the English articles, and the note that the articles are in
English comes first (qa/wording.py). Safety triage reads the message itself (qa/red_flags.py).

>>> Gloss({"dejar de tomar": "stop taking"}, {"puedo": "can I", "la": "", "gabapentina": "gabapentin"}).english("¿Puedo dejar de tomar la gabapentina?")
'can I stop taking gabapentin?'
>>> Gloss({}, {"у": "", "меня": "I have"}, stems={"невропат": "neuropathy"}).english("У меня невропатия.")
'I have neuropathy.'
>>> Gloss({"针灸": "acupuncture", "有用": "help"}, {}, characters=True).english("针灸有用吗？")
'acupuncture help?'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

from .errors import QAError

LEXICONS = {"es": "spanish.yaml", "zh": "chinese.yaml", "ru": "russian.yaml", "vi": "vietnamese.yaml"}
LEXICON_FILE = Path(__file__).with_name(LEXICONS["es"])
# A word (hyphenated ones whole: "medi-cal", "post-quimio"), a number, or one sign.
_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*|\d+|[^\w\s]", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_PUNCTUATION = str.maketrans({"？": "?", "，": ",", "。": ".", "！": "!", "、": ",", "；": ";", "：": ":"})


def fold(word: str) -> str:
    """Lower case, accents (and the tilde of ñ, Vietnamese tones and marks, đ as d) removed: how the lexicons'
    keys are read, so that a question typed without them still matches.

    >>> fold("Año"), fold("AGUJAS")
    ('ano', 'agujas')
    """
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower().replace("đ", "d"))
                   if not unicodedata.combining(c))


@dataclass(frozen=True)
class Gloss:
    phrases: dict[str, str]
    words: dict[str, str]
    stems: dict[str, str] = field(default_factory=dict)  # a word's beginning -> English (inflected languages)
    characters: bool = False  # read character by character (a language written without spaces)

    @classmethod
    def load(cls, path: Path = LEXICON_FILE) -> "Gloss":
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise QAError(f"The lexicon {path} cannot be read ({exc}); restore it from git.") from exc
        if data.get("format") != 1 or not isinstance(data.get("words", {}), dict) or data.get("match", "words") not in ("words", "characters"):
            raise QAError(f"The lexicon {path} must have 'format: 1', 'phrases:' and 'words:' mappings and 'match:' words or "
                          "characters; restore it from git.")
        def table(key: str) -> dict[str, str]:
            return {fold(str(k)): "" if v is None else str(v) for k, v in (data.get(key) or {}).items()}
        return cls(table("phrases"), table("words"), table("stems"), characters=data.get("match") == "characters")

    def english(self, text: str) -> str:
        """The gloss of `text`: phrases, then words, then stems, replaced by their English; punctuation kept;
        ¿ and ¡ dropped."""
        if self.characters:
            return self._english_by_characters(text)
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
                if token not in "¿¡":
                    out.append(self._word(token, key))
                i += 1
        return _joined(out)

    def _word(self, token: str, key: str) -> str:
        """One word's English: the lexicon's word, phrase or stem; a hyphenated word unknown as a whole is read
        part by part, its hyphens kept ("post-quimio": "post-chemo"), so a name such as "Medi-Cal" stays itself."""
        if key in self.words:
            return self.words[key]
        if key in self.phrases:
            return self.phrases[key]
        if "-" in token:  # a part glossed to nothing goes with its hyphen
            return "-".join(w for w in (self._word(part, fold(part)) for part in token.split("-")) if w)
        return self._stem(key, token)

    def _stem(self, key: str, token: str) -> str:
        for end in range(len(key), 2, -1):  # the longest known beginning of at least three letters
            if key[:end] in self.stems:
                return self.stems[key[:end]]
        return token

    @cached_property
    def _entries(self) -> dict[str, str]:
        """Phrases and words as one table, for a language read character by character."""
        return {**self.words, **self.phrases}

    def _english_by_characters(self, text: str) -> str:
        text = text.translate(_CJK_PUNCTUATION)
        longest = max(map(len, self._entries), default=0)
        out: list[str] = []
        i = 0
        while i < len(text):
            for size in range(min(longest, len(text) - i), 0, -1):
                english = self._entries.get(fold(text[i : i + size]))
                if english is not None:
                    out.append(english)
                    i += size
                    break
            else:
                if _CJK.match(text[i]):  # an unknown Chinese character drops out
                    out.append("")
                elif out and out[-1] and not out[-1].endswith(" ") and not _CJK.match(text[i - 1]):
                    out[-1] += text[i]  # the rest of a run of other text (a drug name, a number)
                else:
                    out.append(text[i])
                i += 1
        return _joined(out)


def _joined(parts: list[str]) -> str:
    text = " ".join(part for part in parts if part and not part.isspace())
    return re.sub(r"\s+([?.!,;:])", r"\1", re.sub(r"\s+", " ", text)).strip()


@lru_cache(maxsize=None)
def for_language(language: str) -> Gloss | None:
    """The packaged lexicon of `language` (a code of qa/language.py), loaded once; None for English and for a
    language without one."""
    name = LEXICONS.get(language)
    return Gloss.load(Path(__file__).with_name(name)) if name else None
