"""`python -m qa insights` on a generated month of events, with every count worked out by hand below; the
opted-in questions grouped by nearest section; a missing or empty store; the old feedback log. Fake embedder,
a three-article fake index."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from qa.__main__ import main
from qa.config import Settings
from qa.insights.events import AnswerEvent, RatingEvent
from qa.insights.report import make_report, parse_since
from qa.insights.summary import summarize
from qa.insights.database import InsightsError, connect, insert, transaction
from tests.conftest import FakeEmbedder, fake_index

FILES = {
    "needles.md": "---\ntitle: Needles\n---\n## Does it hurt?\n\nMost patients feel little to no pain from the needles.\n",
    "qi.md": "---\ntitle: Qi\n---\n## Energy\n\nQi is the energy that flows along meridians.\n",
    "sessions.md": "---\ntitle: Sessions\n---\n## How many\n\nMost people need six to twelve sessions.\n",
}
TODAY = date(2025, 6, 30)


def month_of_events(today: date, *, with_text: bool = False) -> tuple[list[AnswerEvent], list[RatingEvent]]:
    """30 days, i = 0 (29 days ago) to 29 (today). Each day i:

        answered   5: 3 citing needles (confidence high), 2 citing qi (medium); on days 0-3 the first is in Spanish
        abstained  1 about prices; +1 about other therapies when i % 3 == 0 (10 days); +1 of no kind when i % 5 == 0 (6)
        safety     1 emergency when i % 10 == 0 (3 days)
        small talk 1 greeting when i is even (15 days)
        ratings    1 up on needles; +1 down on needles when i % 6 == 0 (5 days); +1 down on qi when i % 4 == 0 (8)

    Plus one answer 30 days ago and one 100 days ago, outside the month.
    """
    answers, ratings = [], []
    for i in range(30):
        day = (today - timedelta(days=29 - i)).isoformat()

        def answer(outcome, **fields):
            answers.append(AnswerEvent(day=day, hour=(i + len(answers)) % 24, channel="api" if i % 2 else "chat",
                                       outcome=outcome, **fields))

        for n in range(5):
            answer("answered", sources=("needles",) if n < 3 else ("qi",), confidence="high" if n < 3 else "medium",
                   language="es" if n == 0 and i < 4 else None)
        answer("abstained", requests=("pricing",), confidence="low")
        if i % 3 == 0:
            answer("abstained", topics=("other therapies",), confidence="low")
        if i % 5 == 0:
            text = ("Do the needles hurt a lot?" if i % 2 == 0 else "What is the energy called qi?") if with_text else None
            answer("abstained", confidence="low", question=text)
        if i % 10 == 0:
            answer("safety", detail="emergency")
        if i % 2 == 0:
            answer("small_talk", detail="greeting")
        ratings.append(RatingEvent(day=day, hour=8, rating="up", sources=("needles",)))
        if i % 6 == 0:
            ratings.append(RatingEvent(day=day, hour=9, rating="down", sources=("needles",),
                                       question="Does it hurt?" if with_text else None))
        if i % 4 == 0:
            ratings.append(RatingEvent(day=day, hour=9, rating="down", sources=("qi",)))
    for days_ago in (30, 100):
        answers.append(AnswerEvent(day=(today - timedelta(days=days_ago)).isoformat(), hour=1, channel="api",
                                   outcome="answered", sources=("sessions",)))
    return answers, ratings


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("report-index")
    fake_index(directory, FILES)
    return directory / "idx"


def store_with(path, answers, ratings):
    conn = connect(path)
    with transaction(conn):
        insert(conn, answers + ratings)
    conn.close()
    return path


def settings_for(tmp_path, index_dir, **overrides):
    return Settings(index_dir=index_dir, events_file=tmp_path / "events.sqlite3",
                    feedback_file=tmp_path / "feedback.jsonl", **overrides)


def test_the_month_counted_by_hand():
    answers, ratings = month_of_events(TODAY)
    s = summarize(answers, ratings, start=TODAY - timedelta(days=29), end=TODAY, source_ids=["needles", "qi", "sessions"])
    assert dict(s.outcomes) == {"answered": 150, "abstained": 30 + 10 + 6, "safety": 3, "small_talk": 15}
    assert s.total == 214 and s.days == 30
    # Day 0 has everything: 5 + 1 + 1 + 1 + 1 + 1; day 29 (odd, no multiple of 3, 5 or 10): 5 + 1.
    assert sum(s.per_day["2025-06-01"].values()) == 10 and sum(s.per_day["2025-06-30"].values()) == 6
    assert len(s.per_day) == 30
    assert [(k.name, k.origin, k.count) for k in s.uncovered] == [("pricing", "request", 30), ("other therapies", "topic", 10)]
    assert s.abstained_without_kind == 6
    assert dict(s.citations) == {"needles": 90, "qi": 60}
    assert dict(s.ratings["needles"]) == {"up": 30, "down": 5} and dict(s.ratings["qi"]) == {"down": 8}
    assert dict(s.thumbs) == {"up": 30, "down": 13}
    assert dict(s.languages) == {"es": 4} and dict(s.confidence) == {"high": 90, "medium": 60}
    assert s.by_citations() == ["needles", "qi", "sessions"]


def test_the_report_of_a_month(tmp_path, index_dir):
    events = store_with(tmp_path / "events.sqlite3", *month_of_events(TODAY))
    report = make_report(settings_for(tmp_path, index_dir), events_path=events, out=tmp_path / "out", today=TODAY,
                         embedder=FakeEmbedder())
    md = report.path.read_text(encoding="utf-8")
    assert md.startswith("# What visitors asked, 2025-06-01 to 2025-06-30\n")
    assert "214 questions in 30 days" in md
    for row in ("| answered from the articles | 150 | 70% |",       # 150 / 214 = 0.701
                "| not covered by the articles | 46 | 21% |",      # 46 / 214 = 0.215
                "| safety message first | 3 | 1% |",               # 3 / 214 = 0.014
                "| small talk (greetings, thanks) | 15 | 7% |",     # 15 / 214 = 0.070
                "| Needles (`needles`) | 90 | 30 | 5 | 14% |",      # 5 / 35
                "| Qi (`qi`) | 60 | 0 | 8 | 100% |",
                "| Sessions (`sessions`) | 0 | 0 | 0 | – |"):     # its answers were 30 and 100 days ago
        assert row in md, row
    assert "- 30 questions about prices in the last 30 days: a page on fees would answer them." in md
    assert "- 10 questions about other therapies (cupping, massage, supplements, ...) in the last 30 days:" in md
    assert md.index("30 questions about prices") < md.index("10 questions about other therapies")
    assert "- 6 questions of no listed kind. With `store_question_text = true`" in md
    assert "4 in another language (Spanish 4)" in md
    assert "high 90 (60%), medium 60 (40%), low 0 (0%)" in md
    assert "Thumbs up/down in all: 30 up, 13 down (30% down). Never cited: Sessions." in md
    assert "by nearest article section" not in md.split("## What the articles don't cover")[0]
    assert "## Questions" not in md  # no text was kept
    for chart in ("questions_per_day.png", "not_covered.png", "articles.png"):
        assert f"]({chart})" in md
        assert (tmp_path / "out" / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.text.splitlines()[1] == "  214 questions: 150 answered (70%), 46 not covered (21%), 3 safety (1%), 15 small talk (7%)"
    assert "    30 questions about prices in the last 30 days: a page on fees would answer them." in report.text
    assert "  Most cited: Needles (90); Qi (60)" in report.text and "  Thumbs: 30 up, 13 down (30% down)" in report.text


def test_the_last_week_only(tmp_path, index_dir):
    events = store_with(tmp_path / "events.sqlite3", *month_of_events(TODAY))
    report = make_report(settings_for(tmp_path, index_dir), days=7, events_path=events, out=tmp_path / "out", today=TODAY)
    # Days i = 23..29: answered 7 x 5; abstained 7 prices + 2 therapies (24, 27) + 1 of no kind (25);
    # no safety (no multiple of 10); small talk on 24, 26, 28.
    assert dict(report.summary.outcomes) == {"answered": 35, "abstained": 10, "small_talk": 3}
    assert "48 questions in 7 days" in report.path.read_text(encoding="utf-8")
    assert "7 questions about prices in the last 7 days" in report.text


def test_opted_in_questions_are_grouped_by_nearest_section(tmp_path, index_dir):
    events = store_with(tmp_path / "events.sqlite3", *month_of_events(TODAY, with_text=True))
    report = make_report(settings_for(tmp_path, index_dir, store_question_text=True), events_path=events,
                         out=tmp_path / "out", today=TODAY, embedder=FakeEmbedder())
    md = report.path.read_text(encoding="utf-8")
    # The 6 questions of no kind: days 0, 10, 20 ask about needles; 5, 15, 25 about qi.
    not_covered = md.split("## Questions the articles did not cover, by nearest article section")[1].split("\n## ")[0]
    assert "### Needles, “Does it hurt?” (3)\n\n- Do the needles hurt a lot? (asked 3 times)" in not_covered
    assert "### Qi, “Energy” (3)\n\n- What is the energy called qi? (asked 3 times)" in not_covered
    down = md.split("## Questions whose answer was rated thumbs-down, by nearest article section")[1]
    assert "### Needles, “Does it hurt?” (5)\n\n- Does it hurt? (asked 5 times)" in down
    assert "All the questions not covered are listed below" in md
    # Each list says how to turn its questions into bank entries.
    assert not_covered.count("`python -m qa bank suggest`") == 1 and down.count("`python -m qa bank suggest`") == 1


def test_question_text_is_escaped_in_the_report(tmp_path, index_dir):
    answer = AnswerEvent(day=TODAY.isoformat(), hour=1, channel="chat", outcome="abstained",
                         question="<img src=x onerror=alert(1)> *bold* [link](javascript:x)")
    events = store_with(tmp_path / "events.sqlite3", [answer], [])
    md = make_report(settings_for(tmp_path, index_dir, store_question_text=True), events_path=events,
                     out=tmp_path / "out", today=TODAY, embedder=FakeEmbedder()).path.read_text(encoding="utf-8")
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt; \\*bold\\* \\[link\\](javascript:x)" in md


def test_a_missing_store_is_a_clear_message_and_an_empty_one_a_short_report(tmp_path, index_dir, capsys):
    settings = settings_for(tmp_path, index_dir)
    with pytest.raises(InsightsError, match="There are no insights yet: .* does not exist"):
        make_report(settings, out=tmp_path / "out", today=TODAY)
    connect(settings.events_file).close()  # the server started, nobody asked yet
    report = make_report(settings, out=tmp_path / "out", today=TODAY)
    assert "No questions were recorded in this period." in report.text
    assert "No questions were recorded in this period." in report.path.read_text(encoding="utf-8")
    assert report.charts == {}


def test_the_report_starts_no_earlier_than_retention_allows(tmp_path, index_dir):
    events = store_with(tmp_path / "events.sqlite3", *month_of_events(TODAY))
    report = make_report(settings_for(tmp_path, index_dir, keep_days=10), days=365, events_path=events,
                         out=tmp_path / "out", today=TODAY)
    assert report.summary.start == date(2025, 6, 20) and "so this report starts on 2025-06-20" in report.text


def test_the_old_feedback_log_is_read_by_the_report_too(tmp_path, index_dir):
    settings = settings_for(tmp_path, index_dir)
    line = {"time": f"{TODAY}T10:00:00+00:00", "rating": "down", "source_ids": ["qi"]}
    settings.feedback_file.write_text(json.dumps(line) + "\n", encoding="utf-8")
    report = make_report(settings, out=tmp_path / "out", today=TODAY)
    assert dict(report.summary.thumbs) == {"down": 1} and dict(report.summary.ratings["qi"]) == {"down": 1}
    assert not settings.feedback_file.exists()


def test_since_accepts_days_and_weeks():
    assert [parse_since(s) for s in ("30d", "1d", "4w", " 2W ")] == [30, 1, 28, 14]
    for bad in ("30", "0d", "-3d", "a month", ""):
        with pytest.raises(InsightsError, match="--since must be a number of days or weeks, like 30d or 4w"):
            parse_since(bad)


def test_the_command_prints_the_summary_and_writes_the_report(tmp_path, index_dir, monkeypatch, capsys):
    today = datetime.now(timezone.utc).date()
    events = store_with(tmp_path / "events.sqlite3", *month_of_events(today))
    monkeypatch.setenv("QA_INDEX_DIR", str(index_dir))
    (tmp_path / "clinic.toml").write_text(f'[privacy]\nfeedback_file = "{tmp_path / "feedback.jsonl"}"\n', encoding="utf-8")
    monkeypatch.setenv("QA_CONFIG", str(tmp_path / "clinic.toml"))
    assert main(["insights", "--events", str(events), "--out", str(tmp_path / "out"), "--since", "30d"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"Insights {today - timedelta(days=29)} to {today} (30 days, UTC), from {events}:\n")
    assert "214 questions: 150 answered (70%)" in printed
    assert printed.rstrip().endswith(f"Wrote {tmp_path / 'out' / 'insights.md'} and 3 charts.")
    assert main(["insights", "--events", str(tmp_path / "nothing.sqlite3")]) == 2
    assert "error: There are no insights yet" in capsys.readouterr().err
    assert main(["insights", "--since", "soon"]) == 2


def test_an_unwritable_out_directory_is_a_clear_message(tmp_path, index_dir):
    events = store_with(tmp_path / "events.sqlite3", *month_of_events(TODAY))
    (tmp_path / "out").write_text("a file, not a directory", encoding="utf-8")
    with pytest.raises(InsightsError, match="Cannot write the report into .* Choose another directory with --out"):
        make_report(settings_for(tmp_path, index_dir), events_path=events, out=tmp_path / "out", today=TODAY)


def cited_lines(citations: dict[str, int]) -> tuple[str, str | None]:
    """The printed "Most cited" and "Least cited" lines for answers citing each article `citations[id]` times."""
    from qa.insights.report import summary_text

    answers = [AnswerEvent(day=TODAY.isoformat(), hour=1, channel="api", outcome="answered", sources=(source,))
               for source, n in citations.items() for _ in range(n)]
    summary = summarize(answers, [], start=TODAY, end=TODAY, source_ids=list(citations))
    lines = summary_text(summary, titles={s: s.upper() for s in citations}, events_path=Path("e")).splitlines()
    most = next(line for line in lines if line.startswith("  Most cited: "))
    return most, next((line for line in lines if line.startswith("  Least cited: ")), None)


def test_an_article_is_never_both_most_and_least_cited():
    # Five articles (the real corpus): the three most cited, then the other two, least first.
    most, least = cited_lines({"a": 146, "b": 109, "c": 105, "d": 78, "e": 48})
    assert most == "  Most cited: A (146); B (109); C (105)"
    assert least == "  Least cited: E (48); D (78)"
    # Three articles, all cited: the least cited would only repeat the most cited.
    assert cited_lines({"a": 5, "b": 3, "c": 1}) == ("  Most cited: A (5); B (3); C (1)", None)
    # Never cited is the most useful "least cited" of all.
    assert cited_lines({"a": 5, "b": 3, "c": 0}) == ("  Most cited: A (5); B (3)", "  Least cited: C (0)")


def test_no_thumbs_is_said_plainly():
    answers = [AnswerEvent(day=TODAY.isoformat(), hour=1, channel="api", outcome="small_talk", detail="greeting")]
    from qa.insights.report import summary_text

    text = summary_text(summarize(answers, [], start=TODAY, end=TODAY), titles={}, events_path=Path("e"))
    assert text.splitlines()[-1] == "  Thumbs: none"


def test_another_servers_store_read_with_events_takes_not_this_servers_old_log(tmp_path, index_dir):
    """`--events FILE` reads another store; this server's own feedback.jsonl stays where it is, for this
    server's store, instead of being imported into that one and renamed away."""
    settings = settings_for(tmp_path, index_dir)
    line = {"time": f"{TODAY}T10:00:00+00:00", "rating": "down", "source_ids": ["qi"]}
    settings.feedback_file.write_text(json.dumps(line) + "\n", encoding="utf-8")
    other = store_with(tmp_path / "other.sqlite3", *month_of_events(TODAY))
    report = make_report(settings, events_path=other, out=tmp_path / "out", today=TODAY)
    assert dict(report.summary.thumbs) == {"up": 30, "down": 13}  # the other store's own, nothing added
    assert settings.feedback_file.exists() and not settings.events_file.exists()


