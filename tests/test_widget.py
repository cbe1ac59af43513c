"""The embeddable widget: /widget.js on a clinic page from another origin, in headless Chromium, and the
headers that guard it (CORS, frame-ancestors, rate limit, no cookies), against a real `python app.py`.

One app server for the module, with a clinic.toml in tmp_path that allows exactly one of two loopback
sites; both serve examples/clinic-site/index.html with its script pointed at the app. The rate limit is
small; tests that spend it send X-Forwarded-For (uvicorn trusts it from 127.0.0.1), so each has its own
client address and the browser keeps 127.0.0.1's. Screenshots go to tmp_path; with SAVE_SCREENSHOTS=1
the phone-sized one is also saved as docs/widget.png.
"""

from __future__ import annotations

import concurrent.futures
import doctest
import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from qa import ConfigError
from server import guard
from server.guard import OriginAllowList, RateLimiter
from tests.conftest import CHROMIUM, LOCAL_HOSTS, REPO, ask_in_panel, clinic_page, running_server, static_site

RATE_LIMIT = 10  # answers a minute per client in the test server
ANSWER_TIMEOUT = 60_000  # ms; the first answer warms the model up
DISCLAIMER_START = "This is educational information"
BUBBLE = "[data-qa-chat-widget] .bubble"
PANEL = "[data-qa-chat-widget] .panel"
FRAME = "[data-qa-chat-widget] iframe"
OPTIONS = {
    "data-title": "Ask Riverside Acupuncture",
    "data-greeting": "Hi! I can tell you what the articles say about needles, sessions and safety.",
    "data-accent": "#0f766e",
    "data-position": "left",
    "data-open": "",
}


# --- the servers: two loopback sites and the app -------------------------------------------------------

def widget_clinic_file(directory: Path, *, allowed_origin: str) -> Path:
    """The real clinic.toml with one allowed origin, the test's rate limit, and feedback in `directory`."""
    text = (REPO / "clinic.toml").read_text(encoding="utf-8")
    values = {
        "allowed_origins": json.dumps([allowed_origin]),
        "rate_limit_per_minute": str(RATE_LIMIT),
        "feedback_file": json.dumps(str(directory / "feedback.jsonl")),
    }
    for key, value in values.items():
        text, found = re.subn(rf"(?m)^{key} = .*$", lambda _m, k=key, v=value: f"{k} = {v}", text)
        assert found == 1, f"clinic.toml has no single '{key} = ...' line"
    path = directory / "clinic.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Deployment:
    app: str  # the chat server
    allowed_site: str  # a clinic site in allowed_origins
    refused_site: str  # the same pages on another port, not in allowed_origins


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    site = tmp_path_factory.mktemp("clinic-site")
    server_dir = tmp_path_factory.mktemp("widget-server")
    with static_site(site) as allowed, static_site(site) as refused:
        config = widget_clinic_file(server_dir, allowed_origin=allowed)
        with running_server(server_dir, config=config) as app:
            (site / "index.html").write_text(clinic_page(app), encoding="utf-8")
            (site / "options.html").write_text(clinic_page(app, OPTIONS), encoding="utf-8")
            yield Deployment(app, allowed, refused)


# --- HTTP: the script, the embedded page, CORS, the rate limit, cookies ---------------------------------

on_the_server = pytest.mark.server  # these start the module's `python app.py` (pytest.ini: the slow kinds)

@pytest.fixture(scope="module")
def http(deployment):
    # Its own client address: these tests do not spend the browser's rate limit.
    with httpx.Client(base_url=deployment.app, timeout=60, headers={"X-Forwarded-For": "198.51.100.10"}) as client:
        yield client


@on_the_server
def test_widget_js_is_served_as_javascript(http):
    response = http.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "attachShadow" in response.text and "innerHTML" not in response.text
    for asset, kind in (("/embed.js", "application/javascript"), ("/embed.css", "text/css")):
        assert http.get(asset).headers["content-type"].startswith(kind)


