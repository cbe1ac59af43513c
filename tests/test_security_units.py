"""The guards of server/ on their own (issue 19), without a server: fake ASGI apps and fake session holders,
values worked out by hand. tests/test_security_server.py, _browser.py and _nginx.py run the real thing."""

from __future__ import annotations

import asyncio
import datetime
import doctest
import json
import logging
import threading
from collections import OrderedDict

import pytest

from server import bodies, chat, chat_requests, logs, routes, widget
from server.bodies import BodyRefused, BodyRule, RequestBodies
from server.chat_requests import AnswerStreams, ChatRequests
from server.guard import OriginAllowList, SameOrigin, SecurityHeaders
from server.logs import RedactSessionIds
from qa.outcome import Outcome
from server.sessions import MAX_TURNS, Conversation, GivenReply, SessionJanitor


@pytest.mark.parametrize("module", [routes, bodies, chat_requests, logs, chat, widget], ids=lambda m: m.__name__)
def test_examples_in_docstrings(module):
    failures, tried = doctest.testmod(module)
    assert tried >= 1 and failures == 0


# --- a tiny ASGI harness -------------------------------------------------------------------------------

class Downstream:
    """An ASGI app that records what reached it and answers 200 with `headers`."""

    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None):
        self.calls: list[tuple[dict, bytes]] = []
        self.headers = headers or []

    async def __call__(self, scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.calls.append((scope, body))
        await send({"type": "http.response.start", "status": 200, "headers": list(self.headers)})
        await send({"type": "http.response.body", "body": b"ok"})


def call(app, *, method="POST", path="/api/ask", headers=None, chunks=(b"",), gap: float = 0.0, disconnect=False):
    """Run one request through `app`; returns (status, headers dict, body)."""
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    if disconnect:
        messages[-1]["more_body"] = True
        messages.append({"type": "http.disconnect"})
    sent: list[dict] = []

    async def receive():
        if gap:
            await asyncio.sleep(gap)
        return messages.pop(0) if messages else (await asyncio.sleep(3600))

    async def send(message):
        sent.append(message)

    path, _, query = path.partition("?")
    scope = {"type": "http", "method": method, "path": path, "scheme": "http", "query_string": query.encode(),
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
    asyncio.run(app(scope, receive, send))
    if not sent:
        return None, {}, b""
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, b"".join(m.get("body", b"") for m in sent[1:])


JSON = {"content-type": "application/json"}


def test_bodies_over_64_kb_are_refused_declared_or_not_and_never_reach_the_app():
    app = Downstream()
    guard = RequestBodies(app)
    status, _, body = call(guard, headers={**JSON, "content-length": str(64 * 1024 + 1)})
    assert status == 413 and json.loads(body) == {"error": "The request body is over 64 KB."}
    status, _, _ = call(guard, headers=JSON, chunks=[b"x" * 40_000, b"x" * 40_000])  # chunked: counted as it comes
    assert status == 413
    assert call(guard, headers={**JSON, "content-length": "12abc"})[0] == 400
    assert app.calls == []
    status, _, _ = call(guard, headers=JSON, chunks=[b'{"question": ', b'"x"}'])
    assert status == 200 and app.calls[0][1] == b'{"question": "x"}'  # handed on whole, as read


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", "multipart/form-data; boundary=x",
                                          "application/x-www-form-urlencoded", None])
def test_only_json_bodies_are_taken(content_type):
    app = Downstream()
    guard = RequestBodies(app, rules={"/api/ask": BodyRule(example='{"question": "x"}')})
    status, _, body = call(guard, headers={"content-type": content_type} if content_type else {}, chunks=[b'{"question": "x"}'])
    assert status == 415 and app.calls == []
    assert json.loads(body)["error"] == 'Send the body as JSON, with Content-Type: application/json, like {"question": "x"}.'


def test_a_body_that_trickles_is_cut_off_and_one_that_is_abandoned_is_one_line_in_the_log(caplog):
    app = Downstream()
    slow = RequestBodies(app, seconds=0.2)
    status, _, body = call(slow, headers=JSON, chunks=[b"{"] * 50, gap=0.05)
    assert status == 408 and "did not arrive within 0.2 seconds" in json.loads(body)["error"]
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        status, _, _ = call(RequestBodies(app), headers=JSON, chunks=[b'{"question": "my secret symptom'], disconnect=True)
    assert status is None and app.calls == []
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["A client went away before sending the whole request (POST /api/ask): nothing was answered."]