def test_every_kind_of_the_two_lists_has_its_own_sentence_for_the_clinic():
    from qa.insights.suggestions import SUGGESTIONS
    from qa.query import REQUESTS_FILE, TOPICS_FILE, load_word_lists

    kinds = set(load_word_lists(REQUESTS_FILE)) | set(load_word_lists(TOPICS_FILE))
    assert kinds == set(SUGGESTIONS), kinds ^ set(SUGGESTIONS)


def test_two_articles_of_one_title_stay_two_in_the_tables_and_the_bars():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qa.insights.charts import _bars, _short
    from qa.insights.summary import title_of, distinct_titles

    titles = distinct_titles({"needles": "About Needles", "clinic-needles": "About Needles", "qi": "Qi"})
    labels = [_short(title_of(titles, s)) for s in ("needles", "clinic-needles", "qi")]
    assert labels == ["About Needles (needles)", "About Needles (clinic-needles)", "Qi"]
    fig, ax = _bars(plt, ["Same", "Same", "Other"], [3, 5, 1], colour="#333333", xlabel="x", title="t")
    try:
        assert [round(bar.get_width()) for bar in ax.patches] == [3, 5, 1]  # three bars, none absorbed
        assert [tick.get_text() for tick in ax.get_yticklabels()] == ["Same", "Same", "Other"]
    finally:
        plt.close(fig)
