"""The insights events and their store: one event per answer of every outcome kind, no text unless the clinic
opted in (checked on the SQLite file itself), retention, the old feedback.jsonl, and what happens when the
database is locked, corrupt, full, unwritable or newer. Fake embedder and re-ranker, a tiny corpus."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from qa.abstain import FEATURES, AbstentionModel
from qa.answerer import Answerer
from qa.config import Settings
from qa.insights import database
from qa.insights.events import AnswerEvent, RatingEvent, answer_event, confidence_bucket, rating_event
from qa.insights.database import SCHEMA_VERSION, connect, insert
from qa.insights.legacy_log import import_feedback_log
from qa.insights.store import EventStore
from qa.retrieve import RetrievalParams
from server.feedback import FeedbackLog
from tests.conftest import FakeEmbedder, FakeReranker, fake_index

NEVER = AbstentionModel.neutral()
ALWAYS = AbstentionModel({name: 0.0 for name in FEATURES}, bias=20.0, threshold=0.5)
FILES = {
    "needles.md": "---\ntitle: Needles\n---\n## Does it hurt?\n\nMost patients feel little to no pain.\n\n## Safety\n\n"
                  "People taking blood thinners should ask their doctor first.\n",
    "qi.md": "---\ntitle: Qi\n---\n## Energy\n\nQi is the energy that flows along meridians.\n",
}
NOON = datetime(2025, 6, 30, 12, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return fake_index(tmp_path_factory.mktemp("events-index"), FILES)


def bot(index, abstention=NEVER, reranker=None, **settings):
    return Answerer(index, FakeEmbedder(), Settings(**settings), abstention=abstention,
                    reranker=reranker or FakeReranker({"blood thinners": 4.0}, default=-2.0))


def event(result, store_question_text=False, channel="api"):
    return answer_event(result, channel=channel, store_question_text=store_question_text, now=lambda: NOON)


def open_store(path, store=EventStore, **options):
    """A store on `path` whose today is NOON's day (its retention would otherwise delete these 2025 events)."""
    options.setdefault("clock", lambda: NOON)
    return store(path, **options)


def rows(path, table="answers"):
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY id")]
    finally:
        conn.close()


def file_bytes(path):
    return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))


# --- an event per outcome kind --------------------------------------------------------------------------

def test_an_answer_is_answered_with_its_sources_and_a_confidence(index):
    e = event(bot(index).answer("Is it safe with blood thinners and my doctor?"))
    assert (e.day, e.hour, e.channel, e.outcome) == ("2025-06-30", 12, "api", "answered")
    assert e.sources == ("needles",) and e.confidence == "high"  # the fake re-ranker gave it 4.0
    assert (e.requests, e.topics, e.question, e.language, e.truncated, e.cached) == ((), (), None, None, False, False)


def test_an_abstention_names_the_kinds_of_request_and_topic_but_keeps_no_words(index):
    e = event(bot(index, ALWAYS, FakeReranker({}, default=-2.0)).answer("How much does cupping cost?"))
    assert e.outcome == "abstained" and e.sources == () and e.confidence == "low"
    assert e.requests == ("pricing",) and e.topics == ("other therapies",)
    assert e.question is None
    assert event(bot(index, ALWAYS).answer("How much does cupping cost?"), store_question_text=True).question == "How much does cupping cost?"


@pytest.mark.parametrize("question, level", [("I have crushing chest pain", "emergency"),
                                             ("my foot ulcer is oozing pus", "urgent")])
def test_a_safety_message_is_its_level_and_never_keeps_text(index, question, level):
    e = event(bot(index).answer(question), store_question_text=True)
    assert (e.outcome, e.detail, e.sources, e.confidence, e.question) == ("safety", level, (), None, None)


@pytest.mark.parametrize("message, kind", [("hello", "greeting"), ("thanks so much", "thanks"), ("bye", "goodbye"), ("", "empty")])
def test_small_talk_is_its_kind(index, message, kind):
    e = event(bot(index).answer(message), store_question_text=True)
    assert (e.outcome, e.detail, e.confidence, e.question) == ("small_talk", kind, None, None)


def test_another_language_and_a_cut_question_are_noted_beside_the_outcome(index):
    spanish = event(bot(index).answer("¿La acupuntura duele mucho con las agujas?"))
    assert spanish.language == "es" and spanish.outcome in ("answered", "abstained")
    long = event(bot(index, max_question_chars=100).answer("blood thinners " * 50))
    assert long.truncated and long.outcome == "answered" and long.language is None