def test_a_route_check_refuses_before_the_app():
    def check(body):
        if b"bad" in body:
            raise BodyRefused("No.", 400)

    app = Downstream()
    guard = RequestBodies(app, rules={"/gradio_api/queue/join": BodyRule(check=check)})
    assert call(guard, path="/gradio_api/queue/join", headers=JSON, chunks=[b'{"bad": 1}'])[0] == 400
    assert call(guard, path="/gradio_api/queue/join", headers=JSON, chunks=[b'{"good": 1}'])[0] == 200
    assert len(app.calls) == 1
    assert call(guard, method="GET", path="/", headers={})[0] == 200  # only POST bodies are this module's


# --- what the chat page may send ------------------------------------------------------------------------

EVENTS = {0: ("ask", 2), 1: ("example", 1), 2: ("rate", 1), 3: ("clear", 1), 4: ("suggestion", 1)}
PAGE = ChatRequests(EVENTS)


def event(fn_index, data, event_data=None, **extra):
    return json.dumps({"data": data, "event_data": event_data, "fn_index": fn_index, "trigger_id": 4,
                       "session_hash": "fqsdiwgjllo", **extra}).encode()


GOOD = {
    "a question": event(0, ["Will the needles hurt?", None]),
    "a null message (the page answers it kindly)": event(0, [None, None]),
    "a lone surrogate in the message (the same)": event(0, ["\ud800", None]),
    "an example": event(1, [None], {"index": 2, "value": {"text": "anything: only the index is read"}}),
    "a thumbs up": event(2, [None], {"index": 1, "value": ["<div>...</div>"], "liked": True}),
    "a thumbs down by label": event(2, [None], {"index": [1, 0], "value": None, "liked": "Dislike"}),
    "the bin": event(3, [None]),
    "a follow-up question clicked": event(4, [None], {"index": 1, "value": "anything: only the index is read"}),
}
BAD = {
    "not json": b"{",
    "a list": b"[]",
    "Gradio's other keys": event(0, ["x", None], event_id="e1"),
    "no session": json.dumps({"data": ["x", None], "fn_index": 0}).encode(),
    "a session id of another kind": event(0, ["x", None], session_hash="../../etc"),
    "a function the page does not use": event(7, ["x", None]),
    "fn_index true": json.dumps({"data": [None], "fn_index": True, "session_hash": "abc"}).encode(),
    "too few values": event(0, ["x"]),
    "a message that is a number": event(0, [5, None]),
    "a conversation sent by the browser": event(0, ["x", [{"role": "user", "content": "y"}]]),
    "a question with event data": event(0, ["x", None], {"index": 0}),
    "an example without an index": event(1, [None], {"value": "x"}),
    "an example with a negative index": event(1, [None], {"index": -1, "value": "x"}),
    "a rating with a value": event(2, ["x"], {"index": 1, "value": "x"}),
    "a rating with liked a list": event(2, [None], {"index": 1, "value": "x", "liked": [1]}),
    "a lone surrogate elsewhere": event(2, [None], {"index": 1, "value": "\udfff"}),
    "the bin with event data": event(3, [None], {"index": 0}),
    "a follow-up without an index": event(4, [None], {"value": "What are the risks?"}),
    "a follow-up with a question of its own": event(4, ["What are the risks?"], {"index": 0, "value": "x"}),
    "a trigger that is text": event(3, [None], trigger_id="4"),
}


@pytest.mark.parametrize("body", GOOD.values(), ids=GOOD.keys())
def test_what_the_page_sends_passes(body):
    PAGE.check(body)


@pytest.mark.parametrize("body", BAD.values(), ids=BAD.keys())
def test_anything_else_is_refused_without_echoing_it(body):
    with pytest.raises(BodyRefused) as refused:
        PAGE.check(body)
    assert refused.value.status == 400 and refused.value.message.startswith("This is not a request the chat page sends")
    assert "etc" not in refused.value.message and "role" not in refused.value.message


