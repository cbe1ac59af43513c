"""Find the question in a long message: the sentences that ask, apart from the backstory before them.

Patients and carers often write three sentences about themselves before the one that asks ("My dad is 81 and
was diagnosed five years ago. He's on gabapentin and it barely helps. ... Would acupuncture be worth trying at
his age?"). Retrieval and the re-ranker read the asking sentences (with the backstory as context when they
lean on it, like a follow-up on the conversation); safety triage and the abstention features still read the
whole message (qa/answerer.py, qa/abstain.py).

A sentence asks when it ends with a question mark, opens like a question ("can", "does", "how", "what",
"should", ... or "¿"), or says so ("I was wondering", "I'd like to know"). A message of fewer than
LONG_SENTENCES sentences and LONG_WORDS words is left whole.

>>> split("My dad is 81 and diabetic. He is on gabapentin. It barely helps. Would acupuncture be worth trying?")
('Would acupuncture be worth trying?', 'My dad is 81 and diabetic. He is on gabapentin. It barely helps.')
>>> split("Will the needles hurt?")
('Will the needles hurt?', '')
"""

from __future__ import annotations

import re

LONG_SENTENCES = 3
LONG_WORDS = 40

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_OPENS_AS_QUESTION = re.compile(
    r"^\W*(so |and |but |also |ok |okay |well |then |just |or |honestly |hi |hello |hey )*"
    r"(can|could|will|would|does|do|did|is|isn't|are|was|should|shall|may|might|how|what|what's|whats|why|when|where|"
    r"which|who|any|has|have|am|puedo|puede|pueden|es|sirve|funciona|cuantas?|cuantos?|cu[aá]nt[oa]s?|c[oó]mo|qu[eé]|"
    r"por qu[eé]|d[oó]nde|tengo que|hay)\b",
    re.IGNORECASE,
)
_SAYS_IT_ASKS = re.compile(
    r"\b(wondering|want to know|wanted to know|would like to know|i'd like to know|wanted to ask|my question is|tell me|"
    r"i need to know|curious (if|whether|about)|help me understand|is it worth|worth (it|trying|a try)|convince me|"
    r"quisiera saber|quiero saber|me pregunto)\b|^¿",
    re.IGNORECASE,
)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def asks(sentence: str) -> bool:
    return sentence.rstrip().endswith("?") or bool(_OPENS_AS_QUESTION.search(sentence) or _SAYS_IT_ASKS.search(sentence))


def split(text: str) -> tuple[str, str]:
    """(the asking sentences, the backstory); a short message, or one where no sentence asks, is all question."""
    parts = sentences(text)
    if len(parts) < LONG_SENTENCES and len(text.split()) < LONG_WORDS:
        return text, ""
    asking = [i for i, s in enumerate(parts) if asks(s)]
    if not asking or len(asking) == len(parts):
        return text, ""
    return " ".join(parts[i] for i in asking), " ".join(s for i, s in enumerate(parts) if i not in set(asking))


# "... feeling and can I be in the room to translate?": a second question joined to the first.
_JOINED_QUESTION = re.compile(
    r"[,;]?\s+(?:and|also|plus|or|but)\s+(?=(?:can|could|will|would|does|do|is|are|should|may|how|what|when|where|who)\b)",
    re.IGNORECASE,
)


def asks_apart(text: str) -> list[str]:
    """The separate questions of `text`: its asking sentences, each cut where a second question is joined to it
    ("does it help the tingling and can my daughter come in with me?" is two). A text that asks once is itself.

    >>> asks_apart("Does acupuncture help numbness? How much is a visit?")
    ['Does acupuncture help numbness?', 'How much is a visit?']
    >>> asks_apart("does it help the tingling and can my daughter come in with me?")
    ['does it help the tingling', 'can my daughter come in with me?']
    >>> asks_apart("Will the needles hurt?")
    ['Will the needles hurt?']
    """
    parts = [s for s in sentences(text) if asks(s)] or [text]
    return [p.strip() for s in parts for p in _JOINED_QUESTION.split(s) if p.strip()]
