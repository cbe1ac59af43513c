"""`python -m qa insights [--since 30d] [--out DIR]`: what visitors asked, for the clinic, from the events store.

Prints a short summary and writes DIR/insights.md (default: insights/ beside the store, var/insights/) with
PNG charts beside it:

- questions per day, and the shares answered / not covered / safety / small talk;
- the kinds of request and topic the articles don't cover, most frequent first, each with a plain
  suggestion (suggestions.py);
- the articles cited most and least, with the thumbs up/down on the answers that cited each;
- only when the clinic opted in to question text: the questions not covered, and those rated thumbs-down,
  grouped by their nearest article section (clusters.py).

The figures come from summary.py's `summarize` (pure: events in, `Summary` out) and the charts from
charts.py; here are the printed summary and insights.md, and `make_report`, which reads the store and the
index and puts them together. Days are UTC dates; `--since 30d` is the last 30 of them,
today included, and never reaches further back than `[privacy] keep_days`. Leaves out: anything the
store does not hold (who asked, when to the minute, the conversation).
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from plumbing import files
from qa import markup
from qa.config import KEPT_TEXT_LIMIT, Settings
from qa.language import NAMES as LANGUAGE_NAMES

from . import suggestions
from .charts import OUTCOME_SHORT, draw_charts
from .database import InsightsError, LegacyLogError, open_for_reading, read_events
from .legacy_log import import_feedback_log
from .summary import Summary, percent, plural, title_of, distinct_titles, down_share, summarize

REPORT_FILE = "insights.md"
OUTCOME_LABELS = {"answered": "answered from the articles", "abstained": "not covered by the articles",
                  "safety": "safety message first", "small_talk": "small talk (greetings, thanks)"}
_SINCE = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.IGNORECASE)


def escape(text: str) -> str:
    """Visitor or article text made inert in the report's Markdown; quotes stay quotes (staff read it as text)."""
    return markup.escape(text, quote=False)


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



# --- the printed summary --------------------------------------------------------------------------------

def summary_text(summary: Summary, *, titles: dict[str, str], events_path: Path, top: int = 5) -> str:
    """The few lines `python -m qa insights` prints."""
    head = f"Insights {summary.start} to {summary.end} ({plural(summary.days, 'day')}, UTC), from {events_path}:"
    if not summary.total and not sum(summary.thumbs.values()):
        return f"{head}\n  No questions were recorded in this period."
    outcomes = ", ".join(f"{summary.outcomes[o]} {OUTCOME_SHORT[o]} ({percent(summary.outcomes[o], summary.total)})"
                         for o in OUTCOME_SHORT)
    lines = [head, f"  {plural(summary.total, 'question')}: {outcomes}"]
    if summary.uncovered:
        lines.append("  Not covered, most frequent first:")
        lines += [f"    {suggestions.suggestion(k.name, k.count, summary.period)}" for k in summary.uncovered[:top]]
    if summary.abstained_without_kind:
        lines.append(f"  {plural(summary.abstained_without_kind, 'other question')} not covered, of no listed kind.")
    ranked = summary.by_citations()
    most = [s for s in ranked if summary.citations[s]][:3]
    if most:
        lines.append("  Most cited: " + "; ".join(f"{title_of(titles, s)} ({summary.citations[s]})" for s in most))
        # Least first, and only articles not named as most cited: with few articles the two would overlap.
        least = [s for s in reversed(ranked) if s not in most][:3]
        if least:
            lines.append("  Least cited: " + "; ".join(f"{title_of(titles, s)} ({summary.citations[s]})" for s in least))
    up, down = summary.thumbs["up"], summary.thumbs["down"]
    lines.append(f"  Thumbs: {up} up, {down} down ({percent(down, up + down)} down)" if up + down else "  Thumbs: none")
    return "\n".join(lines)


# --- insights.md ----------------------------------------------------------------------------------------

def markdown(summary: Summary, *, titles: dict[str, str], events_path: Path, charts: dict[str, str],
             groups: dict[str, list] | None = None, notes: list[str] = (), keep_days: int | None = None,
             text_opted_in: bool = False) -> str:
    """insights.md. `groups`: "abstained" / "down" -> clusters.Group lists (opted-in text only)."""
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"# What visitors asked, {summary.start} to {summary.end}", "",
           f"{plural(summary.total, 'question')} in {plural(summary.days, 'day')} (UTC dates), "
           f"from `{events_path}`; made {made}."
           + (f" Events are kept {keep_days} days." if keep_days else ""), ""]
    out += [f"> {note}" for note in notes] + ([""] if notes else [])
    if not summary.total and not sum(summary.thumbs.values()):
        out.append("No questions were recorded in this period.")
        return "\n".join(out) + "\n"

    out += ["| | questions | share |", "|---|---:|---:|"]
    out += [f"| {OUTCOME_LABELS[o]} | {summary.outcomes[o]} | {percent(summary.outcomes[o], summary.total)} |"
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
                + ", ".join(f"{level} {summary.confidence[level]} ({percent(summary.confidence[level], given)})"
                            for level in ("high", "medium", "low")) + ".", ""]
    if "per_day" in charts:
        out += [f"![Questions per day, by outcome]({charts['per_day']})", ""]

    out += ["## What the articles don't cover", ""]
    abstained = summary.outcomes["abstained"]
    if not abstained:
        out += ["Every question in this period was answered, or got a safety message or a small-talk reply.", ""]
    else:
        out += [f"{plural(abstained, 'question')} not covered. The kinds they named, most frequent first "
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
            out.append(f"- {plural(summary.abstained_without_kind, 'question')} of no listed kind. {more}".rstrip())
        out.append("")
        if "not_covered" in charts:
            out += [f"![Questions not covered, by kind]({charts['not_covered']})", ""]

    out += ["## Articles cited", "",
            "Most cited first. Thumbs are the ratings of answers that cited the article.", "",
            "| article | answers citing it | thumbs up | thumbs down | thumbs-down share |", "|---|---:|---:|---:|---:|"]
    for source in summary.by_citations():
        votes = summary.ratings.get(source, Counter())
        out.append(f"| {escape(title_of(titles, source))} (`{source}`) | {summary.citations[source]} | {votes['up']} | "
                   f"{votes['down']} | {down_share(summary, source)} |")
    never = [s for s in summary.source_ids if not summary.citations[s]]
    up, down = summary.thumbs["up"], summary.thumbs["down"]
    out += ["", f"Thumbs up/down in all: {up} up, {down} down ({percent(down, up + down)} down)."
            + (f" Never cited: {', '.join(escape(title_of(titles, s)) for s in never)}." if never else ""), ""]
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



# --- putting it together -----------------------------------------------------------------------------------

@dataclass
class Report:
    summary: Summary
    text: str       # what is printed
    path: Path      # insights.md
    charts: dict[str, str]


def make_report(settings: Settings, *, days: int = 30, events_path: Path | None = None, out: Path | None = None,
                today: date | None = None, embedder=None) -> Report:
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
                import_feedback_log(conn, legacy, store_question_text=settings.store_question_text)
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
    titles = distinct_titles(index.source_titles) if index is not None else {}
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
