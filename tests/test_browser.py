"""The chat page in a real browser: headless Debian Chromium, driven by Playwright, against `python app.py`.

Every request the page makes is recorded; one to any host but this machine fails the test.
Screenshots go to tmp_path; with SAVE_SCREENSHOTS=1 the first answer is also saved as docs/chat.png.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from urllib.parse import urlsplit

import pytest

from tests.conftest import CHROMIUM, LOCAL_HOSTS, REPO, running_server

ANSWER_TIMEOUT = 60_000  # ms; the first answer warms the model up
DISCLAIMER_START = "This is educational information"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: run `bash tests/setup.sh`")


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("browser-server")


@pytest.fixture(scope="module")
def server(server_dir):
    with running_server(server_dir) as base:
        yield base


@pytest.fixture
def chat(browser, server):
    """A fresh page on the chat; afterwards, checks that it never contacted another host."""
    context = browser.new_context(viewport={"width": 1100, "height": 1500})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.set_default_timeout(ANSWER_TIMEOUT)
    page.goto(server + "/", wait_until="load")  # not "networkidle": Gradio keeps a connection open
    page.locator("#qa-input textarea").wait_for()
    yield page
    outside = [url for url in requests if urlsplit(url).scheme not in ("data", "blob")
               and urlsplit(url).hostname not in LOCAL_HOSTS]
    context.close()
    assert requests, "no requests were recorded"
    assert not outside, f"the page contacted other hosts: {outside}"


def ask(page, question: str):
    """Type a question, send it, and return the newest answer once it has arrived."""
    before = page.locator("#qa-chat .qa-answer").count()
    page.locator("#qa-input textarea").fill(question)
    page.locator("#qa-input textarea").press("Enter")
    answer = page.locator("#qa-chat .qa-answer").nth(before)
    answer.wait_for()
    return answer


def test_page_shows_title_examples_and_disclaimer(chat):
    assert chat.title() == "Acupuncture & Neuropathy Q&A"
    assert chat.locator("h1").first.inner_text() == "Acupuncture & Neuropathy Q&A"
    assert "peripheral neuropathy" in chat.locator("#qa-header").inner_text()
    for example in ("Will the needles hurt?", "How many sessions will I need?", "Can acupuncture help neuropathy from chemo?"):
        assert chat.get_by_role("button", name=example).is_visible()
    disclaimer = chat.locator("#qa-footer .qa-disclaimer")
    assert disclaimer.is_visible() and DISCLAIMER_START in disclaimer.inner_text()
    assert "Nothing you type is stored" in chat.locator("#qa-footer").inner_text()


def test_example_question_shows_cited_passages_and_feedback_stores_no_text(chat, server_dir, tmp_path):
    chat.get_by_role("button", name="Will the needles hurt?").click()
    answer = chat.locator("#qa-chat .qa-answer").first
    answer.locator("blockquote").first.wait_for()
    assert answer.locator("blockquote").count() >= 1
    assert answer.locator("blockquote strong").count() >= 1  # the key sentence is emphasised
    text = answer.inner_text()
    assert "[1]" in text and "Sources" in text and "section" in text
    assert DISCLAIMER_START in answer.locator("small").inner_text()
    chat.wait_for_timeout(300)  # let the scroll settle for the picture
    footer = chat.locator("#qa-footer").bounding_box()
    page_only = {"x": 0, "y": 0, "width": chat.viewport_size["width"], "height": footer["y"] + footer["height"] + 24}
    chat.screenshot(path=tmp_path / "chat-answer.png", clip=page_only)
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        chat.screenshot(path=REPO / "docs" / "chat.png", clip=page_only)

    chat.get_by_role("button", name="Like", exact=True).last.click()
    events = server_dir / "events.sqlite3"  # the insights store, beside the server's index
    ratings = []
    for _ in range(50):  # the like event is handled on the server (and written) a moment after the click
        if events.exists():
            with closing(sqlite3.connect(events)) as conn:
                ratings = conn.execute("SELECT rating, sources, question FROM ratings").fetchall()
            if ratings:
                break
        chat.wait_for_timeout(100)
    assert len(ratings) == 1
    rating, sources, question = ratings[0]
    assert rating == "up" and question is None
    known = {p.stem for p in (REPO / "sources").glob("*.md")}
    assert json.loads(sources) and set(json.loads(sources)) <= known
    with closing(sqlite3.connect(events)) as conn:
        answers = conn.execute("SELECT channel, question FROM answers").fetchall()
    assert answers and set(answers) == {("chat", None)}  # the example's answer: an event, no text
    stored = b"".join(p.read_bytes() for p in server_dir.iterdir() if p.name.startswith("events.sqlite3"))
    assert b"needles hurt" not in stored


def test_typed_questions_emergency_and_abstention(chat, tmp_path):
    answer = ask(chat, "How many sessions will I need?")
    assert answer.locator("blockquote").count() >= 1 and "Sources" in answer.inner_text()

    emergency = ask(chat, "I have crushing chest pain")
    assert "qa-safety-emergency" in emergency.get_attribute("class")
    first = emergency.locator("p").first
    assert "emergency" in first.inner_text().lower()
    # It stands out: its own background, unlike an ordinary paragraph.
    assert first.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")

    kind = ask(chat, "Does insurance cover acupuncture?")
    assert "qa-abstained" in kind.get_attribute("class")
    assert "I'm sorry" in kind.inner_text() and DISCLAIMER_START in kind.inner_text()
    chat.screenshot(path=tmp_path / "chat-conversation.png", full_page=True)


def test_follow_up_in_the_chat_uses_the_conversation(chat):
    ask(chat, "I take blood thinners.")
    follow_up = ask(chat, "Can I still get it?")
    assert "blood thinners" in " ".join(follow_up.locator("blockquote").all_inner_texts()).lower()


def test_follow_up_questions_are_buttons_under_the_newest_answer_that_the_keyboard_reaches(chat):
    ask(chat, "Will the needles hurt?")
    chips = chat.locator("#qa-chat .options button.option")
    chips.first.wait_for()
    offered = chips.all_inner_texts()
    assert 1 <= len(offered) <= 3 and "Will the needles hurt?" not in offered
    # Labelled for everyone (the label is the group's first line, read out before the buttons).
    label = chat.locator("#qa-chat .options").evaluate("e => getComputedStyle(e, '::before').content")
    assert label == '"You could also ask:"'
    # The keyboard reaches them: from the text box, Shift+Tab goes back through the chat to the chips.
    chat.locator("#qa-input textarea").focus()
    focused = []
    for _ in range(12):
        chat.keyboard.press("Shift+Tab")
        focused.append(chat.evaluate("() => document.activeElement.textContent.trim()"))
        if focused[-1] == offered[-1]:
            break
    assert focused[-1] == offered[-1], focused
    # Enter asks it.
    before = chat.locator("#qa-chat .qa-answer").count()
    chat.keyboard.press("Enter")
    answer = chat.locator("#qa-chat .qa-answer").nth(before)
    answer.wait_for()
    asked = chat.locator("#qa-chat .message.user, #qa-chat [data-testid='user']").last.inner_text()
    assert offered[-1] in asked
    assert answer.locator("blockquote").count() >= 1
    # Only the newest answer has chips, and not the ones just used.
    assert offered[-1] not in chat.locator("#qa-chat .options button.option").all_inner_texts()


@pytest.mark.parametrize("width, height", [(375, 740), (1280, 900)])
def test_the_page_fits_a_phone_with_one_scroll_and_the_disclaimer_once_on_screen(browser, server, tmp_path, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        page.set_default_timeout(ANSWER_TIMEOUT)
        page.goto(server + "/", wait_until="load")
        page.locator("#qa-input textarea").wait_for()
        footer_disclaimer = page.locator("#qa-footer .qa-disclaimer")
        assert footer_disclaimer.is_visible()  # before any answer, the page says it once, in the footer
        answer = ask(page, "Will the needles hurt?")
        page.wait_for_timeout(300)
        page.screenshot(path=tmp_path / f"chat-{width}.png", full_page=True)
        # Every answer carries the disclaimer; the footer's copy is gone once one is on screen.
        assert DISCLAIMER_START in answer.locator("small").inner_text()
        assert not footer_disclaimer.is_visible()
        assert "Nothing you type is stored" in page.locator("#qa-footer").inner_text()
        if width < 600:
            # The answer takes the width of the screen (it was 205 px of 375), and the chat grows with the
            # conversation: nothing inside it scrolls, only the page.
            assert answer.bounding_box()["width"] >= 0.8 * width  # 311 px of 375 (the page's sides 5 % of the width, not 32 px)
            assert page.locator(".gradio-container > .main.app").evaluate("e => getComputedStyle(e).paddingLeft") == "18.75px"
            inner = page.evaluate("""() => [...document.querySelectorAll('#qa-chat, #qa-chat *')].filter(e =>
                e.scrollHeight > e.clientHeight + 5 && /auto|scroll/.test(getComputedStyle(e).overflowY)).length""")
            assert inner == 0
            # Scrolled to the top of the answer, the question box is still on screen.
            answer.scroll_into_view_if_needed()
            page.evaluate("() => window.scrollTo(0, document.querySelector('#qa-chat .qa-answer').getBoundingClientRect().top + window.scrollY)")
            box = page.locator("#qa-input textarea").bounding_box()
            assert 0 <= box["y"] and box["y"] + box["height"] <= height
    finally:
        context.close()
