"""Turn what a person typed (plus the conversation) into what retrieval searches for.

Steps, each small and visible in the result: trim to the length limit; spot small talk and
other languages; correct typos against the corpus vocabulary; add the articles' words for
lay terms (glossary); and, for a follow-up too vague to stand alone ("Can I still get
it?"), prepend the person's previous message. The question's key terms, and which of them
the corpus has never heard of, feed the decision to abstain.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from rapidfuzz.distance import OSA

from index import lexical

from . import asking, gloss, language, medicines, smalltalk
from .smalltalk import MessageKind
from .glossary import Glossary, whole_words_pattern
from .history import user_turns
from .spelling import SpellFixer, english_neighbours, english_words

# Conversational words that carry no topic: they never make a question "about" something.
GENERIC_WORDS = set(
    """actual actually really just still get gets getting got go goes going gone help helps helped helping work works
    worked working good bad better best worse normal true thing things way kind sort lot lots much many long often time
    times day days week weeks month months year years people person someone everyone everybody anyone anything something
    nothing need needs needed want wants wanted know knows tell say says said make makes made take takes taking took feel
    feels felt like also even ever sure okay ok yes no maybe please question questions anyway whole right mean means
    use used using try tried trying start started stop come comes came new old first last next thank thanks hi hello
    able possible whether either instead typical usual usually exactly real common happen happens happening one ones
    keep kept let put give gives look looks seem seems think thought read heard hear say worth stuff kinda sorta
    """.split()
)
# Chat spellings fixed before anything else (whole words, case-insensitive).
CHAT_SPELLINGS = {
    "wat": "what", "wut": "what", "alot": "a lot", "theyre": "they're", "im": "I'm", "ive": "I've", "dont": "don't",
    "doesnt": "doesn't", "cant": "can't", "wont": "won't", "isnt": "isn't", "didnt": "didn't", "arent": "aren't",
    "wasnt": "wasn't", "havent": "haven't", "hasnt": "hasn't", "shouldnt": "shouldn't", "wouldnt": "wouldn't",
    "couldnt": "couldn't", "whats": "what's", "thats": "that's", "hows": "how's", "wheres": "where's",
    "theres": "there's", "youre": "you're", "u": "you", "ur": "your",
    "r": "are", "pls": "please", "plz": "please", "b4": "before", "bc": "because", "cuz": "because", "coz": "because",
    "w/": "with", "w": "with", "abt": "about", "thru": "through", "nite": "night", "tho": "though", "gonna": "going to",
    "wanna": "want to", "gotta": "have to", "dr": "doctor", "meds": "medicines", "docs": "doctors",
}
_CHAT = re.compile(r"(?<![\w'])(" + "|".join(re.escape(k) for k in sorted(CHAT_SPELLINGS, key=len, reverse=True)) + r")(?![\w'])", re.IGNORECASE)

ANAPHORA = {"it", "that", "this", "those", "these", "them", "they", "she", "he", "her", "him", "there", "then"}
# How much a follow-up's earlier message weighs against the question, by how many specific terms
# (not found all over the corpus) the question has of its own: none, and the context leads.
CONTEXT_WEIGHT_BY_SPECIFIC_TERMS = {0: 1.0, 1: 0.6, 2: 0.35}
COMMON_SHARE = 0.10
COMMON_MIN_PASSAGES = 2


@dataclass(frozen=True)
class Phrasing:
    """One text of a query as the first stage reads it: embedded as it is, searched lexically with its glossary
    terms (the articles' words for its lay words), whose vectors are also added to its embedding."""
    embedded: str                  # corrected
    searched: str                  # corrected, with its glossary terms
    terms: tuple[str, ...] = ()    # its glossary terms


@dataclass(frozen=True)
class Query:
    """What retrieval is given for one question: the asking sentences' phrasing and, when the question leans on
    something (a follow-up's earlier message, a long message's backstory), that context's phrasing and weight;
    and what the re-ranker reads as the question. `phrasings` are embedded in this order, one row each.

    `rerank_text` has the glossary's terms only for lay words the articles never use. All of them ranked worse
    (the glossary maps everyday words broadly, for recall); none left "I'm on warfarin" with nothing to match
    (bench/rerank_tradeoff.py)."""
    question: Phrasing
    rerank_text: str               # the context, then the question, each with the glossary's terms for lay words
                                   # the articles never use
    context: Phrasing | None = None
    context_weight: float = 0.0    # the context's weight against the question (vaguer question, more weight)

    @property
    def phrasings(self) -> tuple[Phrasing, ...]:
        return (self.question,) if self.context is None else (self.question, self.context)

    def embedding_texts(self) -> list[str]:
        return [phrasing.embedded for phrasing in self.phrasings]


@dataclass
class PreparedQuestion:
    text: str                      # the question as answered (after trimming)
    truncated: bool = False
    kind: MessageKind = MessageKind.QUESTION
    language: str = "en"
    corrections: dict[str, str] = field(default_factory=dict)
    context: str | None = None     # what a vague question leans on: the earlier message of a follow-up, or the
                                   # backstory before the asking sentences of a long message (qa/asking.py)
    asking: str = ""               # the sentences that ask (the whole message unless it is long)
    changes_medicine: bool = False  # asks about stopping, changing or combining a prescribed medicine (qa/medicines.py)
    query: Query | None = None     # what retrieval searches for (a question only, not small talk)
    key_terms: list[str] = field(default_factory=list)
    unknown_terms: list[str] = field(default_factory=list)
    specific_terms: list[str] = field(default_factory=list)  # key terms not found all over the corpus
    unsupported_requests: list[str] = field(default_factory=list)  # kinds of request the articles never address
    uncovered_topics: list[str] = field(default_factory=list)  # kinds of topic (other conditions...) the articles never mention


REQUESTS_FILE = Path(__file__).with_name("requests.yaml")
TOPICS_FILE = Path(__file__).with_name("topics.yaml")


def load_word_lists(path: Path) -> dict[str, list[str]]:
    """Kinds of request (requests.yaml) or of topic (topics.yaml) -> their words and phrases, lower case."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {kind: [w.lower() for w in words] for kind, words in data.items()}


def word_kinds(lists: dict[str, list[str]]) -> dict[str, re.Pattern]:
    """Kinds (of request, of topic) -> a pattern of their words."""
    return {kind: whole_words_pattern(words) for kind, words in lists.items()}


class ListWords:
    """A word list's one-word entries (qa/requests.yaml, qa/topics.yaml) with their kinds (the first kind listing a
    word wins), and the spelling fixer (qa/spelling.py) that finds which of them a typo misspells.

    >>> ListWords({"insurance": ["medicare", "prior authorization"], "pricing": ["cost"]}).kind_of
    {'medicare': 'insurance', 'cost': 'pricing'}
    """

    def __init__(self, lists: dict[str, list[str]]):
        self.kind_of: dict[str, str] = {}
        for kind, entries in lists.items():
            for entry in entries:
                if re.fullmatch(r"[a-z][a-z'\-]*[a-z]", entry):
                    self.kind_of.setdefault(entry, kind)
        self.typos = SpellFixer(set(self.kind_of))


def list_words(*lists: dict[str, list[str]]) -> set[str]:
    """Every word of the lists' entries ("medi-cal", "walk-ins", "comp" of "workers comp"): never spell-corrected."""
    return {w for kinds in lists for entries in kinds.values() for entry in entries
            for w in re.findall(r"[a-z][a-z\-']*[a-z]", entry)}


