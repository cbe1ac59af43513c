"""Is a question written in English? The articles are English only.

Cheap signals, no model:

- the script: mostly Chinese or Japanese characters, Cyrillic, Arabic, Hangul, ... (`SCRIPTS`);
- Vietnamese by its own letters (ư, ơ, ạ, ế, đ, ...);
- for other Latin-script text, two votes: each language's everyday function words ("que", "las", "mi", "po",
  "ang", ...: `FUNCTION_WORDS`), which decide even a short message ("¿Duelen las agujas?"), and, as before, how
  many of its words are known English words against how many are known in Spanish, French, German, Portuguese
  or Italian (pyspellchecker's word lists).

Mixed text (Spanglish) counts as the language most of its function words are in; a message with no sign
of another language counts as English: a wrong "not English" note is worse than none.

>>> detect("¿La acupuntura duele mucho?"), detect("Will the needles hurt?"), detect("hi")
('es', 'en', 'en')
>>> detect("cuantas sesiones se necesitan para ver resultados"), detect("针灸有用吗"), detect("châm cứu có đau không")
('es', 'zh', 'vi')
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from .spelling import english_words

OTHER_LANGUAGES = ("es", "fr", "de", "pt", "it")
NAMES = {"es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian", "vi": "Vietnamese",
         "tl": "Tagalog", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "ru": "Russian", "ar": "Arabic",
         "other": "another language"}
# Unicode name prefix of a letter -> the language its script most likely means here.
SCRIPTS = {"CJK": "zh", "HIRAGANA": "ja", "KATAKANA": "ja", "HANGUL": "ko", "CYRILLIC": "ru", "ARABIC": "ar"}
_VIETNAMESE_LETTERS = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
# Everyday words that are (nearly) never English, per language: two of them, or one in a message of three words or
# fewer, and more of them than English ones, make a message that language.
FUNCTION_WORDS = {
    "es": set("que las los del una por para con como pero porque mi mis tengo tiene puedo puede esta estoy es muy "
              "ya si sus hace cuando donde cuanto cuantas cuantos cuánto cuántas cuántos qué cómo también tambien "
              "sesiones agujas duele duelen ayuda sirve hay señor señora gracias hola usted ustedes nosotros "
              "el la lo le se y o en de al".split()),
    "pt": set("que não nao uma para com como mas porque meu minha tenho tem posso pode está estou muito já sim "
              "quando onde quanto também obrigado obrigada você vocês dos das ao".split()),
    "fr": set("que les des une pour avec comme mais parce mon ma mes j'ai je tu il elle est suis très déjà oui quand "
              "où combien aussi merci bonjour vous nous du au aux le la et ou".split()),
    "de": set("und der das ein eine ist ich nicht mit für auf wie aber weil mein meine habe kann sehr schon "
              "wann wo wieviel auch danke hallo sie wir".split()),
    "it": set("che gli una per con come ma perché mio mia ho può sono molto già quando dove quanto anche grazie "
              "ciao lei noi il lo della delle".split()),
    "tl": set("po ang ng mga sa yung ba naman lang ako siya ko mo niya nang kung salamat wala hindi opo".split()),
    "vi": set("khong toi co bi cua nguoi duoc nhung voi".split()),
}
# English words that are also function words of another language above, so that they do not count against English.
_ENGLISH_FUNCTION_WORDS = set("the and is are was to of in on for with my me i you he she it we they do does can will "
                              "what how why when where this that have has be not or if so at by from an a".split())
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


# Per other language, its 60,000 most frequent words are enough to tell it from English (the same verdicts as the
# full lists on both question sets and on questions in each language); the full lists (86k to 417k
# words each, ~150 MB together) cost memory for words a question would hardly ever use.
OTHER_LANGUAGE_WORDS = 60_000


@lru_cache(maxsize=None)
def _words(language: str):
    if language == "en":
        return english_words()  # the list spelling correction uses: loaded once for both
    from spellchecker import SpellChecker

    frequency = SpellChecker(language=language, distance=1).word_frequency.dictionary
    return frozenset(word for word, _count in frequency.most_common(OTHER_LANGUAGE_WORDS))


def preload() -> None:
    """Load every word list now (about a second), so that no visitor's question waits for it."""
    for language in ("en", *OTHER_LANGUAGES):
        _words(language)


def _script(text: str) -> str | None:
    """The language of the script most letters are in, when it is not the Latin one ("other" for one not in SCRIPTS)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    names = [unicodedata.name(c, "") for c in letters]
    foreign = [n for n in names if not n.startswith("LATIN")]
    if len(foreign) <= len(letters) / 2:
        return None
    counts: dict[str, int] = {}
    for name in foreign:
        code = next((code for prefix, code in SCRIPTS.items() if name.startswith(prefix)), "other")
        counts[code] = counts.get(code, 0) + 1
    return max(counts, key=counts.get)


def _function_word_vote(words: list[str]) -> str | None:
    words = list(dict.fromkeys(words))  # distinct words: "do you do" is one "do"
    counts = {lang: sum(1 for w in words if w in vocabulary) for lang, vocabulary in FUNCTION_WORDS.items()}
    best = max(counts, key=counts.get)
    english = sum(1 for w in words if w in _ENGLISH_FUNCTION_WORDS and w not in FUNCTION_WORDS[best])
    enough = counts[best] >= 2 or (counts[best] >= 1 and len(words) <= 3)
    return best if enough and counts[best] > english else None


def detect(text: str) -> str:
    """'en', or the code of another language (NAMES): one of OTHER_LANGUAGES, 'vi', 'tl', a script's, or 'other'."""
    script = _script(text)
    if script:
        return script
    if sum(1 for c in text.lower() if c in _VIETNAMESE_LETTERS) >= 2:
        return "vi"
    words = [w.lower() for w in _WORD.findall(text)]
    voted = _function_word_vote(words)
    if voted:
        return voted
    if len(words) < 3:
        return "en"
    english = sum(1 for w in words if w in _words("en")) / len(words)
    if english >= 0.75:
        return "en"
    best, share = max(((lang, sum(1 for w in words if w in _words(lang)) / len(words)) for lang in OTHER_LANGUAGES), key=lambda x: x[1])
    return best if share >= 0.6 and share > english + 0.25 else "en"
