"""`python -m qa insights [--since 30d] [--out DIR]`: what visitors asked, for the clinic, from the events store.

Prints a short summary and writes DIR/insights.md (default: insights/ beside the store, var/insights/) with
PNG charts beside it:

- questions per day, and the shares answered / not covered / safety / small talk;
- the kinds of request and topic the articles don't cover, most frequent first, each with a plain
  suggestion (suggestions.py);
- the articles cited most and least, with the thumbs up/down on the answers that cited each;
- only when the clinic opted in to question text: the questions not covered, and those rated thumbs-down,
  grouped by their nearest article section (clusters.py).

`summarize` is pure (events in, `Summary` out) and `write_report` only writes; `make_report` reads the
store and the index and puts them together. Days are UTC dates; `--since 30d` is the last 30 of them,
today included, and never reaches further back than `[privacy] keep_days`. Leaves out: anything the
store does not hold (who asked, when to the minute, the conversation).
"""

from __future__ import annotations

import html
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from index import files
from qa.config import Settings
from qa.language import NAMES as LANGUAGE_NAMES

from qa.config import KEPT_TEXT_LIMIT

from . import suggestions
from .events import AnswerEvent, RatingEvent
from .store import InsightsError, LegacyLogError, import_feedback_log, open_for_reading, read_events

REPORT_FILE = "insights.md"
CHARTS = {"per_day": "questions_per_day.png", "not_covered": "not_covered.png", "articles": "articles.png"}
OUTCOME_LABELS = {"answered": "answered from the articles", "abstained": "not covered by the articles",
                  "safety": "safety message first", "small_talk": "small talk (greetings, thanks)"}