@on_the_server
def test_embedded_page_may_be_framed_only_by_allowed_sites(http, deployment):
    response = http.get("/embed")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["frame-ancestors"] == f"'self' {deployment.allowed_site}"
    assert directives["default-src"] == "'none'" and directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    # The full chat page and everything else: only the same sites may frame them.
    assert http.get("/").headers["content-security-policy"] == f"frame-ancestors 'self' {deployment.allowed_site}"


@on_the_server
def test_clinic_settings_reach_the_embedded_page_as_inert_json(http):
    page = http.get("/embed").text
    config = json.loads(re.search(r'<script id="qa-config" type="application/json">(.*?)</script>', page).group(1))
    assert config["clinicName"] == "Acupuncture & Neuropathy Q&A"
    assert config["disclaimer"].startswith(DISCLAIMER_START)
    assert config["examples"][0] == "Will the needles hurt?"
    assert "<title>Acupuncture &amp; Neuropathy Q&amp;A</title>" in page


@on_the_server
def test_cors_allows_only_the_allowed_origin(http, deployment):
    body = {"question": "Will the needles hurt?"}
    allowed = http.post("/api/ask", json=body, headers={"Origin": deployment.allowed_site})
    assert allowed.status_code == 200 and allowed.json()["passages"]
    assert allowed.headers["access-control-allow-origin"] == deployment.allowed_site
    assert "origin" in allowed.headers["vary"].lower()
    assert "access-control-allow-credentials" not in allowed.headers
    port = urlsplit(deployment.allowed_site).port
    for origin in (deployment.refused_site, f"http://localhost:{port}", f"https://127.0.0.1:{port}", "null",
                   f"{deployment.allowed_site}.evil.test"):
        refused = http.post("/api/ask", json={"question": ""}, headers={"Origin": origin})
        assert "access-control-allow-origin" not in refused.headers, origin


@on_the_server
def test_the_widgets_check_answers_allowed_sites_only(http, deployment):
    allowed = http.get("/widget.json", headers={"Origin": deployment.allowed_site})
    assert allowed.status_code == 200 and allowed.json() == {"title": "Acupuncture & Neuropathy Q&A"}
    assert allowed.headers["access-control-allow-origin"] == deployment.allowed_site
    assert "access-control-allow-credentials" not in allowed.headers and "set-cookie" not in allowed.headers
    assert allowed.headers["cache-control"] == "no-store" and "origin" in allowed.headers["vary"].lower()
    for origin in (deployment.refused_site, "null", f"{deployment.allowed_site}.evil.test"):
        refused = http.get("/widget.json", headers={"Origin": origin})
        assert refused.status_code == 403, origin
        assert not [h for h in refused.headers if h.startswith("access-control-")], origin
        assert refused.json()["error"] == (f'The chat may not be shown on {origin}: add "{origin}" to [widget] allowed_origins '
                                           "in the chat server's clinic.toml and restart the server.")
    assert http.get("/widget.json").status_code == 200  # no Origin: not a page on another site
    assert http.get("/widget.json", headers={"Origin": deployment.app}).status_code == 200  # the server's own pages
    assert http.post("/widget.json", headers={"Origin": deployment.allowed_site}).status_code == 404


@on_the_server
def test_cors_preflight(http, deployment):
    def preflight(origin):
        return http.options("/api/ask", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "content-type"})

    allowed = preflight(deployment.allowed_site)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == deployment.allowed_site
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "content-type" in allowed.headers["access-control-allow-headers"].lower()
    refused = preflight(deployment.refused_site)
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers


@on_the_server
def test_too_many_questions_get_429_with_retry_after(deployment):
    def client(address):
        return httpx.Client(base_url=deployment.app, timeout=60,
                            headers={"X-Forwarded-For": address, "Origin": deployment.allowed_site})

    with client("203.0.113.50") as busy, client("203.0.113.51") as other:
        # Refused bad input does not count: only answers do.
        assert {busy.post("/api/ask", content=b"not json", headers={"Content-Type": "application/json"}).status_code
                for _ in range(RATE_LIMIT + 2)} == {400}
        statuses = [busy.post("/api/ask", json={"question": "Will the needles hurt?"}).status_code for _ in range(RATE_LIMIT)]
        assert statuses == [200] * RATE_LIMIT
        refused = busy.post("/api/ask", json={"question": "Will the needles hurt?"})
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit() and 1 <= int(refused.headers["retry-after"]) <= 60
        assert "Too many questions" in refused.json()["error"]
        # A page on the allowed site can read the refusal and when to try again.
        assert refused.headers["access-control-allow-origin"] == deployment.allowed_site
        assert "retry-after" in refused.headers["access-control-expose-headers"].lower()
        assert other.post("/api/ask", json={"question": "Will the needles hurt?"}).status_code == 200