def test_a_cached_answer_still_counts_as_a_question(index):
    answerer = bot(index)
    first, again = answerer.answer("Does it hurt?"), answerer.answer("does it hurt?")
    assert again.cached
    assert event(again) == AnswerEvent(**(vars(event(first)) | {"cached": True}))


def test_without_a_re_ranker_there_is_no_confidence(index):
    answerer = Answerer(index, FakeEmbedder(), Settings(), abstention=NEVER, reranker=None,
                        params=RetrievalParams(rerank_candidates=0))
    assert event(answerer.answer("Is it safe with blood thinners?")).confidence is None


def test_confidence_buckets_and_bad_events():
    assert [confidence_bucket(x) for x in (3.0, 2.99, 0.0, -5.0)] == ["high", "medium", "medium", "low"]
    with pytest.raises(ValueError, match="Invalid outcome: 'maybe'"):
        AnswerEvent(day="2025-06-30", hour=1, channel="api", outcome="maybe")
    with pytest.raises(ValueError, match="Invalid hour"):
        RatingEvent(day="2025-06-30", hour=24, rating="up")


def test_a_rating_keeps_text_only_for_a_thumbs_down_when_opted_in():
    assert rating_event("down", ["a", "a", "b"], "Why so vague?", now=lambda: NOON) == RatingEvent("2025-06-30", 12, "down", ("a", "b"))
    assert rating_event("up", ["a"], "Nice", store_question_text=True).question is None
    assert rating_event("down", ["a"], "  Why   so vague? ", store_question_text=True).question == "Why so vague?"
    assert len(rating_event("down", [], "x" * 5000, store_question_text=True).question) == 1000


# --- what the database holds -------------------------------------------------------------------------------

QUESTIONS = ["Is it safe with blood thinners and my doctor?", "How much does cupping cost?", "I have crushing chest pain",
             "hello", "¿La acupuntura duele mucho con las agujas?"]


def record_all(index, path, *, store_question_text):
    answers = {q: bot(index, ALWAYS if "cupping" in q else NEVER).answer(q) for q in QUESTIONS}
    store = open_store(path)
    for result in answers.values():
        store.record(answer_event(result, channel="chat", store_question_text=store_question_text))
    feedback = FeedbackLog(store, store_question_text=store_question_text)
    feedback.record("up", ["needles"], "Is it safe with blood thinners and my doctor?")
    feedback.record("down", ["qi"], "What is qi, really?")
    assert store.flush()
    store.close()


def test_the_database_holds_no_text_of_any_question_unless_opted_in(index, tmp_path):
    path = tmp_path / "events.sqlite3"
    record_all(index, path, store_question_text=False)
    answers = rows(path)
    assert [(r["outcome"], r["detail"]) for r in answers] == [
        ("answered", None), ("abstained", None), ("safety", "emergency"), ("small_talk", "greeting"),
        (answers[4]["outcome"], None)]
    assert answers[4]["language"] == "es"
    assert json.loads(answers[0]["sources"]) == ["needles"] and json.loads(answers[1]["requests"]) == ["pricing"]
    assert set(answers[0]) == {"id", "day", "hour", "channel", "outcome", "detail", "language", "truncated", "cached",
                               "confidence", "sources", "requests", "topics", "question"}
    assert all(r["question"] is None for r in answers + rows(path, "ratings"))
    assert [(r["rating"], json.loads(r["sources"])) for r in rows(path, "ratings")] == [("up", ["needles"]), ("down", ["qi"])]
    stored = file_bytes(path)  # the file and its write-ahead log, byte for byte
    for words in ("blood thinners", "cupping", "crushing", "hello", "acupuntura", "really"):
        assert words.encode() not in stored


def test_opted_in_text_is_kept_for_abstentions_and_thumbs_down_only(index, tmp_path):
    path = tmp_path / "events.sqlite3"
    record_all(index, path, store_question_text=True)
    kept = [r["question"] for r in rows(path) + rows(path, "ratings") if r["question"]]
    assert kept == ["How much does cupping cost?", "What is qi, really?"]
    assert b"crushing" not in file_bytes(path) and b"blood thinners" not in file_bytes(path)


