"""Shared fixtures: a deterministic fake embedder, a tiny corpus, and the real index (built once)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from deploy.loopback import free_port  # noqa: F401  (tests import it from here too)
from plumbing.messages import PACKAGES

REPO = Path(__file__).resolve().parent.parent
# Debian's Chromium, driven by Playwright (which must not download a browser of its own: no network).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHARED_ARTICLES = REPO.parent / "shared" / "articles"
# Hosts a page may talk to in the browser tests: anything else is a request that leaves the machine.
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


class LoggedLines(logging.Handler):
    """The messages logged under some of our packages' loggers (INFO and up), as a list of their text."""

    def __init__(self, *names: str):
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self._loggers = [(logger, logger.level) for logger in map(logging.getLogger, names)]
        for logger, _ in self._loggers:
            logger.addHandler(self)
            logger.setLevel(logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def detach(self) -> None:
        for logger, level in self._loggers:
            logger.removeHandler(self)
            logger.setLevel(level)


@pytest.fixture
def logged():
    """`lines = logged("qa.insights")`: a list that receives every message logged under those loggers (all of
    index, qa, server and plumbing when none is named) until the test ends."""
    handlers: list[LoggedLines] = []

    def attach(*names: str) -> list[str]:
        handlers.append(LoggedLines(*(names or PACKAGES)))
        return handlers[-1].lines

    yield attach
    for handler in handlers:
        handler.detach()


class FakeEmbedder:
    """Bag-of-words hashed into 64 dimensions, normalised: same text, same vector; shared words, closer.

    Records every text it embeds, so tests can tell what was (re-)embedded.
    """

    dimension = 64

    def __init__(self, name: str = "fake-bow-64", fail_after: int | None = None):
        self.name = name
        self.calls: list[list[str]] = []
        self.fail_after = fail_after

    @property
    def embedded(self) -> list[str]:
        return [t for call in self.calls for t in call]

    def embed(self, texts, *, progress=False):
        texts = list(texts)
        if self.fail_after is not None and len(self.embedded) + len(texts) > self.fail_after:
            raise RuntimeError("fake embedder failure (simulated crash mid-build)")
        self.calls.append(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                slot = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension
                out[row, slot] += 1.0
            out[row, len(text) % self.dimension] += 0.01  # never an all-zero row
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class FakeReranker:
    """Scores a text by the first of `scores`' phrases it contains (else `default`); records each call."""

    name = "fake-reranker"
    fingerprint = "fake"

    def __init__(self, scores: dict[str, float], default: float = 0.0):
        self.scores, self.default = scores, default
        self.queries: list[str] = []
        self.texts: list[list[str]] = []

    def score(self, query, texts):
        self.queries.append(query)
        self.texts.append(list(texts))
        return np.array([next((v for k, v in self.scores.items() if k.lower() in t.lower()), self.default) for t in texts],
                        dtype=np.float32)


MINI_CORPUS = {
    "needles.md": """---
title: About Needles
url: https://example.org/needles
---
## Does it hurt?

Most patients feel little to no pain. Dr. Lee uses thin needles, e.g. 0.2 mm wide. A session lasts 30 minutes.

## Safety

People taking blood thinners should ask their doctor first. Bruising is rare.
""",
    "qi.txt": """What Is Qi
Qi is the energy that flows along meridians. Acupuncture aims to restore its flow.
""",
}


def write_corpus(directory: Path, files: dict[str, str] = MINI_CORPUS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def fake_index(directory: Path, files: dict[str, str]):
    """`files` written as sources under `directory`, indexed with the fake embedder, loaded."""
    from index import SearchIndex, build_index

    sources = write_corpus(directory / "src", files)
    build_index(sources, directory / "idx", embedder=FakeEmbedder(), progress=False)
    return SearchIndex.load(directory / "idx")


@pytest.fixture
def mini_sources(tmp_path):
    return write_corpus(tmp_path / "sources")


@pytest.fixture(scope="session")
def real_embedder():
    from index import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory, real_embedder):
    """The real corpus, indexed with the real model, once per test session."""
    from index import build_index

    out = tmp_path_factory.mktemp("real-index")
    build_index(REPO / "sources", out, embedder=real_embedder, progress=False)
    return out


@pytest.fixture(scope="session")
def real_answerer(real_index_dir, real_embedder):
    """The real pipeline: real model, real index of sources/, shipped clinic settings and abstention model."""
    from index import SearchIndex
    from qa import Answerer, load_settings
    from qa.answerer import packaged_collaborators

    settings = load_settings(REPO / "clinic.toml", environ={})
    return Answerer(SearchIndex.load(real_index_dir, model=real_embedder.name), real_embedder, settings,
                    **packaged_collaborators())


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the browser tests (tests/setup.sh installs it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# --- a real `python app.py` for the server tests -------------------------------------------------------

SERVER_START_TIMEOUT = 120  # first start builds the index and loads the model


def clinic_file(directory: Path, *, store_question_text: bool = False, rate_limit_per_minute: int | None = None) -> Path:
    """The real clinic.toml, with feedback going into `directory` (tests write only into tmp_path)."""
    text = (REPO / "clinic.toml").read_text(encoding="utf-8")
    text, found = re.subn(r"(?m)^feedback_file = .*$", f"feedback_file = {json.dumps(str(directory / 'feedback.jsonl'))}", text)
    assert found == 1, "clinic.toml has no single 'feedback_file = ...' line to redirect"
    text, found = re.subn(r"(?m)^store_question_text = .*$", f"store_question_text = {str(store_question_text).lower()}", text)
    assert found == 1, "clinic.toml has no single 'store_question_text = ...' line"
    if rate_limit_per_minute is not None:
        text, found = re.subn(r"(?m)^rate_limit_per_minute = .*$", f"rate_limit_per_minute = {rate_limit_per_minute}", text)
        assert found == 1, "clinic.toml has no single 'rate_limit_per_minute = ...' line"
    path = directory / "clinic.toml"
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def running_server(directory: Path, *, config: Path | None = None, extra_env: dict | None = None,
                   command_prefix: list[str] | None = None, **clinic):
    """`python app.py` on a free port with its own index in `directory` and a clinic file (`config`, or the
    real one adjusted by `clinic` keywords); yields the base URL. `command_prefix` runs it under another
    command (say, setpriv dropping capabilities)."""
    with running_replica(directory, config=config, extra_env=extra_env, command_prefix=command_prefix, **clinic) as server:
        yield server.base


@contextmanager
def running_replica(directory: Path, *, config: Path | None = None, extra_env: dict | None = None,
                    command_prefix: list[str] | None = None, args: list[str] | None = None, **clinic):
    """`running_server`, yielding the `ReplicaProcess` itself (its process id, its log); `args` are more of
    app.py's options."""
    from deploy.loopback import DeploymentError, ReplicaProcess

    directory.mkdir(parents=True, exist_ok=True)
    config = config or clinic_file(directory, **clinic)
    env = ReplicaProcess.environment(index_dir=directory / "index", config=config, extra=extra_env)
    server = ReplicaProcess(free_port(), env, directory / "server.log", command_prefix=list(command_prefix or []),
                            args=list(args or []))
    try:
        try:
            server.start().wait_ready(timeout=SERVER_START_TIMEOUT)
        except DeploymentError as exc:
            pytest.fail(str(exc))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def app_module():
    """app.py, imported in the test process (cheap: it loads nothing until asked)."""
    import app

    return app


# --- markers: the slow kinds (registered in pytest.ini) ----------------------------------------------------

SLOW_FIXTURES = {"real_embedder": "model", "real_index_dir": "model", "real_answerer": "model", "browser": "browser",
                 "app_module": "server"}
SLOW_KINDS = ("model", "server", "browser")


def pytest_collection_modifyitems(config, items):
    """A test is `slow` when it uses one of the slow fixtures or is marked with one of the slow kinds (a module
    that starts a process or loads a model itself says so with `pytestmark`)."""
    for item in items:
        kinds = {kind for name, kind in SLOW_FIXTURES.items() if name in getattr(item, "fixturenames", ())}
        kinds |= {m.name for m in item.iter_markers() if m.name in SLOW_KINDS}
        for kind in kinds:
            item.add_marker(kind)
        if kinds:
            item.add_marker("slow")


# --- a clinic's own site showing the widget, for the widget and accessibility tests ----------------------

EXAMPLE_PAGE = REPO / "examples" / "clinic-site" / "index.html"
EXAMPLE_SNIPPET = '<script src="http://127.0.0.1:7860/widget.js" defer></script>'


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def static_site(directory: Path):
    """Serves `directory` on a free loopback port in a thread; yields the site's origin."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def clinic_page(app: str, attributes: dict[str, str] | None = None) -> str:
    """The example page with its one-line embed pointed at `app`, optionally with data attributes."""
    text = EXAMPLE_PAGE.read_text(encoding="utf-8")
    assert text.count(EXAMPLE_SNIPPET) == 1, f"{EXAMPLE_PAGE} should embed the chat with exactly {EXAMPLE_SNIPPET}"
    extra = "".join(f' {name}="{value}"' for name, value in (attributes or {}).items())
    return text.replace(EXAMPLE_SNIPPET, f'<script src="{app}/widget.js" defer{extra}></script>')


def ask_in_panel(frame, question: str):
    """Type a question into the widget's chat panel (a Playwright frame locator) and return its reply (an answer
    or an error) once it has arrived."""
    turns = frame.locator(".qa-turn")
    before = turns.count()
    frame.locator("#qa-question").fill(question)
    frame.locator("#qa-question").press("Enter")
    reply = turns.nth(before).locator(".qa-answer, .qa-error")
    reply.wait_for()
    return reply