def test_a_page_must_mark_all_five_events():
    with pytest.raises(ValueError, match="one handler for each of ask, example, suggestion, rate, clear"):
        ChatRequests({0: ("ask", 2)})


class FakeQueue:
    def __init__(self, sessions):
        self.pending_messages_per_session = {session: [] for session in sessions}


class FakePage:
    def __init__(self, sessions=None):
        if sessions is not None:
            self._queue = FakeQueue(sessions)


def test_answer_streams_open_only_for_a_session_that_asked_something():
    app = Downstream()
    streams = AnswerStreams(app, blocks=FakePage(["asked1"]))
    assert call(streams, method="GET", path="/gradio_api/queue/data?session_hash=asked1")[0] == 200
    for query in ("session_hash=never1", "", "session_hash=", "session_hash=asked1&session_hash=never1",
                  "session_hash=../asked1"):
        status, _, body = call(streams, method="GET", path=f"/gradio_api/queue/data?{query}")
        assert status == 404 and json.loads(body)["error"].startswith("No answers are waiting for this page"), query
    assert len(app.calls) == 1
    assert call(streams, method="GET", path="/")[0] == 200  # other paths are not its business
    # Before the page is served (no queue yet): nothing is waiting for anyone.
    assert call(AnswerStreams(Downstream(), blocks=FakePage()), method="GET",
                path="/gradio_api/queue/data?session_hash=asked1")[0] == 404


# --- conversations and sessions ---------------------------------------------------------------------------

def test_a_conversation_keeps_its_last_turns_and_each_answer_is_rated_once():
    chat_ = Conversation()
    for n in range(MAX_TURNS + 3):
        chat_.add(f"q{n}", f"a{n}")
    assert len(chat_.messages) == 2 * MAX_TURNS and chat_.messages[0] == {"role": "user", "content": "q3"}
    assert chat_.answer_at(1) == GivenReply(Outcome.SMALL_TALK) and chat_.answer_at(0) is None  # a question is not an answer
    assert chat_.answer_at(2 * MAX_TURNS) is None and chat_.answer_at(-1) is None and chat_.answer_at(True) is None
    chat_.mark_rated(1)
    assert chat_.answer_at(1) is None  # once
    chat_.add("new", "reply", given=GivenReply(Outcome.ANSWERED, ("a",)))  # the rated answer leaves with its turn
    assert chat_.rated.count(True) == 0 and chat_.answer_at(len(chat_.messages) - 1) == GivenReply(Outcome.ANSWERED, ("a",))
    assert len(chat_.given) == len(chat_.messages) == len(chat_.rated)


def test_only_the_follow_ups_offered_under_the_newest_reply_can_be_asked():
    chat_ = Conversation()
    assert chat_.suggestion_at(0) is None  # nothing offered yet
    chat_.add("Will it hurt?", "reply", ["How long is a session?", "Is it safe?"])
    assert chat_.messages[-1]["options"] == [{"label": "How long is a session?", "value": "How long is a session?"},
                                             {"label": "Is it safe?", "value": "Is it safe?"}]
    assert [chat_.suggestion_at(i) for i in (0, 1, 2, -1, True, "0")] == ["How long is a session?", "Is it safe?",
                                                                         None, None, None, None]
    chat_.add("Is it safe?", "another reply")  # a reply with none: the earlier ones are gone from the page
    assert chat_.suggestion_at(0) is None and "options" not in chat_.messages[-1]
    chat_.forget()
    assert chat_.suggestion_at(0) is None


class FakeSession:
    def __init__(self, closed=False):
        self.is_closed = closed
        self.state_data = {6: Conversation([{"role": "user", "content": "my words"}], [False])}


class FakeHolder:
    """Gradio's StateHolder as the janitor reads it: session_data, time_last_used, lock."""

    def __init__(self):
        self.session_data: OrderedDict[str, FakeSession] = OrderedDict()
        self.time_last_used: dict[str, datetime.datetime] = {}
        self.lock = threading.Lock()


class FakeBlocks:
    def __init__(self):
        self.state_holder = FakeHolder()