def test_the_schema_has_a_version(tmp_path):
    conn = connect(tmp_path / "events.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


# --- retention ---------------------------------------------------------------------------------------------

def days_ago(n, today=NOON):
    return (today - timedelta(days=n)).date().isoformat()


def test_retention_deletes_exactly_the_old_events_on_start_and_then_daily(tmp_path):
    path = tmp_path / "events.sqlite3"
    conn = connect(path)
    with database.transaction(conn):
        insert(conn, [AnswerEvent(day=days_ago(n), hour=9, channel="api", outcome="answered") for n in (91, 90, 89, 0)]
               + [RatingEvent(day=days_ago(n), hour=9, rating="up") for n in (91, 90)])
    conn.close()
    now = [NOON]
    store = open_store(path, keep_days=90, clock=lambda: now[0], maintenance_seconds=0.2)
    assert store.flush()
    # 2025-06-30 minus 90 days is 2025-04-01: that day stays, 2025-03-31 goes.
    assert [r["day"] for r in rows(path)] == ["2025-04-01", "2025-04-02", "2025-06-30"]
    assert [r["day"] for r in rows(path, "ratings")] == ["2025-04-01"]
    now[0] = NOON + timedelta(days=1)  # a day later, the daily run takes 2025-04-01
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(rows(path)) != 2:
        time.sleep(0.05)
    assert [r["day"] for r in rows(path)] == ["2025-04-02", "2025-06-30"] and rows(path, "ratings") == []
    store.close()


def test_texts_kept_while_opted_in_are_erased_once_the_clinic_opts_out(tmp_path):
    path = tmp_path / "events.sqlite3"
    conn = connect(path)
    with database.transaction(conn):
        insert(conn, [AnswerEvent(day=days_ago(1), hour=9, channel="chat", outcome="abstained", question="How much is it?"),
                      RatingEvent(day=days_ago(1), hour=9, rating="down", question="Will it hurt?")])
    conn.close()
    opted_in = open_store(path, store_question_text=True)
    assert opted_in.flush()
    opted_in.close()
    assert rows(path)[0]["question"] == "How much is it?"  # still opted in: kept
    opted_out = open_store(path, store_question_text=False)
    assert opted_out.flush()
    opted_out.close()
    assert [r["question"] for r in rows(path)] == [None] and [r["question"] for r in rows(path, "ratings")] == [None]
    assert len(rows(path)) == 1 and rows(path)[0]["outcome"] == "abstained"  # the events themselves stay
    assert b"How much is it?" not in path.read_bytes() and b"Will it hurt?" not in path.read_bytes()


# --- many writers --------------------------------------------------------------------------------------------

def test_concurrent_writes_lose_no_event(tmp_path):
    path = tmp_path / "events.sqlite3"
    store = open_store(path)
    threads, per_thread = 16, 250

    def write(n):
        for i in range(per_thread):
            store.record(AnswerEvent(day="2025-06-30", hour=n % 24, channel="api", outcome="answered", sources=(f"s{n}-{i}",)))

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert store.flush()
    store.close()
    stored = [json.loads(r["sources"])[0] for r in rows(path)]
    assert len(stored) == threads * per_thread and len(set(stored)) == threads * per_thread


def test_closing_writes_what_is_queued(tmp_path):
    store = open_store(tmp_path / "events.sqlite3")
    for _ in range(100):
        store.record(AnswerEvent(day="2025-06-30", hour=1, channel="chat", outcome="small_talk", detail="thanks"))
    store.close()
    assert len(rows(tmp_path / "events.sqlite3")) == 100
    store.record(AnswerEvent(day="2025-06-30", hour=1, channel="chat", outcome="answered"))  # after close: ignored
    store.close()


# --- when writing fails ------------------------------------------------------------------------------------------

def some_event(n=0):
    return AnswerEvent(day="2025-06-30", hour=n % 24, channel="api", outcome="answered", sources=(f"s{n}",))


def test_a_locked_database_delays_events_without_losing_them_and_is_logged_once(tmp_path, logged):
    path = tmp_path / "events.sqlite3"
    log = logged("qa.insights")
    store = open_store(path, busy_timeout=0.2, retry_seconds=0.2)
    assert store.flush()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        started = time.perf_counter()
        for n in range(50):
            store.record(some_event(n))
        assert time.perf_counter() - started < 0.5  # recording never waits for the lock
        assert not store.flush(timeout=5)
        time.sleep(0.5)  # retries happen meanwhile
        store.record(some_event(50))
        assert not store.flush(timeout=5)
        assert len([m for m in log if "Could not write" in m]) == 1
        assert "database is locked" in log[0] and "Answers are not affected" in log[0]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.flush()
    assert len(rows(path)) == 51
    assert "being written to" in log[-1] and "again" in log[-1]
    store.close()


@pytest.fixture
def unwritable_var(tmp_path):
    """A var/ nothing can be written under, not even by root (whom permissions do not stop): a file stands
    where the directory should be. Yields the events path in it, and a function making var/ a writable directory."""
    var = tmp_path / "var"
    var.write_text("not a directory", encoding="utf-8")

    def repair():
        var.unlink()
        var.mkdir()

    return var / "events.sqlite3", repair


def test_an_unwritable_var_keeps_events_in_memory_until_it_can_be_written(unwritable_var, logged):
    path, repair = unwritable_var
    log = logged("qa.insights")
    store = open_store(path, retry_seconds=0.1)
    for n in range(20):
        store.record(some_event(n))
    assert not store.flush()
    assert len(log) == 1 and "Could not write insights events" in log[0] and "may write to" in log[0]
    repair()
    assert store.flush()
    assert len(rows(path)) == 20
    store.close()


SETPRIV = Path("/usr/bin/setpriv")
# Root without the capabilities that let it ignore file permissions: a 0555 directory is read-only to it too.
WITHOUT_OVERRIDES = [str(SETPRIV), "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def read_only_runner(directory: Path) -> tuple[list[str] | None, str]:
    """How to start a process to which `directory` (mode 0555) really is read-only: as it is when not root; as
    root, under setpriv without the overriding capabilities. (None, why) when neither works here."""
    prefix = [] if os.geteuid() != 0 else WITHOUT_OVERRIDES
    if prefix and not SETPRIV.exists():
        return None, f"running as root, whom permissions do not stop, and {SETPRIV} (util-linux) is missing"
    probe = directory / "probe"
    tried = subprocess.run([*prefix, sys.executable, "-c", f"open({str(probe)!r}, 'x')"], capture_output=True, text=True)
    if tried.returncode == 0:
        probe.unlink()
        return None, f"a 0555 directory is writable to {' '.join(prefix) or 'this user'} (no permission checks here)"
    if "PermissionError" not in tried.stderr:
        return None, f"could not start a process without the overriding capabilities: {tried.stderr.strip()[-300:]}"
    return prefix, ""


@contextmanager
def read_only_directory(directory: Path):
    """`directory` made with mode 0555, and the command prefix under which it really is read-only (see
    read_only_runner); the test is skipped when neither way works here. Writable again afterwards."""
    directory.mkdir()
    directory.chmod(0o555)
    try:
        prefix, why = read_only_runner(directory)
        if prefix is None:
            pytest.skip(why)
        yield prefix
    finally:
        directory.chmod(0o755)


@pytest.fixture
def read_only_var(tmp_path):
    """A 0555 var/ and the command prefix under which it really is read-only."""
    with read_only_directory(tmp_path / "var") as prefix:
        yield tmp_path / "var", prefix


READ_ONLY_SCRIPT = """
import json, logging, sys, time
from qa.insights.events import AnswerEvent, utc_now
from qa.insights.store import EventStore

log = []
class Lines(logging.Handler):
    def emit(self, record):
        log.append(record.getMessage())
logging.getLogger("qa.insights").addHandler(Lines())
store = EventStore(sys.argv[1], retry_seconds=0.1)
for n in range(20):
    store.record(AnswerEvent(day=utc_now().date().isoformat(), hour=n, channel="api", outcome="answered"))
flushed = [store.flush()]
time.sleep(0.5)  # it retries meanwhile
flushed.append(store.flush())
store.close()
print(json.dumps({"flushed": flushed, "log": log}))
"""


def test_a_read_only_var_directory_is_logged_once(read_only_var):
    var, prefix = read_only_var
    done = subprocess.run([*prefix, sys.executable, "-c", READ_ONLY_SCRIPT, str(var / "events.sqlite3")],
                          cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["flushed"] == [False, False]
    assert len([m for m in found["log"] if "Could not write" in m]) == 1
    assert "unable to open database file" in found["log"][0] and f"may write to {var}" in found["log"][0]
    assert found["log"][-1].startswith("Insights: 20 events could not be written")
    assert list(var.iterdir()) == []


def test_events_beyond_the_memory_limit_drop_the_oldest_and_say_how_many(unwritable_var, logged):
    path, repair = unwritable_var
    log = logged("qa.insights")
    store = open_store(path, max_pending=10, retry_seconds=0.1)
    for n in range(25):
        store.record(some_event(n))
    assert not store.flush()
    repair()
    assert store.flush()
    assert [json.loads(r["sources"])[0] for r in rows(path)] == [f"s{n}" for n in range(15, 25)]
    assert "15 events were lost" in log[-1]
    store.close()


def test_a_corrupt_file_is_moved_aside_and_a_new_store_started(tmp_path, logged):
    path = tmp_path / "events.sqlite3"
    path.write_bytes(b"this is not a database " * 200)
    log = logged("qa.insights")
    store = open_store(path)
    store.record(some_event())
    assert store.flush()
    store.close()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("events.sqlite3.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")
    assert len(rows(path)) == 1
    assert len(log) == 1 and "moved it to events.sqlite3.corrupt-" in log[0]


class FullDiskStore(EventStore):
    """A store whose database may not grow: SQLite's own "database or disk is full"."""

    def _connection(self):
        conn = super()._connection()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn


def test_a_full_disk_is_logged_once_and_nothing_already_stored_is_lost(tmp_path, logged):
    path = tmp_path / "events.sqlite3"
    first = open_store(path)
    first.record(some_event(0))
    assert first.flush()
    first.close()
    log = logged("qa.insights")
    store = open_store(path, FullDiskStore, retry_seconds=0.1)
    for n in range(1, 400):
        store.record(AnswerEvent(day="2025-06-30", hour=1, channel="api", outcome="abstained", question="x" * 900))
    assert not store.flush()
    store.close()
    assert "database or disk is full" in log[0] and "disk has space" in log[0]
    assert len([m for m in log if "Could not write" in m]) == 1
    assert len(rows(path)) == 1  # the event stored before is still there


def test_a_store_from_a_newer_version_is_left_alone(tmp_path, logged):
    path = tmp_path / "events.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    log = logged("qa.insights")
    store = open_store(path)
    store.record(some_event())
    assert not store.flush()
    store.close()
    assert "newer version" in log[0] and "events_file" in log[0]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
    conn.close()


# --- the old feedback log -------------------------------------------------------------------------------------

OLD_LINES = [
    {"time": "2025-06-01T10:15:00+00:00", "rating": "up", "source_ids": ["needles"], "question": "Does it hurt?"},
    {"time": "2025-06-02T23:59:59+02:00", "rating": "down", "source_ids": ["qi", "qi"], "question": "What is qi?"},
    {"time": "2025-06-03T08:00:00+00:00", "rating": "down", "source_ids": []},
]


def write_log(path, entries, extra=""):
    path.write_text("".join(json.dumps(e) + "\n" for e in entries) + extra, encoding="utf-8")


def test_the_old_feedback_log_is_imported_once_then_renamed(tmp_path, logged):
    legacy, path = tmp_path / "feedback.jsonl", tmp_path / "events.sqlite3"
    write_log(legacy, OLD_LINES, extra="not json\n")
    log = logged("qa.insights")
    store = open_store(path, legacy_feedback=legacy, store_question_text=True, clock=lambda: NOON)
    assert store.flush()
    store.close()
    ratings = rows(path, "ratings")
    assert [(r["day"], r["hour"], r["rating"], json.loads(r["sources"]), r["question"]) for r in ratings] == [
        ("2025-06-01", 10, "up", ["needles"], None),  # a thumbs-up's text is not kept any more
        ("2025-06-02", 21, "down", ["qi"], "What is qi?"),  # 23:59 at +02:00 is 21:59 UTC
        ("2025-06-03", 8, "down", [], None)]
    assert not legacy.exists() and (tmp_path / "feedback.jsonl.migrated").exists()
    assert "Imported 3 thumbs up/down" in log[0] and "1 lines that were not ratings skipped" in log[0]

    again = open_store(path, legacy_feedback=legacy, clock=lambda: NOON)  # the next start: nothing to import
    assert again.flush()
    again.close()
    assert len(rows(path, "ratings")) == 3

    write_log(legacy, OLD_LINES[:1])  # an old server wrote a new log after all: it is read too
    conn = connect(path)
    assert import_feedback_log(conn, legacy, store_question_text=False) == 1
    conn.close()
    assert len(rows(path, "ratings")) == 4 and (tmp_path / "feedback.jsonl.migrated").exists()
    assert len([p for p in tmp_path.iterdir() if ".migrated" in p.name]) == 2


def test_lines_already_imported_are_never_imported_twice(tmp_path):
    legacy, conn = tmp_path / "feedback.jsonl", connect(tmp_path / "events.sqlite3")
    write_log(legacy, OLD_LINES[:2], extra='{"time": "2025-06-0')  # a line still being written
    assert import_feedback_log(conn, legacy, store_question_text=False) == 2
    # As if the rename had failed and the old program had gone on appending to the same file.
    write_log(legacy, OLD_LINES)
    assert import_feedback_log(conn, legacy, store_question_text=False) == 1
    assert [r["day"] for r in rows(tmp_path / "events.sqlite3", "ratings")] == ["2025-06-01", "2025-06-02", "2025-06-03"]
    conn.close()


# --- settings -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "-3", "2.5", '"90"', "true"])
def test_keep_days_must_be_a_positive_whole_number(tmp_path, value):
    from qa.config import ConfigError, load_settings

    (tmp_path / "clinic.toml").write_text(f"[privacy]\nkeep_days = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[privacy\] keep_days must be a whole number"):
        load_settings(tmp_path / "clinic.toml", environ={})


def test_the_events_file_is_beside_the_index_unless_set(tmp_path):
    from qa.config import load_settings

    (tmp_path / "clinic.toml").write_text("[privacy]\nkeep_days = 30\n", encoding="utf-8")
    settings = load_settings(tmp_path / "clinic.toml", environ={"QA_INDEX_DIR": str(tmp_path / "srv" / "index")})
    assert settings.events_file == tmp_path / "srv" / "events.sqlite3" and settings.keep_days == 30
    (tmp_path / "clinic.toml").write_text(f'[privacy]\nevents_file = "{tmp_path / "e.db"}"\n', encoding="utf-8")
    assert load_settings(tmp_path / "clinic.toml", environ={}).events_file == tmp_path / "e.db"
    assert Settings().keep_days == 90


# --- found in review ----------------------------------------------------------------------------------------

def test_retention_runs_just_after_utc_midnight_whenever_the_server_started(tmp_path):
    """Started a moment before midnight, the store deletes the day that falls out of keep_days just after
    midnight, not a day after it started."""
    path = tmp_path / "events.sqlite3"
    conn = connect(path)
    with database.transaction(conn):
        insert(conn, [AnswerEvent(day=day, hour=9, channel="api", outcome="answered") for day in ("2025-04-01", "2025-04-02")])
    conn.close()
    now = [datetime(2025, 6, 30, 23, 59, 59, 500_000, tzinfo=timezone.utc)]
    store = open_store(path, keep_days=90, clock=lambda: now[0])  # the default daily maintenance_seconds
    assert store.flush()
    assert [r["day"] for r in rows(path)] == ["2025-04-01", "2025-04-02"]  # 2025-06-30 - 90 days = 2025-04-01 stays
    now[0] = datetime(2025, 7, 1, 0, 0, 1, tzinfo=timezone.utc)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(rows(path)) != 1:
        time.sleep(0.05)
    assert [r["day"] for r in rows(path)] == ["2025-04-02"]
    store.close()


def test_a_store_moved_aside_by_another_replica_is_followed_to_the_new_file(tmp_path):
    """Two replicas share one file; one finds it corrupt and moves it aside (with its -wal and -shm). The
    other must write its next events into the new file at the path, not on into the moved one."""
    path = tmp_path / "events.sqlite3"
    store = open_store(path)
    store.record(some_event(0))
    assert store.flush()
    aside = tmp_path / "events.sqlite3.corrupt-x"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    connect(path).close()  # the other replica's new, empty store
    store.record(some_event(1))
    assert store.flush()
    store.close()
    assert [json.loads(r["sources"]) for r in rows(path)] == [["s1"]]


def test_a_deleted_store_is_started_again(tmp_path):
    path = tmp_path / "events.sqlite3"
    store = open_store(path)
    store.record(some_event(0))
    assert store.flush()
    for part in tmp_path.iterdir():
        part.unlink()  # the clinic wiped it
    store.record(some_event(1))
    assert store.flush()
    store.close()
    assert [json.loads(r["sources"]) for r in rows(path)] == [["s1"]]


class BuggyStore(EventStore):
    def _write_pending(self):
        raise sqlite3.ProgrammingError("a bug in the writer (simulated)")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_writer_that_dies_says_so_and_flush_does_not_hang(tmp_path, logged):
    log = logged("qa.insights")
    store = open_store(tmp_path / "events.sqlite3", BuggyStore)
    store.record(some_event())
    started = time.perf_counter()
    assert not store.flush(timeout=10)
    assert time.perf_counter() - started < 3  # not the whole timeout: nobody is left to answer
    assert len(log) == 1 and "writer" in log[0] and "stopped" in log[0] and "no more events are recorded" in log[0]
    store.record(some_event())  # never raises, never blocks
    store.close()


def test_an_import_is_recognised_by_its_content_whatever_the_path(tmp_path):
    """Imported, but the rename failed; then the same log is read under another name (another spelling of
    feedback_file, or the .migrated file copied back): nothing is imported twice."""
    conn = connect(tmp_path / "events.sqlite3")
    first = tmp_path / "feedback.jsonl"
    write_log(first, OLD_LINES[:2])
    assert import_feedback_log(conn, first, store_question_text=False) == 2
    again = tmp_path / "elsewhere" / "feedback.jsonl"
    again.parent.mkdir()
    write_log(again, OLD_LINES)  # the same two lines, and one more since
    assert import_feedback_log(conn, again, store_question_text=False) == 1
    assert len(rows(tmp_path / "events.sqlite3", "ratings")) == 3
    conn.close()


def test_an_old_log_renamed_by_another_replica_meanwhile_is_no_failure(tmp_path, monkeypatch):
    legacy = tmp_path / "feedback.jsonl"
    write_log(legacy, OLD_LINES)
    conn = connect(tmp_path / "events.sqlite3")
    real_is_file = Path.is_file

    def renamed_after_the_check(self):  # the other replica renames it between our check and our read
        found = real_is_file(self)
        if self == legacy and found:
            os.replace(legacy, tmp_path / "feedback.jsonl.migrated")
        return found

    monkeypatch.setattr(Path, "is_file", renamed_after_the_check)
    assert import_feedback_log(conn, legacy, store_question_text=False) == 0
    conn.close()


def _create_store(path, barrier, results):
    barrier.wait()  # all at once, as replicas started together do
    try:
        connect(path).close()
        results.put("ok")
    except sqlite3.Error as exc:
        results.put(f"{type(exc).__name__}: {exc}")


def test_replicas_creating_the_store_at_the_same_moment_all_succeed(tmp_path):
    """Several processes open a store that does not exist yet at the same moment: each waits for the others
    (switching the new file to WAL does not, by itself) and the schema is made once."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for trial in range(30):
        path = tmp_path / f"events-{trial}.sqlite3"
        barrier, results = context.Barrier(6), context.Queue()
        workers = [context.Process(target=_create_store, args=(path, barrier, results)) for _ in range(6)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(30)
        assert [results.get(timeout=5) for _ in workers] == ["ok"] * 6, f"trial {trial}"
        conn = connect(path)
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 3
        conn.close()


def test_an_unreadable_old_log_is_logged_once_and_the_events_are_written_all_the_same(tmp_path, monkeypatch, logged):
    """A feedback.jsonl the server may not read (another user's, mode 0600): not a failure of the store, so
    no "could not write" / "written again" pair every retry, just one line about the old log."""
    legacy = tmp_path / "feedback.jsonl"
    write_log(legacy, OLD_LINES)
    real_read_bytes = Path.read_bytes

    def read_bytes(self):
        if self == legacy:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    log = logged("qa.insights")
    store = open_store(tmp_path / "events.sqlite3", legacy_feedback=legacy, retry_seconds=0.05)
    for n in range(5):
        store.record(some_event(n))
        assert store.flush()
        time.sleep(0.1)  # the maintenance was tried again meanwhile
    store.close()
    assert len(rows(tmp_path / "events.sqlite3")) == 5
    assert len(log) == 1 and "Cannot read the old feedback log" in log[0] and "permissions" in log[0], log
