"""Safety triage, run before retrieval: does the question describe an emergency, an urgent
problem or a mental-health crisis?

Rules, not a model: each level is a list of patterns over normalised text (lower case,
straight apostrophes, "can't"/"cant"/"cannot" folded to "cannot"). A pattern is either one
regular expression or a pair that must both occur (a body part and a sign, say), so that
"numb toes" (neuropathy, asked about daily) does not trip while "suddenly can't move my
leg" does. When in doubt a rule errs toward flagging: a needless "call 911" costs little.

Levels, in order of precedence: crisis, emergency, urgent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import wording
from .config import Settings

SAFETY_LEVELS = ("emergency", "urgent", "crisis")  # the contract's `safety.level` values

_Pattern = str | tuple[str, str]

CRISIS: list[_Pattern] = [
    r"\bsuicid",
    r"\bkill(ing)? (my ?self|me)\b",
    r"\bend(ing)? (my|it) (own )?(life|all)\b",
    r"\bend it all\b|\bend my suffering\b",
    r"\btak(e|ing) my (own )?life\b",
    r"\b(do not|don't|dont|no longer|never) (want|wish) to (live|be alive|be here|wake up|go on|exist)\b",
    r"\bwant(ed)? to (die|disappear forever)\b",
    r"\bwish i (was|were) dead\b|\bwish i (was|were) never born\b",
    r"\bbetter off (dead|without me)\b",
    r"\b(no|not any) (reason|point) (to|in) (live|living|go on|going on)\b|\blife (is not|isn't|isnt) worth living\b",
    r"\bcannot go on\b|\bno way out\b",
    r"\bself[- ]?harm",
    r"\b(hurt|hurting|harm|harming|burn|burning) my ?self\b",
    r"\bcutting my ?self\b|\b(keep|been|started) cutting\b|\bcut(ting)? my (wrists?|arms?|legs?|skin|thighs?)\b.{0,40}\b(feel|purpose|again|pain go|punish|release)",
    r"\bcut my ?self (on purpose|deliberately|again)\b|\bcut my wrists?\b",
    r"\b(overdose|od) on purpose\b",
    r"\b(plan|planning|going|want) to (overdose|od)\b",
    r"\b(saving|stockpiling|hoarding|collecting|storing) (up )?(all )?(my |some )?(pain |sleeping )?(pills|meds|medications?|tablets|painkillers)",
    r"\b(take|taking|swallow|swallowing) (them |it |my pills |all my pills |the pills )?all at once\b",
]

EMERGENCY: list[_Pattern] = [
    (r"\bchest\b", r"\b(pain|pressure|tight|crush|squeez|heavy|hurts?|ache|aching|elephant|burning|sitting on)"),
    r"\bheart attack\b|\bcardiac arrest\b",
    r"\b(having|had|is having|think .{0,10} a) stroke\b",
    r"\bstroke (signs|symptoms)\b",
    r"\b(face|mouth|smile|eyelid)\b.{0,30}\bdroop",
    r"\bdroop(ing|y|s)?\b.{0,30}\b(face|mouth|side|eye)",
    r"\bslurr(ed|ing)\b|\b(words|speech|talking)\b.{0,30}\b(jumbled|garbled|slurr|mixed up|nonsense|wrong)",
    r"\bcannot (speak|talk|get (the |my |his |her )?words out|find (the |my |his |her )?words)\b",
    (r"\bsudden(ly)?\b|\ball of a sudden\b|\bout of nowhere\b",
     r"\b(weak|weakness|numb|numbness|paraly|cannot (move|walk|stand|speak|talk|see|feel|lift|raise|grip|hold|use)|confus|blind|vision|worst headache|severe headache|collapse|dizzy|faint)"),
    (r"\bone side\b|\bleft side\b|\bright side\b|\bhalf (of )?(my|his|her) (face|body)\b",
     r"\b(numb|weak|droop|paraly|tingl)"),
    r"\bcannot (breathe|catch (my|his|her) breath|get (enough )?air)\b",
    r"\b(short(ness)? of breath|trouble breathing|difficulty breathing|struggling to breathe|hard to breathe|hurts to breathe|gasping|choking)\b",
    r"\blips?\b.{0,25}\b(blue|grey|gray)",
    r"\b(throat|tongue|lips?|face)\b.{0,25}\b(swell|swollen|closing|tight)",
    r"\banaphyla|\ballergic reaction\b",
    r"\b(passed out|fainted|blacked out|unconscious|unresponsive|not responding|will not wake|won't wake|collapsed|seizure|not breathing)",
    r"\b(will not|won't|wont|cannot|does not|doesn't) stop bleeding\b|\bbleeding (will not|won't|wont) stop\b|\bbleeding (heavily|a lot)\b",
    r"\b(coughing|throwing|vomiting) (up )?blood\b",
    r"\b(took|swallowed|taken) (too many|a bunch of|all (of )?my|a whole bottle of) (pills|tablets|meds)\b|\boverdosed\b",
]

_COLOUR = r"(pale|blu|white|grey|gray|purpl|mottled|dusky)"
URGENT: list[_Pattern] = [
    (r"\b(sore|wound|cut|blister|ulcer|open spot|puncture|lesion|scrape|gash)s?\b",
     r"\b(infect|pus|ooz|red(ness)?\b|swell|swollen|smell|stink|warm to the touch|hot to the touch|streak|fever|(not|never|won't|wont|isn't|hasn't|doesn't|does not|did not|didn't|will not) (heal|healed|healing|get better|close)|black|weeping|draining)"),
    (r"\b(toe|toes|foot|feet|heel|leg|finger)\b", r"\b(turn(ed|ing)?|went|going|gone|is|are|look(s|ing)?|getting) (black|dark|purple)|\bgangren"),
    (r"\b(foot|feet|toe|toes|leg|hand|arm)\b", r"\bcold\b.{0,40}\b" + _COLOUR + r"|\b" + _COLOUR + r"\w*\b.{0,40}\bcold\b"),
    (r"\b(foot|feet|toe|toes|leg)\b", r"\bsudden(ly)? (went |turned |got |became |is )?(cold|pale|blue|white)"),
    (r"\b(foot|feet|toe|toes|leg)\b", r"\bfever\b|\bchills\b"),
    r"\bred streaks?\b",
    r"\bno pulse\b",
    r"\bgangren",
    r"\b(infected|infection in) (my |his |her )?(foot|feet|toe|toes|heel|leg)\b",
]


@dataclass(frozen=True)
class Triage:
    level: str  # "emergency" | "urgent" | "crisis"
    message: str

    def to_dict(self) -> dict:
        return {"level": self.level, "message": self.message}


def normalise(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"\b(can't|cant|can not|couldn't|couldnt)\b", "cannot", text)
    return re.sub(r"\s+", " ", text)


class _Rules:
    """One level's patterns, compiled: the single ones joined into one alternation (a text matches it
    exactly when it matches one of them), each pair kept as two patterns that must both match."""

    def __init__(self, patterns: list[_Pattern]):
        singles = [p for p in patterns if isinstance(p, str)]
        self.any_of = re.compile("|".join(f"(?:{p})" for p in singles)) if singles else None
        self.pairs = [(re.compile(a), re.compile(b)) for a, b in (p for p in patterns if isinstance(p, tuple))]

    def match(self, text: str) -> bool:
        if self.any_of is not None and self.any_of.search(text):
            return True
        return any(a.search(text) and b.search(text) for a, b in self.pairs)


_LEVELS = (("crisis", _Rules(CRISIS)), ("emergency", _Rules(EMERGENCY)), ("urgent", _Rules(URGENT)))


def level_of(text: str) -> str | None:
    """The safety level the text describes, or None.

    >>> level_of("I have crushing chest pain"), level_of("Will the needles hurt?"), level_of("my toes are numb")
    ('emergency', None, None)
    """
    normal = normalise(text)
    for level, rules in _LEVELS:
        if rules.match(normal):
            return level
    return None


def triage(text: str, settings: Settings) -> Triage | None:
    level = level_of(text)
    return Triage(level, wording.safety_message(level, settings)) if level else None
