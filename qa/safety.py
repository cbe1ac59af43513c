"""Safety triage, run before retrieval: does a message describe a situation that needs care now?

Rules, not a model: transparent, fast and reviewable. The red-flag categories, each with the guidance it
follows, are in qa/red_flags.py; this module applies them:

1. The message is folded: lower case, accents removed ("está" -> "esta", "đ" -> "d"), curly apostrophes
   straightened, "can't"/"cant"/"cannot" read as "cannot", "won't" as "will not", "don't" as "do not".
2. It is cut into sentences (and at "but", which often turns to the present: "I had chest pain last year but
   now ..."). A category's sign matches in one sentence, or, for a sign of several parts, in two neighbours.
3. Tense and certainty decide whether a sign counts: a sentence that says the event is past ("years ago",
   "in 2017", "back in", "once", "as a kid"), resolved ("it was checked", "turned out to be", "healed", "was
   fine after", "stable now") or hypothetical ("what if", "will I pass out", "in case") does not count, unless
   it also says it is happening now ("right now", "today", "since yesterday", "this morning", "an hour ago",
   "getting worse"). Everything else counts: someone who writes "my chest hurts" means now.
4. The most severe level found wins (crisis, then emergency, then urgent); within a level, the first category
   in red_flags.CATEGORIES.

When in doubt a rule errs toward flagging: a needless "call 911" costs little. What the visitor reads is
written in qa/wording.py (`safety_message`), from the category and the clinic's numbers.

>>> assess("I have crushing chest pain right now").category
'chest_pain'
>>> assess("I had chest pain last year but it turned out to be reflux") is None
True
>>> assess("mi papá tiene una herida en el pie que huele feo").level
'urgent'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .red_flags import BY_NAME, CATEGORIES, LEVELS, Category

SAFETY_LEVELS = ("emergency", "urgent", "crisis")  # the contract's `safety.level` values


@dataclass(frozen=True)
class Finding:
    """A red flag found in a message: its category (qa/red_flags.py) and the level of help it needs."""

    category: str
    level: str

    @property
    def covers(self) -> str:
        return BY_NAME[self.category].covers


_CONTRACTIONS = [
    (r"\b(can't|cant|can not|couldn't|couldnt)\b", "cannot"), (r"\b(won't|wont)\b", "will not"),
    (r"\b(don't|dont)\b", "do not"), (r"\b(doesn't|doesnt)\b", "does not"), (r"\b(didn't|didnt)\b", "did not"),
    (r"\b(isn't|isnt)\b", "is not"), (r"\b(hasn't|hasnt)\b", "has not"), (r"\b(wouldn't|wouldnt)\b", "would not"),
    (r"\b(i'm|im)\b", "i am"), (r"\b(what's|whats)\b", "what is"), (r"\b(he's|hes)\b", "he is"), (r"\b(she's|shes)\b", "she is"),
    (r"\b(it's)\b", "it is"), (r"\bi've\b|\bive\b", "i have"), (r"\bu\b", "you"), (r"\b(rn)\b", "right now"),
]
_CONTRACTION_PATTERNS = [(re.compile(a), b) for a, b in _CONTRACTIONS]


def fold(text: str) -> str:
    """The text the rules read.

    >>> fold("Mi mamá NO puede   mover el brazo, can't talk")
    'mi mama no puede mover el brazo, cannot talk'
    """
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.lower()
    for pattern, replacement in _CONTRACTION_PATTERNS:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


# Sentences, and clauses after "but"/"pero" (often where a message turns from the past to the present).
_UNIT_BREAK = re.compile(
    r"(?<=[.!?;])\s+|(?<=[。！？\n])\s*|\s+(?=\b(?:but|pero|mas|aber|nhung)\b)|(?<=,)\s*(?=mais\b)|(?<!right)(?<!ahora)\s+(?=\b(?:and |y )?(?:now|ahora|ahorita)\b)"
    r"|(?<=[,，])\s*(?=(?:today|hoje|hoy|aujourd'hui|oggi|heute|gio|bay gio)\b)|(?<=，)(?=现在|如今|检查)")

# Happening now: these win over any past or hypothetical marker in the same sentence.
NOW = re.compile(
    r"\b(right now|at the moment|today|tonight|this (morning|afternoon|evening|week)|since (yesterday|last night|this morning|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|\w+ days?|last week|then)|yesterday|last night|"
    r"(\d+|a|an|one|two|three|few|couple( of)?|several|half an?|half) (minutes?|mins?|hours?|hrs?|hr|days?) ago|"
    r"(for|in) the (last|past) (\d+ |few |couple( of)? )?(minutes?|mins?|hours?|hrs?|days?)|last \d+ (min|mins|minutes|hours|days)|"
    r"getting worse|worse (and worse|today|now)|keeps? (getting|happening)|just (now|happened|started)|"
    r"ahorita|ahora|hoy|anoche|esta (manana|noche|tarde)|desde (ayer|anoche|esta manana|hace)|hace (\d+|unos|unas|como) (minutos|horas|dias)|"
    r"de repente|maintenant|aujourd'hui|agora|hoje|jetzt|heute|adesso|oggi|现在|今天|刚才|hom nay|bay gio|сейчас|сегодня|ngayon)\b"
)
# Past or resolved: the event is over, checked, or long ago.
PAST = re.compile(
    r"\b((\d+|a|an|one|two|three|four|five|six|ten|few|couple( of)?|several|many) (years?|yrs?|months?|decades?) ago|"
    r"years (back|before)|last (year|month|spring|summer|fall|autumn|winter|christmas)|in (19|20)\d\d|\((19|20)\d\d\)|"
    r"in (january|february|march|april|may|june|july|august|september|october|november|december)|back in|"
    r"when (i|he|she) was (a kid|a child|young|little|younger|pregnant|in|\d+)|in (high ?school|college|my (teens|twenties|20s|30s))|"
    r"as a (kid|child|teen|teenager)|long (time )?ago|used to|history of|in the past|previously|(?<!at )once(?! (a|or|every|per|in a while)\b)|one time|"
    r"(was|were|got|been|came back) (checked|cleared|treated|fixed|fine|ok|okay|normal|negative)|turned out|checked out|"
    r"(cardio|cardiologist|doctor|dr|er|podiatrist|oncologist|neurologist)\w* (cleared|signed off|(says|said) (it was|it is|its|i am|he is|she is|i was))|"
    r"signed off|all clear|everything was normal|(is|are|am|was) (stable|fine now|better now|under control|doing (well|better|great|good))|"
    r"doing (a lot |much |so much )?better|all healed|healed|recovered|went away|resolved|sober|in remission|cancer free|"
    r"hace (\d+|unos|unas|muchos|como) (anos|meses|semanas)|el ano pasado|en (19|20)\d\d|cuando (era|tenia|estaba)|una vez|"
    r"ya (esta|estaba|estan) (bien|estable|sana|sano|curad\w*)|se curo|sano|"
    r"ano passado|em (19|20)\d\d|esta estavel|estavel|era refluxo|l'annee derniere|l'an dernier|stable|nam ngoai|nam (19|20)\d\d|truoc day|"
    r"on roi|da on|on dinh)\b"
    r"|去年|以前|年前|(19|20)\d\d年|过去|曾经|过，|没事了|稳定|已经好了"
)
# Hypothetical or informational: "what if", "will I faint", "can acupuncture help after a stroke".
IF = re.compile(
    r"\b(what (if|happens if|should i do if|do i do if)|in case|if (i|you|he|she|we|they) (ever|were to|get|got|start|have|had|feel)|"
    r"will (i|it|the needles|acupuncture) (get|have|pass|faint|bleed|cause|make|give)|could (i|it|acupuncture) (get|have|pass|faint|cause|make)|"
    r"can (acupuncture|it|the needles|needles) (cause|give|make|trigger)|is (it|there) (possible|likely|common|normal|a (risk|chance))|"
    r"risk of|chance of|(worried|afraid|scared|nervous|fear|freaked out) (that|about|of|i will|i might|i could)|"
    r"(would|'d|will|gonna|going to) (have|give (me|him|her|us)) a heart attack|y si|que pasa si|en caso de|"
    r"(almost|nearly) (passed out|fainted|died|had a heart attack|choked)|what (does|do|is|are) .{0,30}(look like|mean)|"
    r"what to (watch|look) (for|out for)|counts as|signs of)\b"
)


def units(text: str) -> list[str]:
    """The folded message cut into sentences and "but" clauses.

    >>> units("I had chest pain last year but it was reflux. Now my feet burn")
    ['i had chest pain last year', 'but it was reflux.', 'now my feet burn']
    """
    return [u.strip() for u in _UNIT_BREAK.split(fold(text)) if u.strip()]


def is_current(unit: str, *, hypothetical_counts: bool = False) -> bool:
    """Does this sentence describe something happening now (or too recent to be over)?

    >>> is_current("i fainted twice today"), is_current("i fainted once at a blood draw in high school")
    (True, False)
    >>> is_current("will i pass out from the needles?"), is_current("my chest feels tight")
    (False, True)
    """
    if NOW.search(unit):
        return True
    return not (_affirmed(PAST, unit) or (not hypothetical_counts and IF.search(unit)))


_NEGATED = re.compile(r"\b(not|never|nunca|nao)\s+(\w+\s+)?$")


def _affirmed(pattern: re.Pattern, unit: str) -> bool:
    """A match of `pattern` not negated just before it: "has not healed" is not "healed"."""
    return any(not _NEGATED.search(unit[max(0, m.start() - 16):m.start()]) for m in pattern.finditer(unit))


@lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _sign_matches(sign, window: str) -> bool:
    parts = (sign,) if isinstance(sign, str) else sign
    return all(_compiled(p).search(window) for p in parts)


def _found(category: Category, pieces: list[str], whole: str) -> bool:
    if category.requires and not any(_compiled(p).search(whole) for p in category.requires):
        return False
    current = [is_current(unit, hypothetical_counts=category.hypothetical_counts) for unit in pieces]
    for sign in category.signs:
        for i, unit in enumerate(pieces):
            if _sign_matches(sign, unit) and current[i]:
                return True
            if not isinstance(sign, str) and i + 1 < len(pieces):
                pair = f"{unit} {pieces[i + 1]}"
                if _sign_matches(sign, pair) and not _sign_matches(sign, pieces[i + 1]) and current[i] and current[i + 1]:
                    return True
    return False


def assess(text: str) -> Finding | None:
    """The most severe red flag the message describes as happening now, or None."""
    if not text or not text.strip():
        return None
    pieces = units(text)
    whole = " ".join(pieces)
    for level in LEVELS:
        for category in CATEGORIES:  # in red_flags.PRECEDENCE order
            if category.level == level and _found(category, pieces, whole):
                return Finding(category.name, category.level)
    return None


def level_of(text: str) -> str | None:
    """The safety level the text describes, or None.

    >>> level_of("I have crushing chest pain"), level_of("Will the needles hurt?"), level_of("my toes are numb")
    ('emergency', None, None)
    """
    found = assess(text)
    return found.level if found else None