@on_the_server
def test_no_cookies_anywhere(http, deployment):
    # (/config, Gradio's copy of the page's settings, is closed: issue 19, tests/test_security_server.py.)
    responses = [http.get(path) for path in ("/", "/widget.js", "/embed", "/embed.js", "/embed.css", "/healthz")]
    responses.append(http.post("/api/ask", json={"question": "Will the needles hurt?"}, headers={"Origin": deployment.allowed_site}))
    responses.append(http.options("/api/ask", headers={"Origin": deployment.allowed_site, "Access-Control-Request-Method": "POST"}))
    assert [r.status_code for r in responses] == [200] * len(responses)
    assert not [r.url for r in responses if "set-cookie" in r.headers]


# --- pure parts of the server (no server) ---------------------------------------------------------------

def test_guard_examples_in_docstrings():
    failures, tried = doctest.testmod(guard)
    assert tried >= 9 and failures == 0


def test_origin_patterns():
    allowed = OriginAllowList(["http://localhost:*", "HTTPS://Clinic.Example.org/", "https://*.example.net"])
    assert allowed.patterns == ("http://localhost:*", "https://clinic.example.org", "https://*.example.net")
    assert allowed.allows("http://localhost:8000") and allowed.allows("https://clinic.example.org")
    assert allowed.allows("https://a.b.example.net")
    assert not allowed.allows("https://clinic.example.org:8443") and not allowed.allows("https://example.net")
    assert not allowed.allows("http://clinic.example.org") and not allowed.allows("https://evilexample.net")
    nothing = OriginAllowList([])
    assert not nothing.allows("http://localhost:8000") and nothing.frame_ancestors() == "'self'"
    for bad in ("*", "localhost:8000", "https://example.org/chat", "ftp://example.org", "https://exa mple.org",
                "http://localhost:99999", "https://example.org:*8", "javascript:alert(1)"):
        with pytest.raises(ConfigError, match="allowed_origins"):
            OriginAllowList([bad])


def test_rate_limiter_counts_concurrent_requests_and_zero_turns_it_off():
    limiter = RateLimiter(5)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        waits = list(pool.map(lambda _: limiter.acquire("192.0.2.1")[0], range(40)))
    assert waits.count(0) == 5 and all(1 <= w <= 60 for w in waits if w)
    assert limiter.acquire("192.0.2.2")[0] == 0  # another client has its own count
    off = RateLimiter(0)
    assert {off.acquire("192.0.2.1")[0] for _ in range(1000)} == {0}


# --- in the browser -------------------------------------------------------------------------------------

browser_only = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: run `bash tests/setup.sh`")


@pytest.fixture
def visit(browser):
    """Opens pages in fresh browser contexts; afterwards, checks no page contacted another host or got a cookie."""
    contexts, requests = [], []

    def open_page(url: str, *, width: int = 1280, height: int = 800, block_widget: bool = False, console: list | None = None):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        if console is not None:  # from the start: the widget speaks while the page loads
            page.on("console", lambda message: console.append(message.text))
        page.set_default_timeout(ANSWER_TIMEOUT)
        if block_widget:
            page.route("**/widget.js", lambda route: route.abort())
        page.goto(url, wait_until="load")
        return page

    yield open_page
    cookies = [cookie for context in contexts for cookie in context.cookies()]
    for context in contexts:
        context.close()
    outside = [url for url in requests if urlsplit(url).scheme not in ("data", "blob")
               and urlsplit(url).hostname not in LOCAL_HOSTS]
    assert not outside, f"the page contacted other hosts: {outside}"
    assert not cookies, f"cookies were set: {cookies}"


