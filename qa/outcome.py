"""How a question was handled: decided once, by the answerer, and carried on its `Result`.

Everyone downstream reads the outcome instead of working it out again from the answer object: the insights
event (qa/insights/events.py), the chat page's styling and its privacy rule for thumbs-down (server/chat.py).
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What the reply to a question was. The values are the insights store's (qa/insights/events.py)."""

    ANSWERED = "answered"  # passages quoted from the articles
    ABSTAINED = "abstained"  # the articles don't answer it (the abstention model, or nothing retrieved)
    SAFETY = "safety"  # a safety message came first; nothing was retrieved
    SMALL_TALK = "small_talk"  # a greeting, thanks, goodbye or an empty message

    @property
    def may_keep_question_text(self) -> bool:
        """Whether a clinic that opted in may keep the question's words (with an abstention or a thumbs-down):
        never those of someone describing an emergency or a crisis, nor small talk.

        >>> [o.value for o in Outcome if o.may_keep_question_text]
        ['answered', 'abstained']
        """
        return self in (Outcome.ANSWERED, Outcome.ABSTAINED)