def plain_quotes(text: str) -> str:
    """Curly apostrophes and quotes as typed on phones, straight, so word lists and contractions match them.

    >>> print(plain_quotes("I don’t have Medi‑Cal, what’s the “cash price”?"))
    I don't have Medi-Cal, what's the "cash price"?
    """
    return text.translate(_PLAIN_QUOTES)


_PLAIN_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"',
                               "\u2010": "-", "\u2011": "-"})


class QueryBuilder:
    def __init__(self, *, corpus_texts: list[str], lexical_vocabulary: set[str], glossary: Glossary, max_chars: int = 1000,
                 requests: dict[str, re.Pattern] | None = None, topics: dict[str, re.Pattern] | None = None):
        words = Counter(w.lower() for text in corpus_texts for w in re.findall(r"[A-Za-z][A-Za-z\-]*[A-Za-z]", text))
        self.corpus_words = words
        self.lexical_vocabulary = lexical_vocabulary
        self.glossary = glossary
        self.lay_words = glossary.lay_words()
        self.lay_stems = {s for w in self.lay_words for s in lexical.tokens(w)}
        self.lay_terms = glossary.lay_terms()
        # The shipped lists, read once: their patterns below, and their words, which the spelling fixer keeps as
        # typed. Lists given as patterns (tests) keep nothing.
        request_lists = load_word_lists(REQUESTS_FILE) if requests is None else None
        topic_lists = load_word_lists(TOPICS_FILE) if topics is None else None
        keep = list_words(request_lists, topic_lists) if request_lists is not None and topic_lists is not None else set()
        self.spelling = SpellFixer(words + Counter(self.lay_words), keep=keep)
        # Stems in more than COMMON_SHARE of passages ("acupunctur", "neuropathi", "pain") say a question
        # is in the domain, not what it asks; what it asks is in the other, specific terms.
        document_frequency = Counter(s for text in corpus_texts for s in set(lexical.tokens(text)))
        limit = max(COMMON_MIN_PASSAGES, COMMON_SHARE * len(corpus_texts))
        self.common_stems = {s for s, n in document_frequency.items() if n > limit}
        self.max_chars = max_chars
        self.requests = word_kinds(request_lists) if requests is None else requests
        self.topics = word_kinds(topic_lists) if topics is None else topics
        # The lists' single words, for their misspellings ("siatica", "acupressur"): a typo that is no English word,
        # was not corrected to an article's word and is no likelier typo of an everyday word counts as the list word.
        self.request_words = ListWords(request_lists) if request_lists is not None else None
        self.topic_words = ListWords(topic_lists) if topic_lists is not None else None
        self._corpus_text = " ".join(corpus_texts).lower()

    def key_terms(self, text: str) -> list[str]:
        """Topical words of `text`: not stop words, not conversational filler."""
        stems = set(lexical.tokens(text))
        words = re.findall(r"[a-z][a-z\-']*[a-z]|[a-z]", text.lower())
        terms = [w for w in words if len(w) >= 3 and w not in GENERIC_WORDS and lexical.stem(w) in stems]
        return list(dict.fromkeys(terms))

    def is_known(self, word: str) -> bool:
        if word in self.corpus_words or word in self.lay_words:
            return True
        stem = lexical.stem(word)
        return stem is not None and (stem in self.lexical_vocabulary or stem in self.lay_stems)

    def prepare(self, question: str, history: list[dict] | None = None) -> PreparedQuestion:
        text = re.sub(r"\s+", " ", question or "").strip()
        prepared = PreparedQuestion(text=text)
        if len(text) > self.max_chars:
            prepared.text, prepared.truncated = text[: self.max_chars].rstrip(), True
        if not prepared.text:
            prepared.kind = MessageKind.EMPTY
            return prepared
        small = smalltalk.kind_of(prepared.text)
        if small:
            prepared.kind = small
            return prepared
        prepared.language = language.detect(prepared.text)
        lexicon = gloss.for_language(prepared.language)
        searched = plain_quotes(lexicon.english(prepared.text) if lexicon else prepared.text)
        corrected, prepared.corrections = self.spelling.correct(expand_chat_spellings(searched))
        question, backstory = asking.split(corrected)
        prepared.asking = question
        # What is asked decides whether the articles cover it, not the story around it ("My husband is 72, a retired
        # farmer... I've tried pills, creams... does acupuncture help?" asks about acupuncture): the terms, the kinds
        # of request and the kinds of topic are those of the asking sentences.
        prepared.key_terms = self.key_terms(question)
        prepared.unknown_terms = [t for t in prepared.key_terms if not self.is_known(t)]
        prepared.specific_terms = [t for t in prepared.key_terms if lexical.stem(t) not in self.common_stems]
        prepared.unsupported_requests = self._unused_kinds(self.requests, question, self.request_words)
        prepared.uncovered_topics = self._unused_kinds(self.topics, question, self.topic_words)
        own_terms = self._specific(question) if backstory else prepared.specific_terms
        if self._is_follow_up(question, own_terms, history):
            prepared.context = self._context(history)
        elif backstory and self._leans_on(question, own_terms):
            prepared.context = backstory
        phrasing, rerank_text = self._phrasing(question), self._with_unknown_terms(question)
        if prepared.context:
            rerank_text = f"{self._with_unknown_terms(prepared.context)} {rerank_text}"
        prepared.changes_medicine = medicines.is_medicine_change(prepared.text) or medicines.is_medicine_change(question)
        if prepared.changes_medicine:  # searched with what the articles say about acupuncture beside medical treatment too
            phrasing = replace(phrasing, searched=f"{phrasing.searched} {medicines.ALONGSIDE}")
            rerank_text = f"{rerank_text} {medicines.ALONGSIDE}"
        prepared.query = Query(phrasing, rerank_text)
        if prepared.context:
            prepared.query = replace(prepared.query, context=self._phrasing(prepared.context),
                                     context_weight=CONTEXT_WEIGHT_BY_SPECIFIC_TERMS.get(len(own_terms), 0.35))
        return prepared

    def _phrasing(self, text: str) -> Phrasing:
        terms = tuple(self.glossary.expansions(text))
        return Phrasing(embedded=text, searched=_with_terms(text, list(terms)), terms=terms)

    def _with_unknown_terms(self, text: str) -> str:
        """`text` with the glossary's terms for lay words the articles never use ("warfarin": "blood thinners"):
        the re-ranker has nothing else to link them to the articles by; a word they use speaks for itself."""
        return _with_terms(text, self.glossary.expansions(text, unknown_to=set(self.corpus_words)))

    def _unused_kinds(self, kinds: dict[str, re.Pattern], text: str, words: ListWords | None = None) -> list[str]:
        """The kinds (of request, of topic) in `text` whose matching words the articles never use (and that
        the glossary does not map to the articles' words: those are in scope); with the list's `words`, a
        misspelling of one of them counts as the word."""
        lowered = text.lower()
        found = []
        for kind, pattern in kinds.items():
            matched = {m.group(0) for m in pattern.finditer(lowered)}
            if any(not self._corpus_uses(w) and w not in self.lay_terms for w in matched):
                found.append(kind)
        for word in self._misspelt(lowered, words) if words is not None else ():
            if words.kind_of[word] not in found and not self._corpus_uses(word) and word not in self.lay_terms:
                found.append(words.kind_of[word])
        return found

    def _misspelt(self, lowered: str, words: ListWords) -> list[str]:
        """The list words that words of `lowered` misspell: words of five letters or more that are neither English
        nor the articles' (the spelling fixer left them as typed), within its edit distance of a list word, and
        not a likelier typo of an everyday word ("injurred" is "injured", not "insured"; "messege" is "message",
        not "massage"): no English word is nearer, and none as near is as common as the list word."""
        found = []
        for word in dict.fromkeys(re.findall(r"[a-z][a-z'\-]*[a-z]", lowered)):
            if len(word) < 5 or self.spelling.known(word) or (listed := words.typos.fix_word(word)) is None:
                continue
            distance, common = OSA.distance(word, listed), english_words()[listed]
            if not any(w != listed and (distance > 1 or count >= common) for w, count in english_neighbours(word).items()):
                found.append(listed)
        return found

    def _corpus_uses(self, phrase: str) -> bool:
        if " " not in phrase and "-" not in phrase:
            return phrase in self.corpus_words  # one word: a set lookup, not a scan of the corpus
        return re.search(r"\b" + re.escape(phrase) + r"\b", self._corpus_text) is not None

    def _specific(self, text: str) -> list[str]:
        return [t for t in self.key_terms(text) if lexical.stem(t) not in self.common_stems]

    def _is_follow_up(self, text: str, specific_terms: list[str], history: list[dict] | None) -> bool:
        return bool(user_turns(history)) and self._leans_on(text, specific_terms)

    def _leans_on(self, text: str, specific_terms: list[str]) -> bool:
        """Is a question too vague to stand on its own? Not when it names a topic of its own that the articles or the
        glossary know ("is it ok if I'm on warfarin" after a question about sessions is a new question)."""
        known_topics = [t for t in specific_terms if self.is_known(t)]
        if known_topics and not (set(re.findall(r"[a-z]+", text.lower())) & ANAPHORA and len(specific_terms) == 1
                                 and not self.glossary.expansions(text)):
            return False
        words = set(re.findall(r"[a-z]+", text.lower()))
        return len(specific_terms) <= 1 or (bool(words & ANAPHORA) and len(specific_terms) <= 2)

    def _context(self, history: list[dict] | None) -> str:
        """The latest user message, plus the one before when the latest is itself vague."""
        turns = user_turns(history)
        picked = [turns[-1]]
        if len(turns) > 1 and len(self.key_terms(self.spelling.correct(turns[-1])[0])) <= 1:
            picked.insert(0, turns[-2])
        corrected = [self.spelling.correct(expand_chat_spellings(t[: self.max_chars]))[0] for t in picked]
        return " ".join(corrected)


def expand_chat_spellings(text: str) -> str:
    """Spell out chat shorthand.

    >>> print(expand_chat_spellings("wat if im on meds"))
    what if I'm on medicines
    """
    return _CHAT.sub(lambda m: CHAT_SPELLINGS[m.group(0).lower()], text)


def _with_terms(text: str, terms: list[str]) -> str:
    return text + (" (" + ", ".join(terms) + ")" if terms else "")