def wait_for_console(page, console: list[str], start: str, timeout_ms: int = 15_000) -> str:
    """The first console message starting with `start`, waiting for it as long as `timeout_ms`."""
    for _ in range(timeout_ms // 100):
        found = [text for text in console if text.startswith(start)]
        if found:
            return found[0]
        page.wait_for_timeout(100)
    raise AssertionError(f"no console message starting {start!r}: {console}")


def ask(page, question: str):
    """Type a question into the open panel and return its reply once it has arrived."""
    reply = ask_in_panel(page.frame_locator(FRAME), question)
    assert "qa-answer" in reply.get_attribute("class"), reply.inner_text()
    return reply


def background(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).backgroundColor")


@browser_only
def test_bubble_opens_a_chat_that_quotes_and_cites_its_sources(deployment, visit, tmp_path):
    from playwright.sync_api import expect

    page = visit(deployment.allowed_site + "/")
    sent = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data)) if r.url.endswith("/api/ask") else None)
    bubble = page.locator(BUBBLE)
    # The tooltip says what the panel's title will say: the clinic's name, from the server's answer.
    expect(bubble).to_have_attribute("aria-label", "Open chat: Acupuncture & Neuropathy Q&A")
    expect(bubble).to_have_attribute("title", "Acupuncture & Neuropathy Q&A")
    expect(bubble).to_have_attribute("aria-expanded", "false")
    expect(page.locator(PANEL)).to_be_hidden()
    assert page.locator("iframe").count() == 0  # nothing loads until the visitor asks for the chat

    bubble.click()
    frame = page.frame_locator(FRAME)
    expect(frame.locator("#qa-question")).to_be_focused()
    expect(bubble).to_have_attribute("aria-expanded", "true")
    expect(page.locator(PANEL)).to_have_attribute("role", "dialog")
    expect(frame.locator("#qa-title")).to_have_text("Acupuncture & Neuropathy Q&A")  # clinic.toml's name
    expect(page.locator(PANEL)).to_have_attribute("aria-label", "Acupuncture & Neuropathy Q&A")
    expect(frame.get_by_role("button", name="Will the needles hurt?")).to_be_visible()

    answer = ask(page, "Will the needles hurt?")
    quotes = answer.locator("blockquote")
    assert quotes.count() >= 1 and answer.locator("blockquote strong").count() >= 1  # the key sentence in bold
    assert quotes.first.inner_text().rstrip().endswith("[1]")
    sources = answer.locator(".qa-sources li")
    assert sources.count() == quotes.count() and "section “" in sources.first.inner_text()
    assert answer.locator(".qa-disclaimer").inner_text().startswith(DISCLAIMER_START)
    page.wait_for_timeout(300)  # let the scroll settle for the picture
    page.screenshot(path=tmp_path / "widget-desktop.png")

    emergency = ask(page, "I have crushing chest pain")
    first = emergency.locator("p").first
    assert "qa-alert" in first.get_attribute("class") and "emergency" in first.inner_text().lower()
    assert background(first) not in ("rgba(0, 0, 0, 0)", "transparent")
    assert DISCLAIMER_START in emergency.inner_text()
    # The conversation goes with the next question, from the panel's memory only.
    assert sent[0] == {"question": "Will the needles hurt?", "history": []}
    assert sent[1]["history"][0] == {"role": "user", "content": "Will the needles hurt?"}
    assert [m["role"] for m in sent[1]["history"]] == ["user", "assistant"]
    storage = page.frame_locator(FRAME).locator("body").evaluate(
        "() => localStorage.length + sessionStorage.length + document.cookie.length")
    assert storage == 0 and page.evaluate("document.cookie") == ""


@browser_only
def test_keyboard_reaches_the_button_and_escape_returns_focus(deployment, visit):
    from playwright.sync_api import expect

    page = visit(deployment.allowed_site + "/")
    bubble = page.locator(BUBBLE)
    expect(bubble).to_be_visible()  # it appears once the server has said this site may show the chat
    page.locator("a[href^='mailto:']").focus()  # the page's last link; the button comes next
    page.keyboard.press("Tab")
    expect(bubble).to_be_focused()
    assert bubble.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"  # focus is visible

    page.keyboard.press("Enter")
    question = page.frame_locator(FRAME).locator("#qa-question")
    expect(question).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.frame_locator(FRAME).get_by_role("button", name="Ask")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(bubble).to_be_focused()
    expect(bubble).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Enter")
    expect(question).to_be_focused()
    close = page.frame_locator(FRAME).get_by_role("button", name="Close chat")
    close.focus()
    assert close.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(bubble).to_be_focused()


