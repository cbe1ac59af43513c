"""The server records an event per answer, from the API and from the chat page, and answers whatever the store
does: locked, unwritable, many requests at once. app.py's real app (create_app) in-process with FastAPI's
TestClient, answering from a fake index with the fake embedder and re-ranker; a last test runs `python app.py`."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from qa import wording
from qa.abstain import FEATURES, AbstentionModel
from qa.answerer import Answerer
from qa.config import Settings
from qa.insights.database import BUSY_TIMEOUT
from qa.insights.store import RETRY_SECONDS, EventStore
from server.chat import chat_message, footer_html, given_reply, rating_facts
from server.sessions import Conversation
from server.feedback import FeedbackLog
from server.loader import LazyAnswerer
from tests.chat_client import ChatPage
from tests.conftest import FakeEmbedder, FakeReranker, clinic_file, fake_index, running_server
from tests.test_events import read_only_directory, rows as stored

FILES = {
    "needles.md": "---\ntitle: Needles\n---\n## Does it hurt?\n\nMost patients feel little to no pain.\n\n## Safety\n\n"
                  "People taking blood thinners should ask their doctor first.\n",
}


class ScriptedAbstention(AbstentionModel):
    """Abstains exactly on questions about cost: the fake embedder's scores mean nothing to the real model."""

    def __init__(self):
        super().__init__({name: 0.0 for name in FEATURES}, bias=0.0, threshold=0.5)

    def should_abstain(self, values):
        return values["unsupported_request"] > 0


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return fake_index(tmp_path_factory.mktemp("insights-server"), FILES)


def serve(index, events_file, *, store_question_text=False, **store_options):
    """The app with its own store on `events_file`; returns (app, store, settings)."""
    import app as app_module

    settings = Settings(index_dir=index.path.parent.parent, events_file=events_file, rate_limit_per_minute=0,
                        feedback_file=events_file.parent / "feedback.jsonl", store_question_text=store_question_text)
    answerer = Answerer(index, FakeEmbedder(), settings, abstention=ScriptedAbstention(), reranker=FakeReranker({"pain": 3.0}))
    store = EventStore(events_file, **store_options)
    answerers = LazyAnswerer(settings, load=lambda _settings: answerer)
    return app_module.create_app(settings, answerers, events=store), store, settings


def ask(client, question):
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def ask_the_chat_page(client, question):
    """Ask on the chat page, as its browser does (tests/chat_client.py); the reply's HTML."""
    reply = ChatPage.open(client).ask(question)
    assert reply.ok, reply
    return reply.last_message


def test_every_answer_is_one_event_from_the_api_and_from_the_chat_page(index, tmp_path):
    path = tmp_path / "var" / "events.sqlite3"
    application, store, _ = serve(index, path, store_question_text=True)
    with TestClient(application) as client:
        assert ask(client, "Does it hurt?")["passages"]
        assert ask(client, "How much does it cost?")["abstained"]
        assert ask(client, "I have crushing chest pain")["safety"]["level"] == "emergency"
        assert ask(client, "hello")["message"]
        assert ask(client, "Does it hurt?")["passages"]  # from the answer cache: still a question asked
        assert "qa-answer" in ask_the_chat_page(client, "How much does it cost?")
    assert store.closed  # the app's shutdown flushed and closed it
    events = stored(path)
    assert [(e["channel"], e["outcome"], e["detail"], e["cached"]) for e in events] == [
        ("api", "answered", None, 0), ("api", "abstained", None, 0), ("api", "safety", "emergency", 0),
        ("api", "small_talk", "greeting", 0), ("api", "answered", None, 1), ("chat", "abstained", None, 1)]
    assert json.loads(events[0]["sources"]) == ["needles"] and events[0]["confidence"] == "high"
    assert json.loads(events[1]["requests"]) == ["pricing"]
    # Opted in: the chat page, whose note says so, keeps the abstained question; the API (the widget's panel
    # says nothing typed is stored) never does.
    assert [e["question"] for e in events] == [None] * 5 + ["How much does it cost?"]


def test_without_the_opt_in_the_chat_page_keeps_no_text(index, tmp_path):
    path = tmp_path / "events.sqlite3"
    application, _, _ = serve(index, path)
    with TestClient(application) as client:
        ask_the_chat_page(client, "How much does it cost?")
    assert [(e["channel"], e["outcome"], e["question"]) for e in stored(path)] == [("chat", "abstained", None)]


