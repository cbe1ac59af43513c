"""The plain suggestion the insights report gives for each kind of question the articles don't cover.

Keys are the kinds in qa/requests.yaml and qa/topics.yaml; each has what the questions were about, in a
clinic's words, and what would answer them. A kind added to those files without an entry here still gets a
sentence (`suggestion`), from its own name. These sentences are for clinic staff, not visitors (what
visitors read is in qa/wording.py).

>>> suggestion("pricing", 23, "in the last 30 days")
'23 questions about prices in the last 30 days: a page on fees would answer them.'
>>> suggestion("acupuncture for cats", 1, "in the last 7 days")
'1 question about acupuncture for cats in the last 7 days: an article on it would answer it.'
"""

from __future__ import annotations

SUGGESTIONS = {  # kind -> (what they asked about, what would answer them)
    # requests.yaml
    "pricing": ("prices", "a page on fees would answer them"),
    "insurance": ("insurance and payment", "a page on insurance, receipts and payment would answer them"),
    "dosing": ("doses of medicines", "doses are for a doctor or pharmacist; a line saying so, with your contact "
                                      "link, would help"),
    "booking and logistics": ("booking, opening hours and directions",
                              "a page on booking, hours and how to find you would answer them"),
    "clinic, staff and liability": ("the clinic itself (who treats, their licences, reviews, complaints)",
                                    "an \u201cabout us\u201d page on your practitioners and policies would answer them"),
    "writing and other tasks": ("writing or other tasks", "these are not what the chat is for; no article needed"),
    # topics.yaml
    "other conditions": ("other conditions (migraine, back pain, anxiety, ...)",
                         "an article on the other conditions you treat would answer them"),
    "pregnancy and other patients": ("pregnancy, children, pacemakers and pets",
                                     "a page on who can and cannot have acupuncture would answer them"),
    "other therapies": ("other therapies (cupping, massage, supplements, ...)",
                        "a page on the other therapies you offer or advise on would answer them"),
    "medicines and doses": ("neuropathy medicines (gabapentin, creams, painkillers, ...)",
                            "an article on acupuncture alongside neuropathy medicines would answer them"),
    "visit practicalities": ("the practicalities of a visit (what to wear or eat, payment, cancelling)",
                             "a \u201cyour first visit\u201d page would answer them"),
}


def subject(kind: str) -> str:
    """What questions of `kind` were about, in a clinic's words."""
    return SUGGESTIONS.get(kind, (kind, ""))[0]


def suggestion(kind: str, count: int, period: str) -> str:
    """One sentence: how many questions of `kind` there were in `period`, and what would answer them."""
    about, answer = SUGGESTIONS.get(kind, (kind, "an article on it would answer them"))
    if count == 1:
        answer = answer.replace("answer them", "answer it")
    return f"{count} question{'' if count == 1 else 's'} about {about} {period}: {answer}."