@browser_only
def test_follow_up_questions_are_a_named_group_of_buttons_the_keyboard_reaches(deployment, visit):
    from playwright.sync_api import expect

    page = visit(deployment.allowed_site + "/")
    page.locator(BUBBLE).click()
    frame = page.frame_locator(FRAME)
    answer = ask(page, "Will the needles hurt?")
    turn = frame.locator(".qa-turn").last
    group = turn.get_by_role("group", name="You could also ask:")
    expect(group).to_be_visible()
    chips = group.get_by_role("button")
    offered = chips.all_inner_texts()
    assert 1 <= len(offered) <= 3 and "Will the needles hurt?" not in offered
    assert answer.locator(".qa-disclaimer").count() == 1  # the answer keeps its disclaimer; the chips come after it
    # The keyboard reaches the chips, with a visible focus; Enter asks one, as if typed.
    chips.first.focus()
    expect(chips.first).to_be_focused()
    assert chips.first.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    before = frame.locator(".qa-turn").count()
    page.keyboard.press("Enter")
    reply = frame.locator(".qa-turn").nth(before)
    expect(reply.locator(".qa-user")).to_contain_text(offered[0])
    reply.locator(".qa-answer").wait_for()
    expect(frame.locator("#qa-question")).to_be_focused()  # back to typing
    # No chips under a safety message: nothing competes with getting help.
    ask(page, "I have crushing chest pain")
    assert frame.locator(".qa-turn").last.locator(".qa-suggestions").count() == 0


@browser_only
def test_a_site_not_allowed_gets_no_button_and_the_console_names_the_setting(deployment, visit):
    from playwright.sync_api import expect

    console = []
    refused = visit(deployment.refused_site + "/", console=console)
    warning = wait_for_console(refused, console, "Chat widget: not shown on this page")
    assert f'add "{deployment.refused_site}" to [widget] allowed_origins' in warning, warning
    assert refused.locator("[data-qa-chat-widget]").count() == 0  # no button that would fail after a click
    assert not [f for f in refused.frames if f.url.startswith(deployment.app)]

    # Should the check pass and the frame still be refused (a proxy's own policy), the panel says so.
    refused.route(deployment.app + "/widget.json", lambda route: route.fulfill(
        status=200, json={"title": "Riverside"}, headers={"Access-Control-Allow-Origin": deployment.refused_site}))
    refused.evaluate("src => document.body.appendChild(Object.assign(document.createElement('script'), {src}))",
                     deployment.app + "/widget.js")
    expect(refused.locator(BUBBLE)).to_have_attribute("title", "Riverside")
    refused.locator(BUBBLE).click()
    expect(refused.locator(PANEL)).to_contain_text("not available", timeout=15_000)
    assert refused.locator(FRAME).count() == 0
    assert any("frame-ancestors" in text for text in console), console
    expect(refused.locator(PANEL).get_by_role("button", name="Close")).to_be_focused()
    refused.keyboard.press("Escape")
    expect(refused.locator(BUBBLE)).to_be_focused()

    # Nor can a script there call the API: CORS blocks it. The allowed site can.
    call = ("url => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},"
            " body: JSON.stringify({question: 'Will the needles hurt?'})})"
            " .then(r => r.json()).then(a => 'answered: ' + a.passages.length, e => 'blocked: ' + e.name)")
    assert refused.evaluate(call, deployment.app + "/api/ask") == "blocked: TypeError"
    allowed = visit(deployment.allowed_site + "/")
    assert allowed.evaluate(call, deployment.app + "/api/ask").startswith("answered: ")


HOST_ELEMENTS = ["html", "body", "header.site", ".logo", "nav a", ".hero h1", ".hero p.lead", "a.button", "#call-us",
                 ".card", ".card h3", "table.hours td", "footer.site p"]
