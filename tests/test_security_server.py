"""Issue 19 against a real `python app.py`, from outside, as someone probing a clinic's public chat would:
one test per row of the issue's table, each of which the server before the issue failed. The chat page is
spoken to as its browser speaks (tests/chat_client.py); tests/test_security_browser.py drives Chromium and
tests/test_security_nginx.py goes through the shipped nginx.

One server for the module, with its own index, clinic file, insights store and Gradio temp dir in tmp_path,
a small per-visitor limit and a small connection cap. Tests that spend the limit send X-Forwarded-For
(uvicorn trusts it from 127.0.0.1), so each is its own visitor. Everything is on loopback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import httpx
import pytest

from qa.insights.events import cited_source_ids
from server.routes import AppRoute
from tests.chat_client import ChatPage
from tests.conftest import REPO, running_replica
from tests.test_security_routes import CLOSED

pytestmark = pytest.mark.server

RATE_LIMIT = 6  # answers a minute per visitor
MAX_CONNECTIONS = 24
NOT_FOUND = "Not found. This server answers the chat page at /, POST /api/ask, /healthz and the widget."
_visitors = count(10)


@dataclass
class Served:
    base: str
    port: int
    pid: int
    log: Path
    temp_dir: Path  # Gradio's (GRADIO_TEMP_DIR)
    events: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("security-server")
    temp_dir = directory / "gradio-tmp"
    with running_replica(directory, rate_limit_per_minute=RATE_LIMIT, extra_env={"GRADIO_TEMP_DIR": str(temp_dir)},
                         args=["--max-connections", str(MAX_CONNECTIONS)]) as server:
        yield Served(server.base, server.port, server.process.pid, server.log, temp_dir, directory / "events.sqlite3")


def visitor(served: Served, **headers) -> httpx.Client:
    """A client with an address of its own (a fresh budget)."""
    return httpx.Client(base_url=served.base, timeout=60,
                        headers={"X-Forwarded-For": f"198.51.100.{next(_visitors)}", **headers})


def ask_api(client: httpx.Client, question: str = "Will the needles hurt?") -> httpx.Response:
    return client.post("/api/ask", json={"question": question})


def rows(path: Path, table: str) -> list[dict]:
    if not path.exists():
        return []
    with closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY id")]


def written(served: Served, table: str) -> int:
    """How many rows `table` has once everything recorded so far is written: one more answer (of a visitor of
    its own) is asked and waited for; the store writes events in order, so the earlier ones are in by then."""
    answers = len(rows(served.events, "answers"))
    with visitor(served) as client:
        assert ask_api(client, "How does acupuncture help nerve pain?").status_code == 200
    rows_after_one_more_answer(served, "answers", answers)
    return len(rows(served.events, table))


def rows_after_one_more_answer(served: Served, table: str, before: int) -> list[dict]:
    """The table once a fresh visitor's answer (or rating) has been written after the requests just made: the
    store writes in order, so anything those requests recorded is in it by then."""
    deadline = time.monotonic() + 30
    while len(found := rows(served.events, table)) <= before:
        assert time.monotonic() < deadline, f"nothing more was written to {table} in 30 s"
        time.sleep(0.1)
    return found


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")} if directory.exists() else set()


def raw_request(port: int, head: bytes, body_parts=(), pause: float = 0.0) -> bytes:
    """Send `head`, then `body_parts` one by one (pausing between them) until the server answers or closes;
    returns what it answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        reply = b""
        for part in body_parts:
            try:
                reply += sock.recv(65536)
            except BlockingIOError:
                pass
            if reply:
                break
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError, BlockingIOError):
                break
            if pause:
                time.sleep(pause)
        sock.setblocking(True)
        sock.settimeout(30)
        while b"\r\n\r\n" not in reply or not reply.split(b"\r\n\r\n", 1)[1]:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            reply += chunk
        return reply


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


# --- row 1: uploads ------------------------------------------------------------------------------------

