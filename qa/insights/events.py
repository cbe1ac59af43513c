"""What the insights store keeps about one answer or one thumbs up/down: an event, read off what the
pipeline already decided (qa/answerer.py's `Result`), never worked out again from the words.

An `AnswerEvent` holds the UTC date and hour, where it was asked (`api`: POST /api/ask and the widget;
`chat`: the chat page), the outcome, a few facts beside it, the cited source ids and, for an abstention,
the kinds of request (qa/requests.yaml) and topic (qa/topics.yaml) the articles don't cover that the
question named. A `RatingEvent` holds the date and hour, the rating and the cited source ids.

Left out, always: the conversation, anything about the visitor (address, visitor or session id, cookie,
browser), the time finer than the hour, the words that matched a kind. The question text is kept only when
the clinic opted in (`[privacy] store_question_text`), and then only for a question the
articles did not cover or an answer rated thumbs-down: never for a safety message, small talk or an answer.

    outcome      when
    answered     passages were shown
    abstained    the articles don't answer it (the abstention model, or nothing retrieved)
    safety       a safety message came first (detail: emergency, urgent, crisis); nothing was retrieved
    small_talk   a greeting, thanks, goodbye or an empty message (detail: which)

Beside the outcome, because they combine with it (a question in Spanish can still be answered): `language`
(None for English, else qa/language.py's code), `truncated` (cut to max_question_chars), `cached` (served
from the answer cache: it still counts as a question asked) and `confidence`, the re-ranker's best score
in three buckets (`confidence_bucket`), None where nothing was re-ranked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from qa.config import KEPT_TEXT_LIMIT
from qa.outcome import Outcome

if TYPE_CHECKING:
    from qa.answerer import Result

OUTCOMES = tuple(outcome.value for outcome in Outcome)
CHANNELS = ("api", "chat")
RATINGS = ("up", "down")
CONFIDENCES = ("high", "medium", "low")
# Buckets of the cross-encoder's best logit (Evidence.rerank_top). On the three question sets' re-ranker scores
# (var/bench/rerank_scores.json), 91 % of questions scoring 3 or more were answerable, 57 % of those between 0
# and 3, 48 % of those below 0: "low" is a coin toss, "high" is where out-of-scope questions are rare.
HIGH_CONFIDENCE_LOGIT = 3.0
MEDIUM_CONFIDENCE_LOGIT = 0.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _day_and_hour(now: datetime) -> tuple[str, int]:
    now = now.astimezone(timezone.utc)
    return now.date().isoformat(), now.hour


@dataclass(frozen=True)
class AnswerEvent:
    day: str                        # UTC date, YYYY-MM-DD
    hour: int                       # UTC hour, 0-23
    channel: str                    # CHANNELS
    outcome: str                    # OUTCOMES
    detail: str | None = None       # the safety level, or the kind of small talk
    language: str | None = None     # None for English
    truncated: bool = False
    cached: bool = False
    confidence: str | None = None   # CONFIDENCES, or None where nothing was re-ranked
    sources: tuple[str, ...] = ()   # cited source ids, best first (each passage's, then its "also in")
    requests: tuple[str, ...] = ()  # kinds of request (requests.yaml) behind an abstention
    topics: tuple[str, ...] = ()    # kinds of topic (topics.yaml) behind an abstention
    question: str | None = None     # opted in, abstentions only

    def __post_init__(self):
        # A bad value is a bug in the caller: fail in its request, not later in the writer thread.
        _check("channel", self.channel, CHANNELS)
        _check("outcome", self.outcome, OUTCOMES)
        _check("confidence", self.confidence, CONFIDENCES + (None,))
        _check_time(self.day, self.hour)


@dataclass(frozen=True)
class RatingEvent:
    day: str
    hour: int
    rating: str                     # RATINGS
    sources: tuple[str, ...] = ()   # the source ids the rated answer cited
    question: str | None = None     # opted in, thumbs-down only

    def __post_init__(self):
        _check("rating", self.rating, RATINGS)
        _check_time(self.day, self.hour)


def _check(name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"Invalid {name}: {value!r}. Choose from {', '.join(repr(a) for a in allowed)}.")


def _check_time(day: str, hour: int) -> None:
    datetime.strptime(day, "%Y-%m-%d")  # ValueError names the bad date
    if not (isinstance(hour, int) and 0 <= hour <= 23):
        raise ValueError(f"Invalid hour: {hour!r}. Use a whole number from 0 to 23.")


def cited_source_ids(answer: dict) -> list[str]:
    """Source ids an answer cites (its passages, then the other articles that say the same), no repeats.

    >>> cited_source_ids({"passages": [{"source_id": "b", "also_in": [{"source_id": "c"}]}, {"source_id": "b"}]})
    ['b', 'c']
    """
    ids = []
    for passage in answer["passages"]:
        ids.append(passage["source_id"])
        ids += [other["source_id"] for other in passage.get("also_in", [])]
    return list(dict.fromkeys(ids))


def confidence_bucket(rerank_top: float | None) -> str | None:
    """The re-ranker's best logit as "high", "medium" or "low" (None: nothing was re-ranked).

    >>> [confidence_bucket(x) for x in (7.5, 3.0, 0.0, -0.1, None)]
    ['high', 'high', 'medium', 'low', None]
    """
    if rerank_top is None:
        return None
    if rerank_top >= HIGH_CONFIDENCE_LOGIT:
        return "high"
    return "medium" if rerank_top >= MEDIUM_CONFIDENCE_LOGIT else "low"


def clip_text(text: str | None) -> str | None:
    """Opted-in text as kept: spacing normalised, at most KEPT_TEXT_LIMIT characters, None when empty."""
    text = " ".join((text or "").split())
    return text[:KEPT_TEXT_LIMIT] or None


def answer_event(result: Result, *, channel: str, store_question_text: bool = False,
                 now: Callable[[], datetime] = utc_now) -> AnswerEvent:
    """The event for one answer. `store_question_text`: the clinic opted in, and this channel tells visitors so."""
    day, hour = _day_and_hour(now())
    answer, prepared = result.answer, result.prepared
    common = dict(day=day, hour=hour, channel=channel, truncated=prepared.truncated, cached=result.cached,
                  language=None if prepared.language == "en" else prepared.language)
    outcome = result.outcome
    if outcome in (Outcome.SMALL_TALK, Outcome.SAFETY):
        return AnswerEvent(outcome=outcome.value, detail=result.detail, **common)
    confidence = confidence_bucket(result.rerank_top)
    if outcome is Outcome.ABSTAINED:
        return AnswerEvent(outcome=outcome.value, confidence=confidence, requests=tuple(prepared.unsupported_requests),
                           topics=tuple(prepared.uncovered_topics),
                           question=clip_text(prepared.text) if store_question_text else None, **common)
    return AnswerEvent(outcome=outcome.value, confidence=confidence, sources=tuple(cited_source_ids(answer)), **common)


def rating_event(rating: str, source_ids: list[str], question: str | None = None, *, store_question_text: bool = False,
                 now: Callable[[], datetime] = utc_now) -> RatingEvent:
    """The event for one thumbs up/down. The question's text is kept only for a thumbs-down, and only with
    `store_question_text` (the clinic opted in); the caller passes no `question` when the rated reply was a safety
    message or small talk (server/chat.py's `rating_facts`)."""
    day, hour = _day_and_hour(now())
    kept = clip_text(question) if store_question_text and rating == "down" else None
    return RatingEvent(day=day, hour=hour, rating=rating, sources=tuple(dict.fromkeys(source_ids)), question=kept)