COMPUTED_STYLES = """selectors => Object.fromEntries(selectors.map(selector => {
  const element = document.querySelector(selector), style = getComputedStyle(element), box = element.getBoundingClientRect();
  const values = Object.fromEntries(Array.from(style, name => [name, style.getPropertyValue(name)]));
  values["(box)"] = [box.x, box.y, box.width, box.height].join(" ");
  return [selector, values];
}))"""


@browser_only
def test_the_host_page_and_the_widget_keep_their_own_styles(deployment, visit):
    from playwright.sync_api import expect

    page = visit(deployment.allowed_site + "/", block_widget=True)  # the page as it is without the chat
    before = page.evaluate(COMPUTED_STYLES, HOST_ELEMENTS)
    sheets = page.evaluate("document.styleSheets.length")
    page.unroute("**/widget.js")
    page.evaluate("src => document.body.appendChild(Object.assign(document.createElement('script'), {src}))",
                  deployment.app + "/widget.js")
    bubble = page.locator(BUBBLE)
    bubble.click()
    expect(page.frame_locator(FRAME).locator("#qa-question")).to_be_focused()

    after = page.evaluate(COMPUTED_STYLES, HOST_ELEMENTS)
    changed = {selector: [name for name in before[selector] if before[selector][name] != after[selector][name]]
               for selector in HOST_ELEMENTS}
    assert not any(changed.values()), changed
    assert page.evaluate("document.styleSheets.length + document.adoptedStyleSheets.length") == sheets
    # The page's broad rules (button { padding; border; font }, body { font-family: Georgia }) miss the widget.
    box = bubble.bounding_box()
    assert (round(box["width"]), round(box["height"])) == (60, 60)
    style = bubble.evaluate("e => { const s = getComputedStyle(e); return [s.fontFamily, s.borderTopWidth, s.paddingLeft]; }")
    assert "Georgia" not in style[0] and style[1:] == ["0px", "0px"]


@browser_only
def test_options_from_data_attributes(deployment, visit):
    from playwright.sync_api import expect

    page = visit(deployment.allowed_site + "/options.html")
    frame = page.frame_locator(FRAME)
    expect(page.locator(PANEL)).to_be_visible()  # data-open
    expect(frame.locator("#qa-title")).to_have_text(OPTIONS["data-title"])
    expect(frame.locator("#qa-greeting")).to_have_text(OPTIONS["data-greeting"])
    expect(page.locator(PANEL)).to_have_attribute("aria-label", OPTIONS["data-title"])
    assert page.evaluate("document.activeElement === document.body")  # opening on load takes no focus
    teal = "rgb(15, 118, 110)"
    assert background(page.locator(BUBBLE)) == teal and background(frame.locator(".qa-bar")) == teal
    assert page.locator(BUBBLE).bounding_box()["x"] < 40 and page.locator(PANEL).bounding_box()["x"] < 40  # left


@browser_only
def test_phone_screen(deployment, visit, tmp_path):
    from playwright.sync_api import expect

    page = visit(deployment.allowed_site + "/", width=375, height=740)
    bubble = page.locator(BUBBLE)
    box = bubble.bounding_box()
    assert box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 740
    bubble.click()
    expect(page.frame_locator(FRAME).locator("#qa-question")).to_be_focused()
    page.locator(PANEL).evaluate("e => Promise.all(e.getAnimations().map(a => a.finished))")  # it slides in
    assert {k: round(v) for k, v in page.locator(PANEL).bounding_box().items()} == {"x": 0, "y": 0, "width": 375, "height": 740}
    ask(page, "Will the needles hurt?")
    frame = page.frame_locator(FRAME)
    overflow = frame.locator("body").evaluate(
        "() => [document.documentElement, document.getElementById('qa-log')].some(e => e.scrollWidth > e.clientWidth)")
    assert not overflow, "the panel scrolls sideways at 375 px"
    send = frame.get_by_role("button", name="Ask").bounding_box()
    assert send["x"] + send["width"] <= 375 and send["height"] >= 40  # a thumb-sized target, on screen
    page.wait_for_timeout(300)  # let the scroll settle for the picture
    page.screenshot(path=tmp_path / "widget-375.png")
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        page.screenshot(path=REPO / "docs" / "widget.png")
    page.keyboard.press("Escape")
    expect(bubble).to_be_focused()