def test_the_privacy_note_says_exactly_what_is_kept():
    private = footer_html(Settings())
    assert "Nothing you type is stored." in private and "deletes the counts after 90 days" in private
    opted_in = footer_html(Settings(store_question_text=True, keep_days=30))
    assert "Nothing you type is stored" not in opted_in
    assert "questions the articles could not answer and questions you rate thumbs-down are stored as you typed them" in opted_in
    assert "deleted after 30 days" in opted_in
    assert wording.privacy_note(Settings(store_question_text=True)) in footer_html(Settings(store_question_text=True))


@pytest.mark.parametrize("opted_in", [False, True])
def test_the_privacy_note_names_what_is_derived_from_a_question(opted_in):
    """Not only the words: the kind of an uncovered question (requests.yaml, topics.yaml), a safety message,
    the language and the confidence are kept too, and the note says so; opted in, it says which texts never are."""
    note = wording.privacy_note(Settings(store_question_text=opted_in))
    for kept in ("what kind of question it was, such as prices", "whether it got a safety message or was small talk",
                 "its language", "how closely the articles matched it", "the sources cited", "the rating"):
        assert kept in note, kept
    assert ("up to 1,000 characters), but never a message that got a safety message or small talk" in note) is opted_in


def test_a_locked_database_while_the_server_answers(index, tmp_path, logged):
    path = tmp_path / "events.sqlite3"
    log = logged("qa.insights")
    application, store, _ = serve(index, path, busy_timeout=0.5, retry_seconds=0.2)
    with TestClient(application) as client:
        ask(client, "Does it hurt?")
        assert store.flush()
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another program holds the database
        try:
            started = time.perf_counter()
            for n in range(10):
                ask(client, f"Does it hurt? ({n})")
            elapsed = time.perf_counter() - started
            assert elapsed < 3, f"answers waited on the locked database: {elapsed:.1f} s for 10"
            assert not store.flush(timeout=5)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert store.flush()
    assert len(stored(path)) == 11  # nothing lost
    assert len([m for m in log if "database is locked" in m]) == 1


def test_an_unwritable_var_while_the_server_answers(index, tmp_path, logged):
    var = tmp_path / "var"
    var.write_text("a file where var/ should be: nothing can be created under it, not even by root", encoding="utf-8")
    log = logged("qa.insights")
    application, store, _ = serve(index, var / "events.sqlite3", retry_seconds=0.1)
    with TestClient(application) as client:
        for question in ("Does it hurt?", "How much does it cost?", "hello"):
            ask(client, question)
        ask_the_chat_page(client, "Does it hurt?")
        assert not store.flush()
        assert client.get("/healthz").status_code == 200
    assert len([m for m in log if "Could not write insights events" in m]) == 1  # once, not once per answer
    assert log[-1].endswith("4 events could not be written to " + str(var / "events.sqlite3") +
                            " before the server stopped; they are lost.")


def test_concurrent_requests_on_the_answer_pool_lose_no_event(index, tmp_path):
    path = tmp_path / "events.sqlite3"
    application, _, _ = serve(index, path)
    questions = [f"Does it hurt? {n}" if n % 2 else f"How much does it cost? {n}" for n in range(80)]
    with TestClient(application) as client:
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda q: client.post("/api/ask", json={"question": q}).status_code, questions))
    assert statuses == [200] * 80
    events = stored(path)
    assert len(events) == 80
    assert sorted(e["outcome"] for e in events) == ["abstained"] * 40 + ["answered"] * 40


