"""Accessibility, audited: axe-core's WCAG 2.1 A and AA rules in headless Chromium, on the chat page of a real
`python app.py` (empty, then with answers of every kind shown) and on the open widget on the example clinic
page, each at 1280 px and 375 px wide. A violation of impact "serious" or "critical" fails the test, listed
by rule, impact and target.

axe-core comes from the axe-playwright-python wheel (its axe.min.js, evaluated in the page): nothing is
fetched, and every request the pages make must stay on this machine. axe checks the colour contrast only of
text it can see, so the audit also scrolls each scrolling box through its whole height and checks the
contrast at every stop. Only the clinic page's widget is audited there (its shadow root and the chat in its
frame): the rest of that page stands for a clinic's own site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.conftest import CHROMIUM, LOCAL_HOSTS, ask_in_panel, clinic_file, clinic_page, running_server, static_site

pytestmark = [pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: run `bash tests/setup.sh`"),
              pytest.mark.server, pytest.mark.browser]

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")
WIDTHS = {"desktop": (1280, 900), "phone": (375, 740)}
ANSWER_TIMEOUT = 60_000  # ms; the first answer warms the model up
BUBBLE = "[data-qa-chat-widget] .bubble"
FRAME = "[data-qa-chat-widget] iframe"
LIGHT_ACCENT = "#e67e22"  # an orange: white text on it, and it as link text on white, are 2.8:1
CONTACT_URL = "https://clinic.example.org/book"  # a link (never followed) in greetings, abstentions and safety messages

# One of each kind of answer: passages and sources, the three safety levels, an abstention, small talk, and a
# note (another language) before an abstention. `kind` is the class each one's answer box must carry.
QUESTIONS = [
    ("Will the needles hurt?", None),
    ("I have crushing chest pain", "qa-safety-emergency"),
    ("I have been thinking about ending my life", "qa-safety-crisis"),
    ("My foot has a wound that is not healing", "qa-safety-urgent"),
    ("Does insurance cover acupuncture?", "qa-abstained"),
    ("¿Cuánto cuesta una sesión?", "qa-abstained"),
    ("Hello", None),
]

# Violations in Gradio's own markup, which neither our CSS nor the page's options can change: (rule, selector
# of the element) -> why. Only that rule on that element is left out; every other rule still runs there.
GRADIO_MARKUP = {
    # gradio 6.31.0 renders ChatInterface's examples as <div class="examples" role="list"> holding <button>s
    # with no role="listitem" (its Index-*.js template); the examples option has no setting for that markup.
    ("aria-required-children", "#qa-chat .examples"): "Gradio's examples: a role=list whose children are buttons",
}

# Every box that scrolls (and the page itself), with the stops that show all of it, a screenful apart.
SCROLL_STOPS = """() => {
  const boxes = [document.scrollingElement, ...Array.from(document.querySelectorAll("*")).filter(e => {
    const overflow = getComputedStyle(e).overflowY;
    return (overflow === "auto" || overflow === "scroll") && e.scrollHeight > e.clientHeight + 1;
  })];
  return boxes.map((box, i) => {
    box.setAttribute("data-axe-scroll", i);
    const last = box.scrollHeight - box.clientHeight, step = Math.max(100, box.clientHeight - 40), stops = [];
    for (let top = 0; top < last; top += step) stops.push(top);
    return stops.concat([last]);
  });
}"""
SCROLL_TO = """([i, top]) => {
  const box = document.querySelector(`[data-axe-scroll="${i}"]`);
  if (box !== document.scrollingElement) box.scrollIntoView({block: "nearest", behavior: "instant"});
  box.scrollTo({top, behavior: "instant"});
}"""
# axe does not check placeholder text: its contrast with the box's own (opaque) background, by WCAG 2.1's formula.
PLACEHOLDER_CONTRAST = """box => {
  const rgba = colour => colour.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => [r, g, b].map(c => c / 255).map(c => c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4)
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const text = rgba(getComputedStyle(box, "::placeholder").color), back = rgba(getComputedStyle(box).backgroundColor);
  if (back.length > 3 && back[3] < 1) return null;
  const [a, b] = [luminance(text), luminance(back)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""
MATCHES = """([target, selector]) => {
  try { const e = document.querySelector(target); return !!e && e.matches(selector); } catch (error) { return false; }
}"""  # a target inside a shadow root or a frame is no selector of this document: never one of Gradio's


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    target: str
    summary: str

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}) at {self.target}: {self.summary}"