def test_uploads_and_recordings_are_refused_and_nothing_is_written_under_gradios_temp_dir(served):
    before = files_under(served.temp_dir)
    with visitor(served) as client:
        for path in ("/gradio_api/upload", "/gradio_api/upload?upload_id=abc", "/gradio_api/process_recording"):
            refused = client.post(path, files={"files": ("notes.txt", b"my lab results", "text/plain")})
            assert refused.status_code == 404 and refused.json() == {"error": NOT_FOUND}, path
        assert client.get("/gradio_api/upload_progress", params={"upload_id": "abc"}).status_code == 404
    # A 1 GiB upload declared: refused before a byte of it is read.
    reply = raw_request(served.port, b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1073741824\r\n\r\n",
                        [b"--b\r\n" + b"x" * 65536] * 16)
    assert reply.startswith(b"HTTP/1.1 404"), reply[:200]
    # Nor is a file that is there served back: file= is closed whatever it names.
    planted = served.temp_dir / "planted.txt"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text("a file in Gradio's cache", encoding="utf-8")
    with visitor(served) as client:
        for path in (f"/gradio_api/file={planted}", f"/gradio_api/file/{planted}"):
            assert client.get(path).status_code == 404 and client.head(path).status_code == 404
    assert files_under(served.temp_dir) == before | {"planted.txt"}


# --- row 2: memory -------------------------------------------------------------------------------------

