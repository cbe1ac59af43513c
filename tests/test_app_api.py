"""The web server as clients see it: a real `python app.py` process, its JSON API and its health check.

One server per module builds its own index (real model) in a temporary directory (`running_server`, in
conftest.py). The last tests check the server's small pure helpers directly.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
from types import SimpleNamespace

import httpx
import pytest

from qa.outcome import Outcome
from server.api import health
from server.chat import chat_message, plain_history, rating_facts, rating_of, respond
from server.feedback import FeedbackLog
from server.sessions import Conversation, GivenReply
from tests.conftest import REPO, FakeEmbedder, clinic_file, running_server, write_corpus

pytestmark = pytest.mark.server  # a slow kind (pytest.ini): `-m "not slow"` leaves it out

MAX_BODY = 64 * 1024
DISCLAIMER_START = "This is educational information"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("api-server")) as base:
        yield base


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=60) as http:
        yield http


def ask(client, question, history=None):
    body = {"question": question} if history is None else {"question": question, "history": history}
    response = client.post("/api/ask", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _norm(text: str) -> str:
    return " ".join(text.split())


def source_body(source_id: str) -> str:
    text = (REPO / "sources" / f"{source_id}.md").read_text(encoding="utf-8")
    return _norm(text.split("---", 2)[2] if text.startswith("---") else text)


# --- importing is cheap -----------------------------------------------------------------------------

def test_importing_app_loads_no_model_and_starts_no_server(tmp_path):
    code = (
        "import sys, app\n"
        # plumbing.environment (which turns the hubs' lookups off) is all that app.py may import now
        "loaded = [m for m in ('gradio', 'fastapi', 'qa', 'index.search_index', 'faiss', 'numpy', 'onnxruntime', 'torch',\n"
        "                      'sentence_transformers', 'transformers') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "assert app.demo is not None and app.demo is app.demo  # the page, built once, on first use\n"
        "heavy = [m for m in ('onnxruntime', 'torch', 'sentence_transformers', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_CONFIG=str(clinic_file(tmp_path)))
    # An import that started a server would never return.
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "index").exists()  # nor did building the page read or build the index


BAD_CLINIC_FILES = {
    "a wrong type": ('[widget]\nrate_limit_per_minute = "many"\n', "rate_limit_per_minute must be a whole number"),
    "a bad origin": ('[widget]\nallowed_origins = ["https://example.org/chat"]\n', "is not an origin"),
    "bad TOML": ("[widget\n", "is not valid TOML"),
}


@pytest.mark.parametrize("text, says", BAD_CLINIC_FILES.values(), ids=BAD_CLINIC_FILES.keys())
def test_a_bad_clinic_file_stops_the_start_with_one_line_but_not_an_import(tmp_path, text, says):
    (tmp_path / "clinic.toml").write_text(text, encoding="utf-8")
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_CONFIG=str(tmp_path / "clinic.toml"))
    imported = subprocess.run([sys.executable, "-c", "import app"], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=90)
    assert imported.returncode == 0, imported.stderr
    started = subprocess.run([sys.executable, "app.py", "--port", "1"], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=90)
    assert started.returncode == 1
    assert started.stderr.startswith("Cannot start the chat: ") and says in started.stderr
    assert len(started.stderr.strip().splitlines()) == 1, started.stderr
    assert not (tmp_path / "index").exists()


# --- answers ------------------------------------------------------------------------------------------

def test_answer_object_quotes_the_sources_verbatim(client):
    answer = ask(client, "Will the needles hurt?")
    assert set(answer) == {"question", "answer_markdown", "passages", "abstained", "safety", "disclaimer", "notes", "message", "suggestions"}
    assert answer["question"] == "Will the needles hurt?"
    assert answer["abstained"] is False and answer["safety"] is None
    assert 1 <= len(answer["passages"]) <= 3
    for passage in answer["passages"]:
        assert len(passage["text"]) <= 600
        body = source_body(passage["source_id"])
        for piece in passage["text"].split("…"):
            assert _norm(piece) in body, f"not verbatim in {passage['source_id']}: {piece!r}"
        assert {"text", "source_id", "title", "section", "url", "score"} <= set(passage)
    assert answer["disclaimer"].startswith(DISCLAIMER_START)
    assert answer["disclaimer"] in answer["answer_markdown"]
    assert "**Sources**" in answer["answer_markdown"] and "**[1]**" in answer["answer_markdown"]


def test_emergency_comes_first(client):
    answer = ask(client, "I have crushing chest pain")
    assert answer["safety"]["level"] == "emergency"
    assert answer["answer_markdown"].startswith(answer["safety"]["message"])
    assert answer["disclaimer"] in answer["answer_markdown"]


def test_follow_up_uses_the_history(client):
    answer = ask(client, "Can I still get it?", [{"role": "user", "content": "I take blood thinners."}])
    assert any("blood thinners" in p["text"].lower() for p in answer["passages"]), answer["passages"]


def test_history_with_assistant_turns_is_accepted(client):
    history = [{"role": "user", "content": "I take blood thinners."}, {"role": "assistant", "content": "Noted."}]
    assert ask(client, "Can I still get it?", history)["passages"]


def test_empty_question_gets_a_gentle_prompt(client):
    for question in ("", "   "):
        answer = ask(client, question)
        assert answer["passages"] == [] and answer["safety"] is None
        assert "Please type a question" in answer["answer_markdown"]


def test_only_a_json_content_type_is_accepted(client):
    """A page on another site may send text/plain, a form or an untyped body without asking first (CORS):
    such a POST is never answered (issue 19, row 8; tests/test_security_server.py checks it counts nothing)."""
    body = json.dumps({"question": "Will the needles hurt?"})
    for content_type in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", None):
        response = client.post("/api/ask", content=body, headers={"content-type": content_type} if content_type else {})
        assert response.status_code == 415, content_type
        assert "application/json" in response.json()["error"]
    charset = client.post("/api/ask", content=body, headers={"content-type": "application/json; charset=utf-8"})
    assert charset.status_code == 200 and charset.json()["passages"]


def test_many_visitors_at_once(client):
    questions = ["Will the needles hurt?", "How many sessions will I need?", "How does acupuncture help nerve pain?"] * 4
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda q: ask(client, q), questions))
    assert [a["question"] for a in answers] == questions
    assert all(a["passages"] for a in answers)


# --- bad input: 4xx with {"error": ...}, never 5xx ---------------------------------------------------

BAD_BODIES = {
    "not json": b"Will the needles hurt?",
    "empty body": b"",
    "truncated json": b'{"question": "Will the needles',
    "a list": b'["Will the needles hurt?"]',
    "a string": b'"Will the needles hurt?"',
    "null": b"null",
    "no question": b'{"history": []}',
    "question a number": b'{"question": 42}',
    "question null": b'{"question": null}',
    "question a list": b'{"question": ["Will the needles hurt?"]}',
    "question an object": b'{"question": {"text": "hi"}}',
    "history a string": b'{"question": "Can I?", "history": "I take blood thinners."}',
    "history an object": b'{"question": "Can I?", "history": {"role": "user", "content": "x"}}',
    "history item a string": b'{"question": "Can I?", "history": ["I take blood thinners."]}',
    "history role unknown": b'{"question": "Can I?", "history": [{"role": "system", "content": "x"}]}',
    "history role missing": b'{"question": "Can I?", "history": [{"content": "x"}]}',
    "history content a number": b'{"question": "Can I?", "history": [{"role": "user", "content": 5}]}',
    "history content missing": b'{"question": "Can I?", "history": [{"role": "user"}]}',
    "invalid utf-8": b'{"question": "caf\xe9"}',
    "lone surrogate": b'{"question": "\\ud800"}',
    "lone surrogate in history": b'{"question": "x", "history": [{"role": "user", "content": "\\udfff"}]}',
    "nested too deep": b"[" * 30_000,
    "number too long": b'{"question": "x", "n": ' + b"9" * 5_000 + b"}",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_input_is_a_4xx_with_an_error(client, body):
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert isinstance(response.json()["error"], str) and response.json()["error"]


def test_error_messages_say_what_to_send(client):
    response = client.post("/api/ask", json={"question": "x", "history": [{"role": "system", "content": "x"}]})
    assert response.json() == {"error": '"history[0].role" must be "user" or "assistant", got "system".'}
    assert '{"question":' in client.post("/api/ask", content=b"[]").json()["error"]


def test_body_over_64_kb_is_refused(client):
    big = json.dumps({"question": "x" * (MAX_BODY + 10)}).encode()
    response = client.post("/api/ask", content=big)
    assert response.status_code == 413 and "64 KB" in response.json()["error"]


def test_body_over_64_kb_without_content_length_is_refused(client):
    # A chunked upload declares no size: the server counts the bytes as they arrive.
    def chunks():
        yield b'{"question": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    response = client.post("/api/ask", content=chunks())
    assert response.status_code == 413 and response.json()["error"]


def test_declared_size_over_64_kb_is_refused_before_reading(server):
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000\r\n\r\n{")
        reply = b""
        while b'"}' not in reply and (chunk := sock.recv(4096)):  # headers and body may come apart
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]


def test_wrong_method_is_a_4xx_with_an_error(client):
    response = client.get("/api/ask")
    assert response.status_code == 405 and "POST" in response.json()["error"]


def test_server_still_answers_after_bad_input(client):
    for body in BAD_BODIES.values():
        client.post("/api/ask", content=body)
    assert ask(client, "How many sessions will I need?")["passages"]
    assert client.get("/healthz").status_code == 200


# --- health and the page ------------------------------------------------------------------------------

def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok" and health["sources"] == 5 and health["model"] == "all-MiniLM-L6-v2"
    assert isinstance(health["passages"], int) and health["passages"] > 5
    assert set(health) == {"status", "passages", "sources", "model"}


def test_chat_page_is_served_at_root(client):
    response = client.get("/")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN


# --- pure helpers of the server (no server, no model) --------------------------------------------------

def test_gradio_message_parts_become_plain_text():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "I take blood thinners."}]},
        {"role": "assistant", "content": "Noted.", "metadata": None},
        {"role": "system", "content": "dropped"},
        {"role": "user", "content": [{"type": "file", "file": {"path": "x.png"}}, {"type": "text", "text": "and this"}]},
    ]
    assert plain_history(history) == [
        {"role": "user", "content": "I take blood thinners."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "and this"},
    ]
    assert plain_history(None) == []


def _answer(**overrides):
    answer = {"question": "q", "answer_markdown": "**Call 911.**\n\nText", "abstained": False, "safety": None,
              "disclaimer": "d", "passages": [
                  {"source_id": "b", "also_in": [{"source_id": "c"}]}, {"source_id": "b", "also_in": []}]}
    return answer | overrides


def test_chat_message_classes_come_from_the_outcome_and_carry_nothing_else():
    message = chat_message(_answer(safety={"level": "emergency", "message": "**Call 911.**"}, abstained=True), Outcome.SAFETY)
    assert message.startswith('<div class="qa-answer qa-safety qa-safety-emergency">')
    assert "\n\n**Call 911.**\n\nText\n\n</div>" in message
    assert chat_message(_answer(abstained=True), Outcome.ABSTAINED).startswith('<div class="qa-answer qa-abstained">')
    assert chat_message(_answer(), Outcome.SMALL_TALK).startswith('<div class="qa-answer qa-small-talk">')
    assert chat_message(_answer(), Outcome.ANSWERED).startswith('<div class="qa-answer">')
    assert "data-" not in message  # the sources are data in the Conversation, not markup read back


def test_a_rating_takes_its_sources_and_question_from_the_conversation_by_outcome():
    chat = Conversation()
    for question, outcome in (("Does it hurt?", Outcome.ANSWERED), ("Parking?", Outcome.ABSTAINED),
                              ("chest pain", Outcome.SAFETY), ("hello", Outcome.SMALL_TALK)):
        chat.add(question, '<div class="qa-answer">any markup at all</div>', given=GivenReply(outcome, ("b", "c", "gone")))
    facts = [rating_facts(chat.answer_at(i), chat, i, {"b", "c"}) for i in (1, 3, 5, 7)]
    assert facts == [(["b", "c"], "Does it hurt?"), (["b", "c"], "Parking?"), (["b", "c"], None), (["b", "c"], None)]


class RecordingAnswerer:
    """Answers every question with `answer`, recording what it was asked."""

    def __init__(self, answer: dict):
        self.reply, self.asked = answer, []

    def answer(self, question, history):
        self.asked.append((question, history))
        return SimpleNamespace(answer=self.reply, outcome=Outcome.ANSWERED)


def test_respond_asks_with_plain_text_and_shows_the_answer_as_a_chat_message():
    answerer = RecordingAnswerer(_answer())
    history = [{"role": "user", "content": [{"type": "text", "text": "I take blood thinners."}]},
               {"role": "assistant", "content": "Noted."}]
    reply = respond({"text": "Can I still get it?", "files": []}, history, answerer)
    assert reply == chat_message(_answer(), Outcome.ANSWERED)
    assert answerer.asked == [("Can I still get it?", [{"role": "user", "content": "I take blood thinners."},
                                                      {"role": "assistant", "content": "Noted."}])]
    assert respond("Hi", None, answerer) == reply and answerer.asked[-1] == ("Hi", [])


def test_health_reports_the_index_it_is_given(tmp_path):
    from index import SearchIndex, build_index

    build_index(write_corpus(tmp_path / "sources"), tmp_path / "index", embedder=FakeEmbedder(),
                progress=False)
    index = SearchIndex.load(tmp_path / "index")
    assert health(index) == {"status": "ok", "passages": len(index.passages), "sources": 2, "model": "fake-bow-64"}
    assert health(index)["passages"] == index.manifest["passages"]


def test_question_before_finds_the_visitor_message():
    chat = Conversation()
    chat.add("first", "a1")
    chat.add("second", "a2")
    assert chat.question_before(1) == "first" and chat.question_before(3) == "second" and chat.question_before(0) is None


def test_rating_of_like_data():
    assert [rating_of(v) for v in (True, False, "Like", "Dislike", "")] == ["up", "down", "up", "down", None]


def test_feedback_stores_no_question_text_unless_the_clinic_opts_in(tmp_path):
    import sqlite3

    from qa.insights.store import EventStore

    store = EventStore(tmp_path / "new" / "events.sqlite3")
    private = FeedbackLog(store, store_question_text=False)
    private.record("up", ["a"], "I take warfarin")
    private.record("down", [], "I take warfarin")
    opted_in = FeedbackLog(store, store_question_text=True)
    assert opted_in.record("up", ["a"], "I take warfarin").question is None  # kept for a thumbs-down only
    assert opted_in.record("down", ["a"], "I take warfarin").question == "I take warfarin"
    store.close()
    conn = sqlite3.connect(tmp_path / "new" / "events.sqlite3")
    rows = conn.execute("SELECT rating, sources, question FROM ratings ORDER BY id").fetchall()
    conn.close()
    assert rows == [("up", '["a"]', None), ("down", "[]", None), ("up", '["a"]', None), ("down", '["a"]', "I take warfarin")]


def test_host_and_port_from_flags_or_environment(app_module):
    assert (lambda a: (a.host, a.port))(app_module.parse_args([], {})) == ("127.0.0.1", 7860)
    env = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8080"}
    assert (lambda a: (a.host, a.port))(app_module.parse_args([], env)) == ("0.0.0.0", 8080)
    assert (lambda a: (a.host, a.port))(app_module.parse_args(["--host", "::1", "--port", "9000"], env)) == ("::1", 9000)
    with pytest.raises(SystemExit):
        app_module.parse_args(["--port", "http"], {})


def test_gradio_reload_mode_serves_the_chat_page_and_answers(tmp_path):
    """`gradio app.py`, the editing loop: Gradio imports app.py, finds `demo`, serves it and answers on it
    (its own index and clinic file in tmp_path)."""
    import time

    from tests.chat_client import ChatPage
    from tests.conftest import free_port

    port = free_port()
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_CONFIG=str(clinic_file(tmp_path)),
               GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", PYTHONUNBUFFERED="1")
    gradio = os.path.join(os.path.dirname(sys.executable), "gradio")
    log = open(tmp_path / "reload.log", "w")
    # Its own process group: the gradio command runs app.py in a child process, which must stop with it.
    process = subprocess.Popen([gradio, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if client.get("/").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, (tmp_path / "reload.log").read_text()
                time.sleep(1)
            reply = ChatPage.open(client).ask("Will the needles hurt?")
            assert reply.ok, reply.error
            assert "qa-answer" in reply.last_message and DISCLAIMER_START in reply.last_message
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
    time.sleep(1)
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and _process_port(pid) == port]
    assert not left, f"gradio app.py left processes behind: {left}"
    assert "Watching" in (tmp_path / "reload.log").read_text()


def _process_port(pid: str) -> int | None:
    """The GRADIO_SERVER_PORT a running process was started with (None when gone or unreadable)."""
    try:
        environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    except OSError:
        return None
    for entry in environ:
        if entry.startswith(b"GRADIO_SERVER_PORT="):
            return int(entry.split(b"=", 1)[1] or 0)
    return None