OUTCOME_SHORT = {"answered": "answered", "abstained": "not covered", "safety": "safety", "small_talk": "small talk"}
OUTCOME_COLOURS = {"answered": "#2563eb", "abstained": "#f59e0b", "safety": "#dc2626", "small_talk": "#9ca3af"}
_SINCE = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.IGNORECASE)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def escape(text: str) -> str:
    """Visitor or article text made inert in the report's Markdown (as qa/markup.py does for answers, but
    quotes stay quotes: staff read this file as text too).

    >>> print(escape("I'm <b>sure</b> | *very*"))
    I'm &lt;b&gt;sure&lt;/b&gt; \\| \\*very\\*
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def parse_since(text: str) -> int:
    """'30d' -> 30 days, '4w' -> 28.

    >>> parse_since("30d"), parse_since("4w")
    (30, 28)
    """
    found = _SINCE.match(text or "")
    days = int(found.group(1)) * (7 if found.group(2).lower() == "w" else 1) if found else 0
    if days < 1:
        raise InsightsError(f"--since must be a number of days or weeks, like 30d or 4w, got {text!r}.")
    return days


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


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _title(titles: dict[str, str], source_id: str) -> str:
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
    return _pct(votes["down"], votes["up"] + votes["down"])


# --- the printed summary --------------------------------------------------------------------------------

def summary_text(summary: Summary, *, titles: dict[str, str], events_path: Path, top: int = 5) -> str:
    """The few lines `python -m qa insights` prints."""
    head = f"Insights {summary.start} to {summary.end} ({_plural(summary.days, 'day')}, UTC), from {events_path}:"
    if not summary.total and not sum(summary.thumbs.values()):
        return f"{head}\n  No questions were recorded in this period."
    outcomes = ", ".join(f"{summary.outcomes[o]} {OUTCOME_SHORT[o]} ({_pct(summary.outcomes[o], summary.total)})"
                         for o in OUTCOME_SHORT)
    lines = [head, f"  {_plural(summary.total, 'question')}: {outcomes}"]
    if summary.uncovered:
        lines.append("  Not covered, most frequent first:")
        lines += [f"    {suggestions.suggestion(k.name, k.count, summary.period)}" for k in summary.uncovered[:top]]
    if summary.abstained_without_kind:
        lines.append(f"  {_plural(summary.abstained_without_kind, 'other question')} not covered, of no listed kind.")
    ranked = summary.by_citations()
    most = [s for s in ranked if summary.citations[s]][:3]
    if most:
        lines.append("  Most cited: " + "; ".join(f"{_title(titles, s)} ({summary.citations[s]})" for s in most))
        # Least first, and only articles not named as most cited: with few articles the two would overlap.
        least = [s for s in reversed(ranked) if s not in most][:3]
        if least:
            lines.append("  Least cited: " + "; ".join(f"{_title(titles, s)} ({summary.citations[s]})" for s in least))
    up, down = summary.thumbs["up"], summary.thumbs["down"]
    lines.append(f"  Thumbs: {up} up, {down} down ({_pct(down, up + down)} down)" if up + down else "  Thumbs: none")
    return "\n".join(lines)


# --- insights.md ----------------------------------------------------------------------------------------

def markdown(summary: Summary, *, titles: dict[str, str], events_path: Path, charts: dict[str, str],
             groups: dict[str, list] | None = None, notes: list[str] = (), keep_days: int | None = None,
             text_opted_in: bool = False) -> str:
    """insights.md. `groups`: "abstained" / "down" -> clusters.Group lists (opted-in text only)."""
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"# What visitors asked, {summary.start} to {summary.end}", "",
           f"{_plural(summary.total, 'question')} in {_plural(summary.days, 'day')} (UTC dates), "
           f"from `{events_path}`; made {made}."
           + (f" Events are kept {keep_days} days." if keep_days else ""), ""]
    out += [f"> {note}" for note in notes] + ([""] if notes else [])
    if not summary.total and not sum(summary.thumbs.values()):
        out.append("No questions were recorded in this period.")
        return "\n".join(out) + "\n"

    out += ["| | questions | share |", "|---|---:|---:|"]
    out += [f"| {OUTCOME_LABELS[o]} | {summary.outcomes[o]} | {_pct(summary.outcomes[o], summary.total)} |"
            for o in OUTCOME_LABELS]
    out.append("")
    also = []
    if summary.languages:
        langs = ", ".join(f"{LANGUAGE_NAMES.get(code, code)} {n}" for code, n in summary.languages.most_common())
        also.append(f"{sum(summary.languages.values())} in another language ({langs})")
    if summary.truncated:
        also.append(f"{summary.truncated} cut to the length limit")
    if summary.cached:
        also.append(f"{summary.cached} repeats of a recent question (answered from the cache)")
    if also:
        out += ["Also: " + "; ".join(also) + ".", ""]
    if summary.confidence:
        given = sum(summary.confidence.values())
        out += ["How sure the answers given were (the re-ranker's score for the best passage): "
                + ", ".join(f"{level} {summary.confidence[level]} ({_pct(summary.confidence[level], given)})"
                            for level in ("high", "medium", "low")) + ".", ""]
    if "per_day" in charts:
        out += [f"![Questions per day, by outcome]({charts['per_day']})", ""]

    out += ["## What the articles don't cover", ""]
    abstained = summary.outcomes["abstained"]
    if not abstained:
        out += ["Every question in this period was answered, or got a safety message or a small-talk reply.", ""]
    else:
        out += [f"{_plural(abstained, 'question')} not covered. The kinds they named, most frequent first "
                "(a question can name more than one):", ""]
        out += [f"- {suggestions.suggestion(k.name, k.count, summary.period)}" for k in summary.uncovered]
        if summary.abstained_without_kind:
            if summary.abstained_texts:
                more = "All the questions not covered are listed below by their nearest article section."
            elif not text_opted_in:
                more = ("With `store_question_text = true` under `[privacy]` in clinic.toml, the report lists the "
                        "questions themselves by nearest article section (the chat page's privacy note then tells visitors).")
            else:
                more = ""
            out.append(f"- {_plural(summary.abstained_without_kind, 'question')} of no listed kind. {more}".rstrip())
        out.append("")
        if "not_covered" in charts:
            out += [f"![Questions not covered, by kind]({charts['not_covered']})", ""]

    out += ["## Articles cited", "",
            "Most cited first. Thumbs are the ratings of answers that cited the article.", "",
            "| article | answers citing it | thumbs up | thumbs down | thumbs-down share |", "|---|---:|---:|---:|---:|"]
    for source in summary.by_citations():
        votes = summary.ratings.get(source, Counter())
        out.append(f"| {escape(_title(titles, source))} (`{source}`) | {summary.citations[source]} | {votes['up']} | "
                   f"{votes['down']} | {down_share(summary, source)} |")
    never = [s for s in summary.source_ids if not summary.citations[s]]
    up, down = summary.thumbs["up"], summary.thumbs["down"]
    out += ["", f"Thumbs up/down in all: {up} up, {down} down ({_pct(down, up + down)} down)."
            + (f" Never cited: {', '.join(escape(_title(titles, s)) for s in never)}." if never else ""), ""]
    if "articles" in charts:
        out += [f"![Answers citing each article]({charts['articles']})", ""]

    for key, heading, texts in (("abstained", "Questions the articles did not cover", summary.abstained_texts),
                                ("down", "Questions whose answer was rated thumbs-down", summary.down_texts)):
        if not texts:
            continue
        out += [f"## {heading}, by nearest article section", "",
                f"Kept because the clinic set `store_question_text = true`; as typed (cut to {KEPT_TEXT_LIMIT:,} characters). "
                "To teach the chat the ones an article does answer, `python -m qa bank suggest` lists them with the "
                "nearest sentences and a ready `python -m qa bank add` line for each (README: \"The question bank\").", ""]
        found = (groups or {}).get(key)
        if found is None:
            out += [f"- {escape(text)}" for text in texts] + [""]
            continue
        for group in found:
            out += [f"### {escape(group.title)}, “{escape(group.section or 'no section')}” ({group.size})", ""]
            out += [f"- {escape(text)}{f' (asked {times} times)' if times > 1 else ''} (similarity {similarity:.2f})"
                    for text, times, similarity in group.questions]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


# --- charts -----------------------------------------------------------------------------------------------

def draw_charts(summary: Summary, out: Path, *, titles: dict[str, str]) -> dict[str, str]:
    """The PNG charts that have something to show, written into `out`; name -> file name."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    drawn = {}
    if summary.total:
        fig, ax = plt.subplots(figsize=(9, 3.6))
        days = list(summary.per_day)
        bottom = [0] * len(days)
        for outcome, label in OUTCOME_SHORT.items():
            heights = [summary.per_day[d][outcome] for d in days]
            ax.bar(range(len(days)), heights, bottom=bottom, color=OUTCOME_COLOURS[outcome], label=label, width=0.8)
            bottom = [b + h for b, h in zip(bottom, heights)]
        step = max(1, len(days) // 10)
        ax.set_xticks(range(0, len(days), step), [d[5:] for d in days[::step]])
        ax.set_ylim(0, max(bottom) * 1.25 + 1)  # room for the legend above the bars
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 2.5 on the axis
        ax.set_ylabel("questions")
        ax.set_title("Questions per day (UTC)")
        ax.legend(loc="upper left", ncol=4, fontsize=8, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        _save(fig, out / CHARTS["per_day"], plt)
        drawn["per_day"] = CHARTS["per_day"]
    if summary.uncovered:
        kinds = summary.uncovered[:10][::-1]
        fig, _ax = _bars(plt, [suggestions.subject(k.name) for k in kinds], [k.count for k in kinds],
                         colour=OUTCOME_COLOURS["abstained"], xlabel="questions not covered",
                         title="What the articles don't cover")
        _save(fig, out / CHARTS["not_covered"], plt)
        drawn["not_covered"] = CHARTS["not_covered"]
    if summary.source_ids and sum(summary.citations.values()):
        sources = summary.by_citations()[::-1]
        fig, ax = _bars(plt, [_short(_title(titles, s)) for s in sources], [summary.citations[s] for s in sources],
                        colour=OUTCOME_COLOURS["answered"], xlabel="answers citing the article", title="Articles cited")
        for row, source in enumerate(sources):
            share = down_share(summary, source)
            if share != "–":
                ax.annotate(f" {share} thumbs-down", (summary.citations[source], row), va="center", fontsize=8)
        ax.set_xlim(0, max(summary.citations[s] for s in sources) * 1.3)  # room for the thumbs-down share
        _save(fig, out / CHARTS["articles"], plt)
        drawn["articles"] = CHARTS["articles"]
    return drawn


def _bars(plt, labels: list[str], values: list[int], *, colour: str, xlabel: str, title: str):
    """A horizontal bar chart of whole numbers, first label at the bottom; (figure, axes)."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.2))
    # By position, not by label: matplotlib draws bars of equal labels as one (two articles of one title).
    rows = list(range(len(labels)))
    ax.barh(rows, values, color=colour)
    ax.set_yticks(rows, labels)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _save(fig, path: Path, plt) -> None:
    fig.tight_layout()
    tmp = files.temporary_beside(path)
    try:
        fig.savefig(tmp, dpi=100, format="png")
        files.publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        plt.close(fig)


# --- putting it together -----------------------------------------------------------------------------------

@dataclass
class Report:
    summary: Summary
    text: str       # what is printed
    path: Path      # insights.md
    charts: dict[str, str]


def make_report(settings: Settings, *, days: int = 30, events_path: Path | None = None, out: Path | None = None,
                today: date | None = None, embedder=None, log: Callable[[str], None] = print) -> Report:
    """Read the store (importing an old feedback.jsonl first, if one is there and the store is this server's
    own, settings.events_file), summarize the last `days`
    days and write insights.md with its charts. `embedder` groups opted-in text (default: the serving one,
    loaded only when there is text). Raises `InsightsError` when there is nothing to read."""
    events_path = Path(events_path or settings.events_file)
    out = Path(out or events_path.parent / "insights")
    today = today or datetime.now(timezone.utc).date()
    start = today - timedelta(days=days - 1)
    notes = []
    oldest = today - timedelta(days=settings.keep_days)
    if start < oldest:
        notes.append(f"Events are kept {settings.keep_days} days ([privacy] keep_days), so this report starts on {oldest}.")
        start = oldest
    # The old log belongs to this server's own store: never import it into (and rename it for) another one
    # read with --events, where this server would then never find it.
    own_store = Path(events_path).resolve() == Path(settings.events_file).resolve()
    legacy = settings.feedback_file if own_store and settings.feedback_file.is_file() else None
    conn = open_for_reading(events_path, create=legacy is not None)
    try:
        if legacy is not None:
            try:
                import_feedback_log(conn, legacy, keep_text=settings.store_question_text, log=log)
            except (sqlite3.DatabaseError, OSError, LegacyLogError) as exc:
                notes.append(f"The old feedback log {legacy} could not be imported ({exc}); its ratings are left out.")
        try:
            answers, ratings = read_events(conn, since=start.isoformat())
        except sqlite3.DatabaseError as exc:
            raise InsightsError(f"Cannot read {events_path} ({exc}). If it is corrupt, the server moves it aside "
                                "and starts a new one when it next starts.") from exc
    finally:
        conn.close()

    index, problem = _index(settings, embedder)
    titles = distinct_titles({p.source_id: p.title for p in index.passages}) if index is not None else {}
    if problem:
        notes.append(f"Article titles are not shown: the index could not be read ({problem}).")
    summary = summarize(answers, ratings, start=start, end=today, source_ids=index.source_ids if index else ())
    groups = None
    if summary.has_text and index is not None:
        groups, problem = _groups(summary, settings, index, embedder)
        if problem:
            notes.append(f"The questions are not grouped by section: {problem}")
    path = out / REPORT_FILE
    try:
        out.mkdir(parents=True, exist_ok=True)
        charts = draw_charts(summary, out, titles=titles) if summary.total or sum(summary.thumbs.values()) else {}
        files.write_text(path, markdown(summary, titles=titles, events_path=events_path, charts=charts, groups=groups,
                                        notes=notes, keep_days=settings.keep_days,
                                        text_opted_in=settings.store_question_text))
    except OSError as exc:
        raise InsightsError(f"Cannot write the report into {out} ({exc}). Choose another directory with --out.") from exc
    text = summary_text(summary, titles=titles, events_path=events_path)
    text += "".join(f"\n  Note: {note}" for note in notes)
    text += f"\nWrote {path}" + (f" and {len(charts)} charts." if charts else ".")
    return Report(summary, text, path, charts)


def _index(settings: Settings, embedder):
    """The built index (titles, sections, passage vectors) or None and why not."""
    from index import SearchIndex, SearchIndexError

    try:
        model = embedder.name if embedder is not None else None
        return SearchIndex.load(settings.index_dir, model=model), None
    except SearchIndexError as exc:
        return None, str(exc)


def _groups(summary: Summary, settings: Settings, index, embedder) -> tuple[dict[str, list] | None, str | None]:
    """The opted-in texts by nearest section, or None and why not."""
    from .clusters import by_nearest_section

    if embedder is None:
        from qa.answerer import serving_embedder

        embedder = serving_embedder(settings)
    if embedder.name != index.model_name:
        return None, (f"the index was built with {index.model_name!r}, not {embedder.name!r}; "
                      f"rebuild it: python -m index build --out {settings.index_dir}")
    return {"abstained": by_nearest_section(summary.abstained_texts, index, embedder),
            "down": by_nearest_section(summary.down_texts, index, embedder)}, None