def test_a_2_mb_chat_message_is_refused_and_the_server_does_not_grow(served):
    with visitor(served) as client:
        page = ChatPage.open(client)
        assert page.ask("Will the needles hurt?").ok  # warm: the page's session and the answer path exist
        before = rss_kib(served.pid)
        message = json.dumps({"data": ["x" * 2_000_000, None], "fn_index": page.events["ask"][0],
                              "session_hash": page.session}).encode()
        for _ in range(20):  # 40 MB in all; the server before the issue kept every one in the session
            refused = client.post("/gradio_api/queue/join", content=message, headers={"Content-Type": "application/json"})
            assert refused.status_code == 413 and refused.json() == {"error": "The request body is over 64 KB."}
        for _ in range(5):  # the same without a declared size: counted as it arrives, refused past 64 KB
            reply = raw_request(served.port, b"POST /gradio_api/queue/join HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                                [b"10000\r\n" + b"x" * 0x10000 + b"\r\n"] * 32)
            assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        grown = rss_kib(served.pid) - before
        assert grown < 10 * 1024, f"the server grew by {grown} KiB"
        assert page.ask("How many sessions will I need?").ok  # and the page goes on


def test_a_long_chat_message_is_cut_to_1000_characters_with_the_apis_note(served):
    with visitor(served) as client:
        page = ChatPage.open(client)
        reply = page.ask("Will the needles hurt? " + "x" * 5000)
        assert reply.ok
        assert "Your message was long, so only its first 1,000 characters were used." in reply.last_message
        shown = reply.chat[-2]["content"]
        text = shown if isinstance(shown, str) else shown[0]["text"]
        assert len(text) == 1001 and text.endswith("…")  # what the page keeps of it, too
        api = ask_api(client, "Will the needles hurt? " + "x" * 5000).json()
        assert api["notes"] == ["Your message was long, so only its first 1,000 characters were used."]


# --- row 3: one budget per visitor, thumbs only for answers given ------------------------------------------

def test_one_visitor_has_one_budget_for_the_api_and_the_chat_page(served):
    before = written(served, "answers")
    with visitor(served) as api_first, visitor(served) as chat_first, visitor(served) as bystander:
        assert [ask_api(api_first).status_code for _ in range(RATE_LIMIT)] == [200] * RATE_LIMIT
        page = ChatPage.open(api_first)
        refused = page.ask("How many sessions will I need?")
        assert not refused.ok and refused.error.startswith("Too many questions in a short time (the limit is 6 a minute)")
        assert page.example(0).error.startswith("Too many questions")
        assert ask_api(api_first).status_code == 429

        chat = ChatPage.open(chat_first)
        assert all(chat.ask(f"Will the needles hurt? ({n})").ok for n in range(RATE_LIMIT))
        limited = ask_api(chat_first)
        assert limited.status_code == 429 and limited.headers["retry-after"].isdigit()
        assert chat.example(1).error.startswith("Too many questions")

        # Gradio's own API around the page is closed, not just limited.
        for path in ("/gradio_api/call/v2/chat", "/gradio_api/call/chat", "/gradio_api/run/predict", "/gradio_api/api/chat"):
            assert bystander.post(path, json={"data": ["Will the needles hurt?"]}).status_code == 404, path
        assert ChatPage.open(bystander).ask("Will the needles hurt?").ok
        # Answers only: 2 x RATE_LIMIT and the bystander's; refused questions recorded nothing.
        answers = rows_after_one_more_answer(served, "answers", before + 2 * RATE_LIMIT)
    assert len(answers) == before + 2 * RATE_LIMIT + 1


def test_thumbs_count_only_for_answers_this_page_was_given_and_once_each(served):
    before = written(served, "ratings")
    with visitor(served) as client:
        page = ChatPage.open(client)
        assert page.rate(1).ok  # nothing answered yet: nothing to rate (and no error either)
        answered = page.ask("Will the needles hurt?")
        # The same answer over the API (its own client address, its own budget): the sources it cites.
        given = cited_source_ids(httpx.post(served.base + "/api/ask", json={"question": "Will the needles hurt?"},
                                            headers={"X-Forwarded-For": "203.0.113.77"}, timeout=60).json())
        assert given
        crafted = '<div class="qa-answer" data-sources="[&quot;acupuncture-work-for-neuropathy&quot;]">'
        for liked in (True, True, False, "Dislike"):  # the first counts; the others are the same answer again
            assert page.rate(1, liked, value=[crafted]).ok
        assert page.rate(0).ok and page.rate(2).ok and page.rate(99).ok  # the question, and no message at all
        other = ChatPage.open(client)  # another page (another session) cannot rate this page's answers
        assert other.rate(1).ok
        page.clear()
        assert page.rate(1, False).ok  # after the bin, the page has no answers left to rate
        second = ChatPage.open(client)
        assert second.ask("How many sessions will I need?").ok and second.rate(1, False).ok  # a real, new rating
        ratings = rows_after_one_more_answer(served, "ratings", before + 1)
    assert len(ratings) == before + 2
    first = ratings[before]
    assert first["rating"] == "up" and json.loads(first["sources"]) == given  # the sources of the answer given


def test_a_follow_up_chip_asks_the_question_offered_not_what_the_browser_sent(served):
    with visitor(served) as client:
        page = ChatPage.open(client)
        assert page.suggestion(0).error == "Sorry, that question is no longer offered. Please type your question."
        answered = page.ask("Will the needles hurt?")
        offered = [option["value"] for option in answered.chat[-1].get("options", [])]
        assert 1 <= len(offered) <= 3 and "Will the needles hurt?" not in offered
        marker = "MY-OWN-WORDS-5521"
        followed = page.suggestion(len(offered) - 1, value=marker)
        assert followed.ok
        asked = followed.chat[-2]["content"]
        assert (asked if isinstance(asked, str) else asked[0]["text"]) == offered[-1]
        assert "qa-answer" in followed.last_message and marker not in json.dumps(followed.chat)
        assert page.suggestion(99).error.startswith("Sorry, that question is no longer offered")
    assert marker not in served.output()


# --- row 4: other sites ----------------------------------------------------------------------------------

def test_other_sites_get_no_cors_headers_and_their_requests_are_refused(served):
    evil = "https://evil.example"
    with visitor(served) as client:
        page = ChatPage.open(client)
        for host in (f"127.0.0.1:{served.port}", "chat.example-clinic.org"):  # Gradio trusted any origin off localhost
            headers = {"Origin": evil, "Host": host}
            responses = {
                "page": client.get("/", headers=headers),
                "asset": client.get("/theme.css", headers=headers),
                "answers": client.get("/gradio_api/queue/data", params={"session_hash": page.session}, headers=headers),
                "join": client.post("/gradio_api/queue/join", headers={**headers, "Content-Type": "application/json"},
                                    content=json.dumps({"data": ["Will the needles hurt?", None], "session_hash": page.session,
                                                        "fn_index": page.events["ask"][0]}).encode()),
                "config": client.get("/config", headers=headers),
                "preflight": client.options("/gradio_api/queue/join", headers={**headers, "Access-Control-Request-Method": "POST"}),
            }
            statuses = {name: r.status_code for name, r in responses.items()}
            assert statuses == {"page": 403, "asset": 403, "answers": 403, "join": 403, "config": 404, "preflight": 404}
            for name, response in responses.items():
                assert not [h for h in response.headers if h.startswith("access-control-")], (host, name)
        # The API: an answer, but not one the other site's script may read (no CORS headers for it).
        answered = client.post("/api/ask", json={"question": "Will the needles hurt?"}, headers={"Origin": evil})
        assert answered.status_code == 200 and "access-control-allow-origin" not in answered.headers
        # The page's own origin works as before.
        own = client.get("/", headers={"Origin": served.base})
        assert own.status_code == 200 and "access-control-allow-origin" not in own.headers


# --- row 5: privacy on the chat page (the rest in Chromium: tests/test_security_browser.py) -----------------

def test_deep_links_are_closed_and_write_nothing(served):
    with visitor(served) as client:
        page = ChatPage.open(client)
        assert page.ask("I take warfarin, is acupuncture safe?").ok
        before = files_under(served.temp_dir)
        link = client.get("/gradio_api/deep_link", params={"session_hash": page.session})
        assert link.status_code == 404 and link.json() == {"error": NOT_FOUND}
        assert client.get("/", params={"deep_link": "abc"}).status_code == 200  # the page, with nothing loaded
    assert files_under(served.temp_dir) == before
    assert not [p for p in served.temp_dir.rglob("state.json")]
    assert page.session not in served.output() and "warfarin" not in served.output()


# --- row 6: nothing leaves the machine ---------------------------------------------------------------------

@contextmanager
def outbound_calls(pid: int, trace: Path):
    """strace on every thread of `pid` (its output in `trace`), recording the Internet sockets it opens and
    connects; yields the list, filled in when the block ends."""
    tracer = subprocess.Popen(["strace", "-f", "-e", "trace=socket,connect", "-e", "signal=none", "-o", str(trace),
                               "-p", str(pid)], stderr=subprocess.PIPE, text=True)
    calls: list[str] = []
    try:
        attached = tracer.stderr.readline()  # "strace: Process N attached": from here on every call is seen
        assert "attached" in attached, attached
        yield calls
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
        if trace.exists():
            calls += [line for line in trace.read_text().splitlines() if "AF_INET" in line]


OUTBOUND_WATCH_SECONDS = 12


def socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets `pid` has open (a descriptor closed while they are read is skipped)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if m := re.fullmatch(r"socket:\[(\d+)\]", target):
            inodes.add(m.group(1))
    return inodes


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is missing: run `bash tests/setup.sh`")
def test_file_urls_are_404_and_the_server_opens_no_outbound_connection(served, tmp_path):
    target = socket.socket()
    target.bind(("127.0.0.1", 0))
    target.listen()
    here = f"127.0.0.1:{target.getsockname()[1]}"
    urls = [f"http://{here}/secret", "https://example.org/", "http://93.184.215.14/", "http://169.254.169.254/latest/meta-data/",
            "https://dns.google/resolve?name=internal.example"]
    with closing(target), visitor(served) as client, outbound_calls(served.pid, tmp_path / "strace.txt") as calls:
        for url in urls:
            for path in (f"/gradio_api/file={url}", f"/gradio_api/proxy={url}", f"/gradio_api/file/{url}"):
                assert client.get(path).status_code == 404, path
                assert client.head(path).status_code == 404, path
        assert ask_api(client).status_code == 200  # an answer, read from disk and memory only
        # Watched for a while after it: a library's telemetry thread (ONNX Runtime's sends every few seconds
        # after inferences) would show up here.
        target.settimeout(OUTBOUND_WATCH_SECONDS)
        with pytest.raises(socket.timeout):
            target.accept()  # nothing came to the loopback "site"
    assert calls == [], calls  # no socket(AF_INET...) or connect() at all: no fetch, no DNS lookup
    # And at the end, the server's sockets are its listening one and its clients' (/proc, by inode).
    inodes = socket_inodes(served.pid)
    for kind in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/{served.pid}/net/{kind}").read_text().splitlines()[1:]:
            fields = line.split()  # sl, local address, remote address, state, ..., inode (the 10th)
            if fields[9] in inodes:
                assert kind.startswith("tcp") and int(fields[1].split(":")[1], 16) == served.port, (kind, line)


# --- row 7: slow clients, connection cap -------------------------------------------------------------------

def test_a_body_trickled_slowly_is_cut_off(served):
    reply = raw_request(served.port, b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 200\r\n\r\n", [b" "] * 200, pause=0.5)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert "did not arrive within 10 seconds" in json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]


def test_connections_past_the_cap_get_503(served):
    idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(MAX_CONNECTIONS)]
    try:
        assert httpx.get(f"{served.base}/healthz", timeout=30).status_code == 503
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 30
    while httpx.get(f"{served.base}/healthz", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "still refused 30 s after the idle connections closed"
        time.sleep(0.2)


# --- row 8: simple cross-site requests ---------------------------------------------------------------------

def test_a_text_plain_question_is_415_and_counts_for_nothing(served):
    before = written(served, "answers")
    body = json.dumps({"question": "Will the needles hurt?"})
    with visitor(served) as client:
        for _ in range(3 * RATE_LIMIT):  # what a page on another site could make a visitor's browser send
            for kind in ("text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
                refused = client.post("/api/ask", content=body, headers={"Content-Type": kind})
                assert refused.status_code == 415, kind
            assert client.post("/api/ask", content=body, headers={"Content-Type": ""}).status_code == 415
            page_event = client.post("/gradio_api/queue/join", content=b'{"data": ["x", null]}',
                                     headers={"Content-Type": "text/plain"})
            assert page_event.status_code == 415
        # The visitor's budget is untouched, and nothing was recorded.
        assert [ask_api(client).status_code for _ in range(RATE_LIMIT)] == [200] * RATE_LIMIT
    assert len(rows_after_one_more_answer(served, "answers", before + RATE_LIMIT - 1)) == before + RATE_LIMIT


# --- row 9: readable by anyone -----------------------------------------------------------------------------

def test_api_docs_config_info_and_monitoring_are_not_readable(served):
    with visitor(served) as client:
        for path in ("/openapi.json", "/gradio_api/openapi.json", "/gradio_api/info", "/config", "/config/",
                     "/gradio_api/app_id", "/monitoring", "/monitoring/summary", "/monitoring/x", "/docs", "/redoc",
                     "/gradio_api/mcp/sse", "/gradio_api/mcp/", "/manifest.json", "/gradio_api/startup-events"):
            response = client.get(path)
            assert response.status_code == 404 and response.json() == {"error": NOT_FOUND}, path
        for response in (client.get("/"), ask_api(client), client.get("/nowhere")):
            assert "server" not in response.headers


def test_every_closed_route_is_404_on_the_running_server(served):
    """Every route tests/test_security_routes.py found closed, asked for with its method: refused by the app."""
    with visitor(served) as client:
        for (method, template), why in CLOSED.items():
            path = AppRoute(frozenset({method}), template).sample_path()
            response = client.request(method, path, json={} if method == "POST" else None)
            assert response.status_code == 404, (method, path, why)
            if method != "HEAD":
                assert response.json() == {"error": NOT_FOUND}, (method, path)
        assert client.request("OPTIONS", "/gradio_api/queue/join").status_code == 404
        assert client.delete("/").status_code == 404 and client.post("/").status_code == 404


# --- row 10: headers ---------------------------------------------------------------------------------------

def test_every_response_carries_the_security_headers(served):
    with visitor(served) as client:
        page = ChatPage.open(client)
        asset = re.search(r'src="\./(assets/[^"]+\.js)"', client.get("/").text).group(1)
        answers = {
            "the page": client.get("/"),
            "an answer": ask_api(client),
            "bad input": client.post("/api/ask", json={"question": 5}),
            "too big": client.post("/api/ask", content=b"x" * 70_000, headers={"Content-Type": "application/json"}),
            "wrong type": client.post("/api/ask", content=b"{}", headers={"Content-Type": "text/plain"}),
            "health": client.get("/healthz"),
            "a refused event": client.post("/gradio_api/queue/join", json={"data": []}),
            "not found": client.get("/config"),
        }
        for _ in range(RATE_LIMIT):
            answers["too many"] = ask_api(client)
        for name, response in answers.items():
            headers = response.headers
            assert headers["x-content-type-options"] == "nosniff", name
            assert headers["referrer-policy"] == "no-referrer", name
            assert headers["content-security-policy"].startswith("frame-ancestors 'self'"), name
            assert headers["cache-control"] == "no-store", name
        assert answers["too many"].status_code == 429
        fn_index, trigger = page.events["clear"]
        joined = client.post("/gradio_api/queue/join", json={"data": [None], "event_data": None, "fn_index": fn_index,
                                                             "trigger_id": trigger, "session_hash": page.session})
        assert joined.status_code == 200
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": page.session}) as stream:
            assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
            assert stream.headers["cache-control"] == "no-store" and stream.headers["x-content-type-options"] == "nosniff"
        library = client.get(f"/{asset}")
        assert library.status_code == 200 and library.headers["x-content-type-options"] == "nosniff"
        assert "no-store" not in library.headers.get("cache-control", "")  # Gradio's build files may be cached
        embed = client.get("/embed")
        assert embed.headers["referrer-policy"] == "no-referrer" and "default-src 'none'" in embed.headers["content-security-policy"]


# --- row 11: forged hosts ----------------------------------------------------------------------------------

def test_a_forged_forwarded_host_changes_nothing(served):
    with visitor(served, **{"X-Forwarded-Host": "attacker.invalid"}) as client:
        page = client.get("/")
        assert page.status_code == 200 and "attacker.invalid" not in page.text
        assert f'"root":"http://127.0.0.1:{served.port}"' in page.text
        assert client.get("/logout").status_code == 404


# --- row 12: what the chat page is sent --------------------------------------------------------------------

def test_the_chat_page_survives_a_lone_surrogate_and_a_null_message(served):
    with visitor(served) as client:
        page = ChatPage.open(client)
        for message in (None, "Will the needles hurt? \ud800", "\udfff"):
            reply = page.ask(message)
            assert reply.status == 200 and not reply.ok, message
            assert reply.error == "Sorry, that message could not be read. Please type your question again."
        marker = "MY-PRIVATE-SYMPTOM-93127"
        crafted = {
            "a message that is a list": page.send("ask", [[marker], None]),
            "a conversation of its own": page.send("ask", [marker, [{"role": "user", "content": marker}]]),
            "an example without its index": page.send("example", [None], {"value": marker}),
            "a rating with a lone surrogate": page.send("rate", [None], {"index": 1, "value": "\ud800" + marker}),
            "a function the page does not use": page.send("ask", [], body={"data": [marker], "fn_index": 999,
                                                                             "session_hash": page.session}),
        }
        # Answers of a page that asked nothing (Gradio: a 200 stream, then a traceback in the log).
        for session in (ChatPage.open(client).session, "../x"):
            stream = client.get("/gradio_api/queue/data", params={"session_hash": session})
            assert stream.status_code == 404 and stream.json()["error"].startswith("No answers are waiting"), session
        not_json = client.post("/gradio_api/queue/join", content=b'{"data": ["' + marker.encode() + b'"',
                               headers={"Content-Type": "application/json"})
        assert not_json.status_code == 400
        for name, reply in crafted.items():
            assert reply.status == 400 and reply.refusal["error"].startswith("This is not a request the chat page sends"), name
            assert marker not in reply.refusal["error"], name
        # A visitor who goes away mid-body: one line in the log, nothing more.
        with socket.create_connection(("127.0.0.1", served.port)) as gone:
            gone.sendall(b"POST /gradio_api/queue/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 5000\r\n\r\n" + b'{"data": ["' + marker.encode())
        answered = page.ask("Will the needles hurt?")  # the same page, still working
        assert answered.ok and "qa-answer" in answered.last_message
    deadline = time.monotonic() + 30
    while "A client went away before sending the whole request (POST /gradio_api/queue/join)" not in served.output():
        assert time.monotonic() < deadline, served.output()[-2000:]
        time.sleep(0.1)
    log = served.output()
    assert "Traceback" not in log and "Exception" not in log, log[-3000:]
    assert marker not in log and "needles hurt" not in log


# --- row 13: the embedded page's options ----------------------------------------------------------------------

def test_embed_takes_its_title_and_greeting_only_into_a_frame(served):
    params = {"title": "Your lab results are ready", "greeting": "Call 555-0100 now"}
    with visitor(served) as client:
        for headers in ({}, {"Sec-Fetch-Dest": "document"}):  # a link opened, or a client that says nothing
            page = client.get("/embed", params=params, headers=headers).text
            assert "lab results" not in page and "555-0100" not in page
        framed = client.get("/embed", params=params, headers={"Sec-Fetch-Dest": "iframe"})
        config = json.loads(re.search(r'<script id="qa-config" type="application/json">(.*?)</script>', framed.text).group(1))
        assert config["title"] == params["title"] and config["greeting"] == params["greeting"]
        assert "sec-fetch-dest" in framed.headers["vary"].lower()


# --- and through all of it: no session id in the access log --------------------------------------------------

def test_no_session_id_or_query_string_ever_reached_the_access_log(served):
    with visitor(served) as client:
        page = ChatPage.open(client)
        assert page.ask("Will the needles hurt?").ok
        with client.stream("GET", f"/gradio_api/heartbeat/{page.session}") as heartbeat:
            assert heartbeat.status_code == 200
    log = served.output()
    assert '"GET /gradio_api/heartbeat/{session} HTTP/1.1" 200' in log
    assert '"GET /gradio_api/queue/data HTTP/1.1" 200' in log
    assert page.session not in log and "session_hash=" not in log
