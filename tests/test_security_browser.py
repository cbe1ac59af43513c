"""Issue 19 in Chromium: what a page on another site can make a visitor's browser do with the chat server, and
what the server keeps of a visitor's conversation once they close the chat page.

A real `python app.py` with one allowed clinic site; a second loopback site (another port: another origin) plays
the attacker's page. Its scripts call the chat server as a visitor's browser would, credentials included; the
browser's own CORS checks decide what they may read. Everything is on loopback.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.chat_client import ChatPage
from tests.conftest import REPO, running_replica, static_site

pytestmark = [pytest.mark.server, pytest.mark.browser]

ANSWER_TIMEOUT = 60_000  # ms; the first answer warms the model up
LEFT = re.compile(r"A chat page's conversation was dropped from memory \(the visitor left\); (\d+) held\.")


def clinic_with_one_site(directory: Path, site: str) -> Path:
    text = (REPO / "clinic.toml").read_text(encoding="utf-8")
    for key, value in {"allowed_origins": json.dumps([site]),
                       "feedback_file": json.dumps(str(directory / "feedback.jsonl"))}.items():
        text, found = re.subn(rf"(?m)^{key} = .*$", lambda _m, k=key, v=value: f"{k} = {v}", text)
        assert found == 1, f"clinic.toml has no single '{key} = ...' line"
    path = directory / "clinic.toml"
    path.write_text(text, encoding="utf-8")
    return path


def recorded(events: Path, table: str) -> int:
    """Rows of `table` ("answers", "ratings") in the insights store so far."""
    if not events.exists():
        return 0
    with closing(sqlite3.connect(events)) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """(the chat server, its process, the allowed clinic site, the attacker's site, the server's directory)."""
    pages = tmp_path_factory.mktemp("pages")
    (pages / "index.html").write_text("<!doctype html><title>a page</title><p>nothing here</p>", encoding="utf-8")
    server_dir = tmp_path_factory.mktemp("browser-security")
    with static_site(pages) as allowed, static_site(pages) as foreign:
        config = clinic_with_one_site(server_dir, allowed)
        with running_replica(server_dir, config=config,
                             extra_env={"GRADIO_TEMP_DIR": str(server_dir / "gradio-tmp")}) as server:
            with httpx.Client(base_url=server.base, timeout=60) as client:  # warm: the first answer loads the models
                assert client.post("/api/ask", json={"question": "Will the needles hurt?"}).status_code == 200
            yield server, allowed, foreign, server_dir


@pytest.fixture
def page_on(browser):
    contexts = []

    def open_page(url: str):
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.goto(url, wait_until="load")
        return page

    yield open_page
    for context in contexts:
        context.close()


# What a script on a page may try: each call says what it could read, or that the browser blocked it.
FETCH = """async ([url, options]) => {
  try {
    const response = await fetch(url, {credentials: 'include', ...options});
    const text = await response.text();
    return 'read ' + response.status + ': ' + text.slice(0, 80);
  } catch (error) { return 'blocked: ' + error.name; }
}"""


def json_post(body: dict) -> dict:
    return {"method": "POST", "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def test_a_page_on_another_site_can_read_nothing_from_the_chat_server(sites, page_on):
    server, allowed, foreign, server_dir = sites
    events = server_dir / "events.sqlite3"
    before = recorded(events, "answers")
    attacker = page_on(foreign + "/")
    base = server.base
    attempts = {
        "the chat's answers (Gradio's API)": (f"{base}/gradio_api/call/v2/chat", json_post({"data": ["Will the needles hurt?"]})),
        "the chat's answers (the page's queue)": (f"{base}/gradio_api/queue/join",
                                                   json_post({"data": ["Will the needles hurt?", None], "fn_index": 0,
                                                              "session_hash": "abcdefghijk"})),
        "the answer stream": (f"{base}/gradio_api/queue/data?session_hash=abcdefghijk", {}),
        "the page's config": (f"{base}/config", {}),
        "Gradio's API description": (f"{base}/gradio_api/info", {}),
        "the chat page itself": (f"{base}/", {}),
        "an upload": (f"{base}/gradio_api/upload", {"method": "POST", "body": "x" * 1000}),
    }
    seen = {name: attacker.evaluate(FETCH, [url, options]) for name, (url, options) in attempts.items()}
    assert seen == {name: "blocked: TypeError" for name in attempts}
    # The JSON API answers pages of allowed sites only: for this one the browser blocks the reply.
    assert attacker.evaluate(FETCH, [f"{base}/api/ask", json_post({"question": "Will the needles hurt?"})]) == "blocked: TypeError"
    # A "simple" request (no preflight, reply unreadable) does not even get an answer made: 415.
    simple = attacker.evaluate("""url => fetch(url, {method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: {'Content-Type': 'text/plain'}, body: JSON.stringify({question: 'Will the needles hurt? (simple)'})})
        .then(r => r.type, e => 'blocked: ' + e.name)""", f"{base}/api/ask")
    assert simple == "opaque"
    # The allowed clinic site's script does read its answers, sent as the widget sends them: without credentials
    # (with them, the browser blocks even this: the API never allows credentials, as it uses none).
    clinic = page_on(allowed + "/")
    question = json_post({"question": "How many sessions will I need?"})
    assert clinic.evaluate(FETCH, [f"{base}/api/ask", {**question, "credentials": "omit"}]).startswith("read 200: ")
    assert clinic.evaluate(FETCH, [f"{base}/api/ask", question]) == "blocked: TypeError"
    # ... and still not Gradio's routes, which answer only the chat page's own origin.
    assert clinic.evaluate(FETCH, [f"{base}/config", {}]) == "blocked: TypeError"
    # Of all that, only the clinic's first question was answered (the one with credentials failed its preflight) (the store writes in order: wait for it).
    deadline = time.monotonic() + 30
    while recorded(events, "answers") < before + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    assert recorded(events, "answers") == before + 1


def test_a_closed_chat_page_leaves_nothing_of_its_conversation_behind(sites, page_on):
    server, _allowed, _foreign, server_dir = sites
    page = page_on(server.base + "/")
    joins = []
    page.on("request", lambda r: joins.append(r.post_data) if "/gradio_api/queue/join" in r.url else None)
    page.locator("#qa-input textarea").wait_for()
    question = "I take warfarin for my heart, can I still have acupuncture?"
    page.locator("#qa-input textarea").fill(question)
    page.locator("#qa-input textarea").press("Enter")
    page.locator("#qa-chat .qa-answer").first.wait_for(timeout=ANSWER_TIMEOUT)
    session = json.loads(joins[0])["session_hash"]
    assert session
    held_before = len(LEFT.findall(server.output()))
    page.close()

    # The page's heartbeat ends; the server drops the conversation (it logs that, with no id and no words).
    deadline = time.monotonic() + 60
    while len(LEFT.findall(server.output())) <= held_before:
        assert time.monotonic() < deadline, "the conversation was not dropped within 60 s of the page closing:\n" + server.tail()
        time.sleep(0.5)

    # Someone who has the id (from a log, a shoulder) gets nothing of it: no thumbs for its answer, no deep link.
    events = server_dir / "events.sqlite3"
    ratings = recorded(events, "ratings")
    with httpx.Client(base_url=server.base, timeout=60) as client:
        impostor = ChatPage.open(client, session=session)
        assert impostor.rate(1, False).ok
        link = client.get("/gradio_api/deep_link", params={"session_hash": session})
        assert link.status_code == 404
        # A rating for an answer this session was given would be written by the time a new answer is.
        assert client.post("/api/ask", json={"question": "Do the needles hurt?"}).status_code == 200
    time.sleep(1.5)
    assert recorded(events, "ratings") == ratings
    temp = server_dir / "gradio-tmp"
    assert not list(temp.rglob("state.json")) if temp.exists() else True
    log = server.output()
    assert session not in log and "warfarin" not in log
