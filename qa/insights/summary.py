"""The figures of the insights report, from the events alone: `summarize` (events in, `Summary` out, pure),
and the small helpers the text, the Markdown and the charts share (titles told apart, shares).

Not here: reading the store (database.py), the words and charts made of a summary (report.py, charts.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from .events import AnswerEvent, RatingEvent


@dataclass
class Kind:
    """A kind of request or topic behind abstentions."""
    name: str
    origin: str  # "request" (requests.yaml) or "topic" (topics.yaml)
    count: int


@dataclass
class Summary:
    start: date
    end: date
    per_day: dict[str, Counter]                    # day -> outcome -> questions
    outcomes: Counter
    languages: Counter                             # other languages only
    truncated: int
    cached: int
    confidence: Counter                            # of the answers given
    uncovered: list[Kind]                          # most frequent first
    abstained_without_kind: int
    citations: Counter                             # source id -> answers citing it
    ratings: dict[str, Counter]                    # source id -> "up"/"down" -> ratings of answers citing it
    thumbs: Counter                                # "up"/"down" -> all ratings
    abstained_texts: list[str] = field(default_factory=list)
    down_texts: list[str] = field(default_factory=list)
    source_ids: list[str] = field(default_factory=list)  # every article, cited or not

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def period(self) -> str:
        return "today" if self.days == 1 else f"in the last {self.days} days"

    @property
    def has_text(self) -> bool:
        return bool(self.abstained_texts or self.down_texts)

    def by_citations(self) -> list[str]:
        """Every article, most cited first (ties by id)."""
        return sorted(self.source_ids, key=lambda s: (-self.citations[s], s))


def summarize(answers: list[AnswerEvent], ratings: list[RatingEvent], *, start: date, end: date,
              source_ids: list[str] = ()) -> Summary:
    """The figures of the report for the events of days `start` to `end` (others are ignored)."""
    first, last = start.isoformat(), end.isoformat()
    answers = [a for a in answers if first <= a.day <= last]
    ratings = [r for r in ratings if first <= r.day <= last]
    per_day = {(start + timedelta(days=i)).isoformat(): Counter() for i in range((end - start).days + 1)}
    for a in answers:
        per_day[a.day][a.outcome] += 1
    abstained = [a for a in answers if a.outcome == "abstained"]
    kinds = Counter((name, "request") for a in abstained for name in a.requests)
    kinds.update((name, "topic") for a in abstained for name in a.topics)
    by_source: dict[str, Counter] = {}
    for r in ratings:
        for source in r.sources:
            by_source.setdefault(source, Counter())[r.rating] += 1
    citations = Counter(s for a in answers if a.outcome == "answered" for s in a.sources)
    return Summary(
        start=start, end=end, per_day=per_day,
        outcomes=Counter(a.outcome for a in answers),
        languages=Counter(a.language for a in answers if a.language),
        truncated=sum(a.truncated for a in answers), cached=sum(a.cached for a in answers),
        confidence=Counter(a.confidence for a in answers if a.outcome == "answered" and a.confidence),
        uncovered=[Kind(name, origin, n) for (name, origin), n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))],
        abstained_without_kind=sum(1 for a in abstained if not a.requests and not a.topics),
        citations=citations, ratings=by_source, thumbs=Counter(r.rating for r in ratings),
        abstained_texts=[a.question for a in abstained if a.question],
        down_texts=[r.question for r in ratings if r.rating == "down" and r.question],
        source_ids=sorted(set(source_ids) | set(citations) | set(by_source)),
    )


def percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def title_of(titles: dict[str, str], source_id: str) -> str:
    return titles.get(source_id, source_id)


def distinct_titles(titles: dict[str, str]) -> dict[str, str]:
    """Article titles by source id, a title that two articles share followed by each one's id, so that the
    report's tables and bars never merge two articles (a clinic's page may reuse an article's title).

    >>> distinct_titles({"a": "Needles", "b": "Needles", "c": "Qi"})
    {'a': 'Needles (a)', 'b': 'Needles (b)', 'c': 'Qi'}
    """
    shared = {title for title, count in Counter(titles.values()).items() if count > 1}
    return {sid: f"{title} ({sid})" if title in shared else title for sid, title in titles.items()}


def down_share(summary: Summary, source_id: str) -> str:
    votes = summary.ratings.get(source_id, Counter())
    return percent(votes["down"], votes["up"] + votes["down"])
