"""Thumbs up/down on an answer in the chat: one rating event in the insights store (qa/insights/).

The event has the UTC date and hour, the rating and the ids of the sources the answer cited; the question's
text only for a thumbs-down, and only when the clinic sets `[privacy] store_question_text = true` (the chat
page's privacy note then says so), and never for a safety message or small talk (chat.py's `rating_facts`, by the reply's outcome). Nothing else about a visitor is kept. Recording queues the event and
returns: the store's writer thread does the writing, and reports its own failures. The old JSONL log
(`[privacy] feedback_file`) is imported into the store once, by the store.
"""

from __future__ import annotations

from qa.insights.events import RatingEvent, rating_event
from qa.insights.store import EventStore


class FeedbackLog:
    """Turns a thumbs up/down into a rating event for `events`."""

    def __init__(self, events: EventStore, *, store_question_text: bool):
        self.events = events
        self.store_question_text = store_question_text

    def record(self, rating: str, source_ids: list[str], question: str | None = None) -> RatingEvent:
        event = rating_event(rating, source_ids, question, store_question_text=self.store_question_text)
        self.events.record(event)
        return event