EVIL = '<img src=x onerror="window.top.pwned=1">'


@browser_only
def test_nothing_in_a_question_or_a_source_becomes_markup(deployment, visit):
    page = visit(deployment.allowed_site + "/")
    page.locator(BUBBLE).click()
    frame = page.frame_locator(FRAME)
    real = ask(page, f"Will the needles hurt? {EVIL}")  # the real server, with markup in the question
    assert frame.locator(".qa-user").last.inner_text().endswith(EVIL)
    assert real.inner_text()

    # A hostile answer object, as if a source and a setting carried markup.
    hostile = {
        "question": EVIL,
        "answer_markdown": f"{EVIL} <script>window.top.pwned=8</script> [never shown](https://answer-markdown.example.org)",
        "notes": [f"A note {EVIL} **not bold** [not a link](https://note.example.org)"],
        "message": (f"**Look: {EVIL}** <script>window.top.pwned=2</script> [a link](javascript:window.top.pwned=3) "
                    "\\*not bold\\* _<i>italic</i>_ [the clinic](https://clinic.example.org/book)"),
        "passages": [{
            "text": f"Before {EVIL} <b>bold</b> after.", "highlight": "<b>bold</b>", "source_id": "x",
            "title": "<script>window.top.pwned=4</script>Title", "section": '"><svg onload="window.top.pwned=5">',
            "url": "javascript:window.top.pwned=6", "score": 1.0,
            "also_in": [{"source_id": "y", "title": "<i>Other</i>", "section": "s", "url": "data:text/html,<script>x</script>"}],
        }],
        "abstained": False,
        "safety": {"level": 'emergency" onclick="window.top.pwned=7', "message": f"**Call 911.** {EVIL}"},
        "disclaimer": f"Disclaimer {EVIL}",
    }
    page.route(deployment.app + "/api/ask", lambda route: route.fulfill(status=200, content_type="application/json",
                                                                         body=json.dumps(hostile)))
    answer = ask(page, EVIL)
    log = frame.locator("#qa-log")
    assert log.locator("img, script, svg, b, i, iframe, [onerror], [onload], [onclick]").count() == 0
    text = answer.inner_text()
    for literal in (EVIL, "<script>window.top.pwned=2</script>", "*not bold*", "<b>bold</b>", "<i>Other</i>",
                    "**not bold** [not a link](https://note.example.org)"):  # notes are plain text
        assert literal in text, literal
    assert answer.locator("p").first.inner_text().startswith("Call 911.")  # safety first
    assert answer.locator("blockquote strong").inner_text() == "<b>bold</b>"
    assert answer.locator(".qa-message em").inner_text() == "<i>italic</i>"
    assert "never shown" not in text and "pwned=8" not in text  # answer_markdown is not shown at all
    links = log.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert links == ["https://clinic.example.org/book"]
    page.wait_for_timeout(200)
    assert page.evaluate("window.pwned") is None
    assert frame.locator("body").evaluate("() => window.pwned") is None


# What each child of an answer is: tag, its classes after qa-, and its text (the hidden "Answer: " left out).
LAYOUT = """answer => Array.from(answer.children).filter(e => !e.classList.contains("qa-visually-hidden")).map(e => [
  e.tagName.toLowerCase(), Array.from(e.classList).filter(c => c !== "qa-lead").join(" "), e.innerText.trim()])"""


def served(page, app: str, answers: list[dict]):
    """The next questions get `answers`, one each, as if from the server."""
    queue = list(answers)
    page.route(app + "/api/ask", lambda route: route.fulfill(status=200, content_type="application/json",
                                                             body=json.dumps(queue.pop(0))))