def test_sessions_are_dropped_when_their_visitor_leaves_or_after_15_idle_minutes(caplog):
    blocks = FakeBlocks()
    holder = blocks.state_holder
    now = datetime.datetime(2026, 12, 2, 12, 0)
    for session, closed, idle_minutes in (("open1", False, 1), ("left1", True, 1), ("idle1", False, 16)):
        holder.session_data[session] = FakeSession(closed)
        holder.time_last_used[session] = now - datetime.timedelta(minutes=idle_minutes)
    kept = holder.session_data["left1"].state_data[6]
    janitor = SessionJanitor(idle_seconds=15 * 60)
    janitor.attach(blocks)
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        assert janitor.sweep(now) == 2
    assert list(holder.session_data) == ["open1"] and list(holder.time_last_used) == ["open1"]
    assert kept.messages == []  # emptied, for whoever still holds it
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["A chat page's conversation was dropped from memory (the visitor left); 2 held.",
                     "A chat page's conversation was dropped from memory (no question for 15 minutes); 1 held."]
    assert not any(s in line for s in ("open1", "left1", "idle1", "my words") for line in lines)

    # The unload event drops at once; an answer that finishes afterwards makes the session anew: dropped again.
    assert janitor.forget("open1") and not janitor.forget("open1") and not janitor.forget(None)
    holder.session_data["open1"] = FakeSession()
    holder.time_last_used["open1"] = now
    assert janitor.sweep(now) == 1 and not holder.session_data


def test_the_janitor_of_a_page_not_served_yet_does_nothing():
    assert SessionJanitor().sweep() == 0 and not SessionJanitor().forget("x")


# --- logs and headers ------------------------------------------------------------------------------------

def test_the_access_log_never_names_a_session():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/gradio_api/queue/data?session_hash=fqsdiwgjllo", "1.1", 200), None)
    assert RedactSessionIds().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /gradio_api/queue/data HTTP/1.1" 200'
    config = logs.uvicorn_log_config()
    assert "redact_session_ids" in config["handlers"]["access"]["filters"]
    from uvicorn.config import LOGGING_CONFIG

    assert "filters" not in LOGGING_CONFIG["handlers"]["access"]  # uvicorn's own left as it was


def test_security_headers_on_every_response_and_no_store_but_on_library_files():
    origins = OriginAllowList(["https://clinic.example.org"])
    app = SecurityHeaders(Downstream([(b"server", b"uvicorn")]), origins=origins)
    status, headers, _ = call(app, method="GET", path="/api/ask")
    assert headers["content-security-policy"] == "frame-ancestors 'self' https://clinic.example.org"
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store" and "server" not in headers
    assert "cache-control" not in call(app, method="GET", path="/assets/index-1.js")[1]
    own = SecurityHeaders(Downstream([(b"cache-control", b"public, max-age=600")]), origins=origins)
    assert call(own, method="GET", path="/widget.js")[1]["cache-control"] == "public, max-age=600"


def test_same_origin_refuses_other_sites_strips_cors_and_forwarded_host():
    inner = Downstream([(b"access-control-allow-origin", b"https://evil.example"),
                        (b"access-control-allow-credentials", b"true")])
    app = SameOrigin(inner)
    host = {"host": "chat.example.org"}
    assert call(app, method="GET", path="/config", headers={**host, "origin": "https://evil.example"})[0] == 403
    assert call(app, method="GET", path="/", headers={**host, "origin": "https://chat.example.org.evil.example"})[0] == 403
    assert call(app, method="GET", path="/", headers={**host, "origin": "null"})[0] == 403
    assert inner.calls == []
    status, headers, _ = call(app, method="POST", path="/gradio_api/queue/join",
                              headers={**host, "origin": "http://chat.example.org:80", "x-forwarded-host": "evil.example"})
    assert status == 200 and not [h for h in headers if h.startswith("access-control-")]
    assert b"x-forwarded-host" not in dict(inner.calls[0][0]["headers"])
    status, headers, _ = call(app, method="POST", path="/api/ask", headers={**host, "origin": "https://evil.example"})
    assert status == 200 and "access-control-allow-origin" in headers  # /api/ask's CORS is ApiGuard's