def test_a_thumbs_down_on_a_safety_message_or_small_talk_keeps_no_text_even_opted_in(index, tmp_path):
    """Opted in, a thumbs-down keeps the question before it; but never the words of someone describing an
    emergency or a crisis, nor small talk (the privacy note and the README promise so)."""
    settings = Settings(index_dir=index.path.parent.parent, store_question_text=True, rate_limit_per_minute=0)
    answerer = Answerer(index, FakeEmbedder(), settings, abstention=ScriptedAbstention(), reranker=FakeReranker({"pain": 3.0}))
    path = tmp_path / "events.sqlite3"
    store = EventStore(path)
    feedback = FeedbackLog(store, store_question_text=True)
    questions = ["I have been thinking about ending my life", "I have crushing chest pain", "hello",
                 "Does it hurt?", "How much does it cost?"]
    kinds = []
    for question in questions:
        result = answerer.answer(question, [])
        reply = chat_message(result.answer, result.outcome)
        kinds.append(reply.split('"')[1])
        chat = Conversation()
        chat.add(question, reply, given=given_reply(result))
        feedback.record("down", *rating_facts(chat.answer_at(1), chat, 1, set(index.source_ids)))
    store.close()
    assert kinds == ["qa-answer qa-safety qa-safety-crisis", "qa-answer qa-safety qa-safety-emergency",
                     "qa-answer qa-small-talk", "qa-answer", "qa-answer qa-abstained"]
    assert [r["question"] for r in stored(path, "ratings")] == [None, None, None, "Does it hurt?", "How much does it cost?"]


# --- a real `python app.py` ---------------------------------------------------------------------------------

@pytest.mark.server
def test_a_real_server_records_beside_its_index_and_answers_through_a_lock(tmp_path):
    """The real model and server: events land in events.sqlite3 beside QA_INDEX_DIR; while another program
    locks the file the answers still come (200), and the events follow once it lets go."""
    path = tmp_path / "events.sqlite3"
    with running_server(tmp_path, rate_limit_per_minute=0) as base, httpx.Client(base_url=base, timeout=60) as client:

        def count(expected):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if path.exists() and len(stored(path)) >= expected:
                    break
                time.sleep(0.2)
            return len(stored(path))

        assert client.post("/api/ask", json={"question": "Will the needles hurt?"}).status_code == 200
        assert count(1) == 1
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            answers = [client.post("/api/ask", json={"question": q}) for q in
                       ("How many sessions will I need?", "How much does a session cost?", "I have crushing chest pain")]
            assert [a.status_code for a in answers] == [200, 200, 200]
            time.sleep(BUSY_TIMEOUT + 1)  # longer than the writer waits for a lock: now it counts as a failure
            assert len(stored(path)) == 1  # still waiting in the server's memory
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert count(4) == 4
    events = stored(path)
    assert [e["outcome"] for e in events] == ["answered", "answered", "abstained", "safety"]
    assert json.loads(events[2]["requests"]) == ["pricing"] and all(e["question"] is None for e in events)
    assert "Could not write insights events" in (tmp_path / "server.log").read_text(encoding="utf-8")



@pytest.mark.server
def test_a_real_server_answers_with_its_events_file_in_a_read_only_directory(tmp_path):
    """`python app.py` whose [privacy] events_file is in a directory it may not write (its index directory
    stays writable: the index is built at start). Every answer is still a 200, the failure is in the server's
    log once (not once per answer, even after the writer has retried), with no question in it, and nothing
    appears in the directory."""
    read_only = tmp_path / "read-only"
    with read_only_directory(read_only) as prefix:
        config = clinic_file(tmp_path, rate_limit_per_minute=0)
        text, found = re.subn(r"(?m)^\[privacy\]$", f"[privacy]\nevents_file = {json.dumps(str(read_only / 'events.sqlite3'))}",
                              config.read_text(encoding="utf-8"))
        assert found == 1
        config.write_text(text, encoding="utf-8")
        questions = ["Will the needles hurt?", "How much does a session cost?", "I have crushing chest pain", "hello",
                     "How many sessions will I need?"]
        with running_server(tmp_path, config=config, command_prefix=prefix) as base, \
                httpx.Client(base_url=base, timeout=60) as client:
            started = time.monotonic()
            assert [client.post("/api/ask", json={"question": q}).status_code for q in questions] == [200] * 5
            time.sleep(max(0.0, started + RETRY_SECONDS + 2 - time.monotonic()))  # the writer has tried again since
            assert client.post("/api/ask", json={"question": "Is acupuncture safe?"}).status_code == 200
            assert client.get("/healthz").status_code == 200
        log = (tmp_path / "server.log").read_text(encoding="utf-8", errors="replace")
        assert log.count("Could not write insights events") == 1, log[-3000:]
        assert f"may write to {read_only}" in log
        assert "6 events could not be written" in log  # told when it stopped, not silently dropped
        for question in questions:
            assert question not in log
        assert list(read_only.iterdir()) == []
        assert any((tmp_path / "index").rglob("manifest.json"))  # the index was built there: only the events failed