@browser_only
def test_the_answer_is_drawn_from_its_fields_not_from_answer_markdown(deployment, visit):
    page = visit(deployment.allowed_site + "/")
    page.locator(BUBBLE).click()

    # The real server, whatever its wording: a note (another language) first, then the message, the disclaimer.
    with page.expect_response(lambda response: response.url.endswith("/api/ask")) as response:
        spanish = ask(page, "¿Cuánto cuesta una sesión?")
    data = response.value.json()
    assert data["notes"] and data["message"] and data["abstained"] and not data["passages"]
    layout = spanish.evaluate(LAYOUT)
    message = [p for p in re.split(r"\n\s*\n", data["message"]) if p.strip()]
    assert [kind for _tag, kind, _text in layout] == (
        ["qa-note"] * len(data["notes"]) + ["qa-message qa-abstention"] + ["qa-message"] * (len(message) - 1) + ["qa-disclaimer"])
    assert [text for _tag, _kind, text in layout[:len(data["notes"])]] == data["notes"]  # plain text, as sent
    assert spanish.locator(".qa-note em").count() == len(data["notes"])  # in italic, as on the chat page
    assert layout[len(data["notes"])][2].split()[:3] == html.unescape(message[0]).split()[:3]
    assert layout[-1][2] == data["disclaimer"]
    assert background(spanish.locator(".qa-abstention")) != background(spanish.locator(".qa-note").first)

    # Python rewords every phrase of answer_markdown: what the widget shows does not change.
    disclaimer = "Educational information only."
    passage = {"text": "Most patients feel little to no pain. Thin needles are used.", "highlight": "Most patients feel little to no pain.",
               "source_id": "feet", "title": "About Needles", "section": "Does it hurt?", "url": "https://example.org/needles",
               "score": 0.9, "also_in": []}
    reworded = {
        "question": "Will the needles hurt?", "abstained": False, "safety": None, "disclaimer": disclaimer,
        "notes": [], "message": None, "passages": [passage],
        "answer_markdown": ("Look what I found for you:\n\n> _Most patients_ feel little to no pain. **[1]**\n\n"
                            "**Where this comes from**\n\n1. *About Needles*\n\n* * *\n\n<span>Educational information only.</span>"),
    }
    safety = {
        "question": "I have crushing chest pain", "abstained": True, "passages": [], "disclaimer": disclaimer,
        "safety": {"level": "emergency", "message": "**Call 911 now.** Do not wait."},
        "notes": ["Your message was long, so only its first 1,000 characters were used."],
        "message": "Please get help first. You can also [Book a visit](https://clinic.example.org/book).",
        "answer_markdown": "Any text at all: Python may word this however it likes.",
    }
    small_talk = {
        "question": "Hello", "abstained": False, "safety": None, "disclaimer": disclaimer, "passages": [], "notes": [],
        "message": "Hello! Ask me **anything** about _acupuncture_, for example \\“Will the needles hurt?\\”\n\nI quote articles.",
        "answer_markdown": "",
    }
    served(page, deployment.app, [reworded, safety, small_talk])

    answer = ask(page, "Will the needles hurt?")
    assert answer.evaluate(LAYOUT) == [
        ["p", "qa-intro", "Here is what the articles say:"],
        ["blockquote", "qa-quote", "Most patients feel little to no pain. Thin needles are used. [1]"],
        ["div", "qa-sources", "Sources\n\nAbout Needles, section “Does it hurt?”"],
        ["p", "qa-disclaimer", disclaimer],
    ]
    assert answer.locator("blockquote strong").inner_text() == "Most patients feel little to no pain."

    answer = ask(page, "I have crushing chest pain")
    assert "qa-safety-emergency" in answer.get_attribute("class")
    assert answer.evaluate(LAYOUT) == [
        ["p", "qa-alert", "Call 911 now. Do not wait."],
        ["p", "qa-note", "Your message was long, so only its first 1,000 characters were used."],
        ["p", "qa-message", "Please get help first. You can also Book a visit."],
        ["p", "qa-disclaimer", disclaimer],
    ]
    assert answer.locator(".qa-alert strong").inner_text() == "Call 911 now."
    assert answer.locator(".qa-message a").get_attribute("href") == "https://clinic.example.org/book"

    answer = ask(page, "Hello")
    assert answer.evaluate(LAYOUT) == [
        ["p", "qa-message", "Hello! Ask me anything about acupuncture, for example “Will the needles hurt?”"],
        ["p", "qa-message", "I quote articles."],
        ["p", "qa-disclaimer", disclaimer],
    ]
    assert answer.locator("strong").inner_text() == "anything" and answer.locator("em").inner_text() == "acupuncture"