def axe_violations(frame, *, context: dict | None = None, rules: list[str] | None = None) -> list[Violation]:
    """axe-core's WCAG 2.1 A/AA violations (or those of `rules`) in `frame` (a Playwright page or frame), as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    only = {"type": "rule", "values": rules} if rules else {"type": "tag", "values": WCAG_21_AA}
    results = Axe().run(frame, context=context, options={"runOnly": only, "resultTypes": ["violations"]})
    found = []
    for violation in results.response["violations"]:
        for node in violation["nodes"]:
            target = " >>> ".join(t if isinstance(t, str) else " >>> ".join(t) for t in node["target"])
            messages = [check["message"] for check in node.get("any", []) + node.get("all", []) + node.get("none", [])]
            found.append(Violation(violation["id"], node.get("impact") or violation["impact"], target,
                                   (messages[0] if messages else violation["help"])[:300]))
    return found


def audit(frame, *, context: dict | None = None) -> list[Violation]:
    """Every WCAG 2.1 A/AA violation in `frame`, the colour contrast checked at every scroll stop; Gradio's
    known ones (GRADIO_MARKUP) left out."""
    found = axe_violations(frame, context=context)
    for box, stops in enumerate(frame.evaluate(SCROLL_STOPS)):
        for top in stops:
            frame.evaluate(SCROLL_TO, [box, top])
            found += axe_violations(frame, context=context, rules=["color-contrast"])
    unique = list(dict.fromkeys(found))
    return [v for v in unique
            if not any(v.rule == rule and frame.evaluate(MATCHES, [v.target, selector]) for rule, selector in GRADIO_MARKUP)]


def assert_placeholder_reads(box, where: str) -> None:
    ratio = box.evaluate(PLACEHOLDER_CONTRAST)
    assert ratio is not None and ratio >= 4.5, f"the placeholder of {where} has a contrast of {ratio} (4.5:1 needed)"


def assert_accessible(violations: list[Violation], where: str) -> None:
    blocking = [v for v in violations if v.impact in BLOCKING]
    assert not blocking, f"{len(blocking)} serious or critical WCAG 2.1 AA violations on {where}:\n" + \
        "\n".join(f"  - {v}" for v in blocking)


# --- the servers and the browser pages -------------------------------------------------------------------

@dataclass(frozen=True)
class Servers:
    app: str  # the chat server
    site: str  # a clinic site showing the widget (index.html, accent.html with LIGHT_ACCENT)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    site, directory = tmp_path_factory.mktemp("a11y-site"), tmp_path_factory.mktemp("a11y-server")
    # The shipped allowed_origins (http://127.0.0.1:*) let the site frame the chat; no rate limit for the audit;
    # a contact link, so that abstentions, safety messages and the greeting show links to audit.
    config = clinic_file(directory, rate_limit_per_minute=0)
    text, found = re.subn(r'(?m)^contact_url = .*$', f'contact_url = "{CONTACT_URL}"', config.read_text(encoding="utf-8"))
    assert found == 1, "clinic.toml has no single 'contact_url = ...' line"
    config.write_text(text, encoding="utf-8")
    with running_server(directory, config=config) as app, static_site(site) as origin:
        (site / "index.html").write_text(clinic_page(app), encoding="utf-8")
        (site / "accent.html").write_text(clinic_page(app, {"data-accent": LIGHT_ACCENT}), encoding="utf-8")
        yield Servers(app, origin)


@pytest.fixture
def open_page(browser):
    """Opens a page in a fresh context; afterwards, checks that no request left this machine (axe included)."""
    contexts, requests = [], []

    def open_(url: str, width: int, height: int):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.set_default_timeout(ANSWER_TIMEOUT)
        page.goto(url, wait_until="load")  # not "networkidle": Gradio keeps a connection open
        return page

    yield open_
    for context in contexts:
        context.close()
    assert requests, "no requests were recorded"
    outside = [url for url in requests if urlsplit(url).scheme not in ("data", "blob")
               and urlsplit(url).hostname not in LOCAL_HOSTS]
    assert not outside, f"the page contacted other hosts: {outside}"


def ask_chat(page, question: str):
    answers = page.locator("#qa-chat .qa-answer")
    before = answers.count()
    page.locator("#qa-input textarea").fill(question)
    page.locator("#qa-input textarea").press("Enter")
    answer = answers.nth(before)
    answer.wait_for()
    return answer


ask_widget = ask_in_panel


def check_kind(answer, kind: str | None, question: str) -> None:
    classes = answer.get_attribute("class").split()
    assert "qa-answer" in classes, f"{question!r} got no answer: {answer.inner_text()}"
    assert kind is None or kind in classes, f"{question!r} should be {kind}, got {classes}"


# --- the audits --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", WIDTHS)
def test_chat_page(servers, open_page, size, tmp_path):
    page = open_page(servers.app + "/", *WIDTHS[size])
    page.locator("#qa-input textarea").wait_for()
    page.locator("#qa-chat .examples").wait_for()
    assert_accessible(audit(page), f"the empty chat page at {WIDTHS[size][0]} px")
    assert_placeholder_reads(page.locator("#qa-input textarea"), "the chat's question box")

    for question, kind in QUESTIONS:
        check_kind(ask_chat(page, question), kind, question)
    page.wait_for_timeout(300)  # the chat scrolls to the newest answer
    page.screenshot(path=tmp_path / f"chat-{size}.png", full_page=True)
    assert_accessible(audit(page), f"the chat page with answers at {WIDTHS[size][0]} px")


@pytest.mark.parametrize("size", WIDTHS)
def test_widget(servers, open_page, size, tmp_path):
    page = open_page(servers.site + "/", *WIDTHS[size])
    widget = {"include": [["[data-qa-chat-widget]"]]}
    assert_accessible(audit(page, context=widget), f"the closed widget at {WIDTHS[size][0]} px")

    page.locator(BUBBLE).click()
    frame = page.frame_locator(FRAME)
    frame.locator("#qa-question").wait_for()
    chat = next(f for f in page.frames if f.url.startswith(servers.app + "/embed"))
    assert_accessible(audit(page, context=widget) + audit(chat), f"the open widget at {WIDTHS[size][0]} px")
    assert_placeholder_reads(frame.locator("#qa-question"), "the widget's question box")

    for question, kind in QUESTIONS:
        check_kind(ask_widget(frame, question), kind, question)
    page.wait_for_timeout(300)
    page.screenshot(path=tmp_path / f"widget-{size}.png")
    assert_accessible(audit(chat), f"the widget with answers at {WIDTHS[size][0]} px")


def test_widget_with_a_light_accent(servers, open_page):
    """data-accent is the clinic's choice: text on it, and links in it, must still read."""
    page = open_page(servers.site + "/accent.html", *WIDTHS["desktop"])
    page.locator(BUBBLE).click()
    frame = page.frame_locator(FRAME)
    frame.locator("#qa-question").wait_for()
    chat = next(f for f in page.frames if f.url.startswith(servers.app + "/embed"))
    for question, kind in (QUESTIONS[0], QUESTIONS[3], QUESTIONS[4]):  # passages, urgent, abstention
        check_kind(ask_widget(frame, question), kind, question)
    assert frame.locator(".qa-answer a").count() >= 1  # the contact link: in the accent, unless it is too light
    assert_accessible(audit(chat), f"the widget with data-accent={LIGHT_ACCENT}")
