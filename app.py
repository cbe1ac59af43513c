"""The web server: the Gradio chat page at `/`, `POST /api/ask` and `GET /healthz` (see the contract).

    python app.py [--host 127.0.0.1] [--port 7860]      # or GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
    gradio app.py                                       # reload mode while editing: the chat page only

`python app.py` builds the index first when it is missing or stale, loads the model and the index once,
then serves one FastAPI app with uvicorn (one worker, many threads): routes of our own first, the Gradio
chat mounted at `/` last, because a mount at `/` swallows every path registered after it.

Importing this module builds the page (`demo`) and nothing heavy: the model and index load in `main()`,
or on the first question when the page is served some other way. Nothing leaves the machine: analytics,
hub lookups, share links, web fonts and CDN-hosted API docs are all off.

Privacy: a visitor's questions are answered and forgotten. Thumbs up/down append one JSON line to the
feedback file with the time, the rating and the cited source ids; the question text only when the
clinic sets `[privacy] store_question_text = true`.

The widget: `GET /widget.js` adds a chat button to a clinic's page; it opens `/embed`, a compact chat page
of our own (no Gradio), in an iframe. Only the origins in `[widget] allowed_origins` may frame that page
(`Content-Security-Policy: frame-ancestors`) or call `POST /api/ask` from a browser (CORS), and each client
gets at most `[widget] rate_limit_per_minute` answers a minute (then 429 with Retry-After). No cookies anywhere.
"""

from __future__ import annotations

import os

# Before gradio and huggingface_hub are imported: both read these once, at import.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import argparse
import asyncio
import html
import json
import math
import re
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import gradio as gr
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index import SearchIndexError
from qa import Answerer, ConfigError, QAError, Settings, load_settings
from qa.compose import safe_url
from qa.questionset import SAFETY_LEVELS
from qa.watch import IndexWatcher

WEB_DIR = Path(__file__).resolve().parent / "web"
DEFAULT_HOST = "127.0.0.1"  # never all interfaces by default: a clinic opts in with --host
DEFAULT_PORT = 7860
MAX_BODY_BYTES = 64 * 1024
CONCURRENT_ANSWERS = 8
# /api/ask answers on one thread per core, first come first served. More answers at once only contend for
# the cores and the GIL: at 16 clients, p95 155 -> 96 ms and answers/s 157 -> 190 (bench/RESULTS.md, "HTTP").
API_ANSWER_THREADS = os.cpu_count() or 1
ROLES = ("user", "assistant")
# System fonts only: the default theme would fetch web fonts from Google.
THEME = gr.themes.Default(primary_hue="blue", font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
# How the chat page is served, whether mounted in our FastAPI app or launched by `gradio app.py`.
PAGE_OPTIONS = dict(theme=THEME, css_paths=[WEB_DIR / "chat.css"], ssr_mode=False, footer_links=[], run_history=False)


# --- the answerer, loaded once --------------------------------------------------------------------

class LazyAnswerer:
    """Holds the one `Answerer`, loading it on first use; safe to call from many threads at once."""

    def __init__(self, settings: Settings, *, load: Callable[..., Answerer] = Answerer.load):
        self.settings = settings
        self._load = load
        self._answerer: Answerer | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._answerer is not None

    def get(self) -> Answerer:
        """The answerer; the first call builds the index if needed and loads the model (seconds)."""
        if self._answerer is None:
            with self._lock:
                if self._answerer is None:  # another thread may have loaded it while we waited
                    answerer = self._load(self.settings, log=lambda m: print(m, flush=True))
                    # Follow rebuilds made by `python -m index build` while serving (qa/watch.py).
                    IndexWatcher(answerer, self.settings.index_dir, log=lambda m: print(m, flush=True)).start()
                    self._answerer = answerer
        return self._answerer


# --- feedback --------------------------------------------------------------------------------------

class FeedbackLog:
    """Appends one JSON line per thumbs up/down. Stores the question text only when the clinic opted in."""

    def __init__(self, path: Path, *, store_question_text: bool):
        self.path = path
        self.store_question_text = store_question_text
        self._lock = threading.Lock()

    def record(self, rating: str, source_ids: list[str], question: str | None = None) -> dict:
        entry: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "rating": rating,
            "source_ids": source_ids,
        }
        if self.store_question_text and question:
            entry["question"] = question
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        # One write of one line in append mode: lines from concurrent writers never interleave.
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(line)
        return entry


# --- the chat page -----------------------------------------------------------------------------------

_SOURCES_ATTR = re.compile(r'data-sources="([^"]*)"')


def message_text(content: Any) -> str:
    """Plain text of a chat message, whose content Gradio sends as a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return content["text"] if isinstance(content.get("text"), str) else ""
    if isinstance(content, (list, tuple)):
        return "\n".join(text for part in content if (text := message_text(part)))
    return ""


def plain_history(history: list | None) -> list[dict]:
    """Gradio's chat history as the answerer takes it: [{"role", "content": str}], other roles dropped."""
    turns = []
    for message in history or []:
        if isinstance(message, dict) and message.get("role") in ROLES:
            turns.append({"role": message["role"], "content": message_text(message.get("content"))})
    return turns


def cited_source_ids(answer: dict) -> list[str]:
    """Source ids an answer cites (its passages, then the other articles that say the same), no repeats."""
    ids = []
    for passage in answer["passages"]:
        ids.append(passage["source_id"])
        ids += [other["source_id"] for other in passage.get("also_in", [])]
    return list(dict.fromkeys(ids))


def chat_message(answer: dict) -> str:
    """The answer's Markdown in a <div> whose classes let CSS style safety messages and abstentions.

    The cited source ids ride along in a data attribute, so a thumbs up/down can be recorded with them
    without the server remembering anything about the conversation.
    """
    classes = ["qa-answer"]
    safety = answer.get("safety")
    if safety:
        level = safety.get("level")
        classes += ["qa-safety"] + ([f"qa-safety-{level}"] if level in SAFETY_LEVELS else [])
    elif answer["abstained"]:
        classes.append("qa-abstained")
    sources = html.escape(json.dumps(cited_source_ids(answer)), quote=True)
    # Blank lines around the Markdown: without them the renderer treats it as raw HTML, not Markdown.
    return f'<div class="{" ".join(classes)}" data-sources="{sources}">\n\n{answer["answer_markdown"]}\n\n</div>'


def source_ids_of(message: str, known: set[str]) -> list[str]:
    """The source ids stored by `chat_message`; ids the index does not know are dropped (the browser sent them)."""
    found = _SOURCES_ATTR.search(message)
    if not found:
        return []
    try:
        ids = json.loads(html.unescape(found.group(1)))
    except ValueError:
        return []
    if not isinstance(ids, list):
        return []
    return [i for i in dict.fromkeys(ids) if isinstance(i, str) and i in known]


def question_before(history: list | None, index: Any) -> str | None:
    """The visitor's message just before the assistant message at `index` in the chat."""
    if not isinstance(history, list) or not isinstance(index, int):
        return None
    for message in reversed(history[:index]):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content")) or None
    return None


def rating_of(liked: bool | str) -> str | None:
    """'up' / 'down' from Gradio's like data; None when a thumb was un-clicked."""
    if liked is True or liked == "Like":
        return "up"
    if liked is False or liked == "Dislike":
        return "down"
    return None


def not_ready_message(exc: Exception) -> str:
    print(f"The answering service could not load: {exc}", file=sys.stderr, flush=True)
    return "Sorry, the question service is not ready right now. Please try again in a few minutes."


def build_demo(settings: Settings, answerers: LazyAnswerer, feedback: FeedbackLog) -> gr.Blocks:
    """The chat page. Cheap: nothing here loads the model or the index."""

    def respond(message: str, history: list) -> str:
        try:
            answerer = answerers.get()
        except (SearchIndexError, QAError) as exc:
            raise gr.Error(not_ready_message(exc)) from exc
        return chat_message(answerer.ask(message_text(message), plain_history(history)))

    def on_like(history: list, data: gr.LikeData) -> None:
        rating = rating_of(data.liked)
        if rating is None or not answerers.loaded:
            return
        known = set(answerers.get().index.source_ids)
        ids = source_ids_of(message_text(data.value), known)
        try:
            feedback.record(rating, ids, question_before(history, data.index))
        except OSError as exc:
            print(f"Could not write feedback to {feedback.path}: {exc}", file=sys.stderr, flush=True)
            gr.Warning("Sorry, your feedback could not be saved.")

    with gr.Blocks(title=settings.clinic_name, analytics_enabled=False) as demo:
        gr.HTML(header_html(settings), elem_id="qa-header", js_on_load=None)
        chatbot = gr.Chatbot(
            show_label=False,
            elem_id="qa-chat",
            height=None,  # grows with the conversation, then scrolls
            min_height=380,
            max_height="72vh",
            layout="bubble",
            feedback_options=("Like", "Dislike"),
            sanitize_html=True,
            allow_tags=False,
            latex_delimiters=[],  # articles mention dollars; never typeset them as maths
            buttons=["copy"],  # no "share": it posts to an outside site
            placeholder=placeholder_html(),
        )
        textbox = gr.Textbox(
            placeholder="Type your question here",
            show_label=False,
            lines=1,
            max_lines=4,
            submit_btn="Ask",
            autofocus=True,
            elem_id="qa-input",
        )
        gr.ChatInterface(
            respond,
            chatbot=chatbot,
            textbox=textbox,
            examples=list(settings.examples[:6]),
            run_examples_on_click=True,
            cache_examples=False,  # caching would answer the examples at startup, loading the model
            save_history=False,  # no chat history kept in the browser
            flagging_mode="never",  # Gradio's flagging would store whole conversations
            analytics_enabled=False,
            autofocus=True,
            fill_height=False,
            api_name="chat",
        )
        chatbot.like(on_like, inputs=chatbot, outputs=None, api_visibility="private", show_progress="hidden")
        gr.HTML(footer_html(settings), elem_id="qa-footer", js_on_load=None)
    demo.queue(default_concurrency_limit=CONCURRENT_ANSWERS)
    return demo


def header_html(settings: Settings) -> str:
    return (
        '<header class="qa-header">'
        f"<h1>{html.escape(settings.clinic_name)}</h1>"
        "<p>Ask about acupuncture for peripheral neuropathy. Every answer quotes a small library of articles word for word "
        "and names its sources; when they don't cover a question, it says so.</p>"
        "</header>"
    )


def placeholder_html() -> str:
    return "<p class='qa-placeholder'>Pick a question below or type your own.</p>"


def footer_html(settings: Settings) -> str:
    privacy = (
        "Your questions are stored with feedback (thumbs up/down) to improve this service."
        if settings.store_question_text
        else "Nothing you type is stored. Thumbs up/down keeps only the rating and the sources cited."
    )
    return (
        '<footer class="qa-footer">'
        f'<p class="qa-disclaimer" role="note"><strong>Medical disclaimer.</strong> {html.escape(settings.disclaimer)}</p>'
        f'<p class="qa-privacy">{html.escape(privacy)}</p>'
        "</footer>"
    )


# --- the JSON API -------------------------------------------------------------------------------------

class BadRequest(Exception):
    """Input /api/ask cannot answer; becomes a 4xx response {"error": message}."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class AskRequest:
    question: str
    history: list[dict] | None


EXAMPLE_BODY = '{"question": "Will the needles hurt?"}'


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f'"{where}" must be a string, got {_kind(value)}.')
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate from a "\ud800" escape
        raise BadRequest(f'"{where}" is not valid Unicode text.') from exc
    return value


def parse_ask_request(raw: bytes) -> AskRequest:
    """Validate a /api/ask body; `BadRequest` says what is wrong and what to send instead."""
    if not raw.strip():
        raise BadRequest(f"The request body is empty. Send JSON like {EXAMPLE_BODY}.")
    try:
        body = json.loads(raw)
    # ValueError covers bad JSON, bad UTF-8 and numbers too long to convert; deep nesting overflows the parser.
    except (ValueError, RecursionError) as exc:
        reason = str(exc)[:120] if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise BadRequest(f"The request body is not valid JSON ({reason}). Send JSON like {EXAMPLE_BODY}.") from exc
    if not isinstance(body, dict):
        raise BadRequest(f"The request body must be a JSON object like {EXAMPLE_BODY}, got {_kind(body)}.")
    if "question" not in body:
        raise BadRequest(f'"question" is missing. Send JSON like {EXAMPLE_BODY}.')
    question = _text(body["question"], "question")
    history = body.get("history")
    if history is None:
        return AskRequest(question, None)
    if not isinstance(history, list):
        raise BadRequest(f'"history" must be a list of {{"role", "content"}} messages, got {_kind(history)}.')
    turns = []
    for i, message in enumerate(history):
        if not isinstance(message, dict):
            raise BadRequest(f'"history[{i}]" must be an object {{"role": "user", "content": "..."}}, got {_kind(message)}.')
        if message.get("role") not in ROLES:
            raise BadRequest(f'"history[{i}].role" must be "user" or "assistant", got {json.dumps(message.get("role"))[:40]}.')
        turns.append({"role": message["role"], "content": _text(message.get("content"), f"history[{i}].content")})
    return AskRequest(question, turns)


async def read_ask_request(request: Request) -> AskRequest:
    """The request body, refused as soon as it is over the limit, whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length must be a whole number.")
        if int(declared) > MAX_BODY_BYTES:
            raise BadRequest(f"The request body is over {MAX_BODY_BYTES // 1024} KB.", status=413)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise BadRequest(f"The request body is over {MAX_BODY_BYTES // 1024} KB.", status=413)
    return parse_ask_request(bytes(raw))


def error_response(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def add_api_routes(app: FastAPI, answerers: LazyAnswerer) -> None:
    def ready() -> Answerer:
        try:
            return answerers.get()
        except (SearchIndexError, QAError) as exc:
            raise BadRequest(not_ready_message(exc), status=503) from exc

    answer_pool = ThreadPoolExecutor(max_workers=API_ANSWER_THREADS, thread_name_prefix="api-answer")

    # The body is read and checked by the async dependency; the answer is worked out on the answer pool,
    # so the event loop keeps serving other requests meanwhile.
    @app.post("/api/ask")
    async def ask(body: AskRequest = Depends(read_ask_request)) -> JSONResponse:
        def answer() -> dict:
            return ready().ask(body.question, body.history)

        return JSONResponse(await asyncio.get_running_loop().run_in_executor(answer_pool, answer))

    # Without this, a GET would fall through to the chat mounted at "/" and get its HTML 404.
    @app.api_route("/api/ask", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def ask_wrong_method(request: Request) -> JSONResponse:
        return error_response(f"Use POST with JSON like {EXAMPLE_BODY}, not {request.method}.", 405)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        manifest = ready().index.manifest
        return JSONResponse({
            "status": "ok",
            "passages": manifest["passages"],
            "sources": manifest["source_count"],
            "model": manifest["model"]["name"],
        })


# --- the widget: allowed origins, rate limit, /widget.js and the page it embeds -------------------------

# scheme://host[:port], where "*" may stand for the port or for the subdomains of the host.
_ORIGIN_PATTERN = re.compile(r"(https?)://(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::(\d{1,5}|\*))?")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalise_origin_pattern(text: str) -> str:
    """One `[widget] allowed_origins` entry, lower-cased, without a trailing slash or a default port."""
    candidate = text.strip().lower().rstrip("/")
    match = _ORIGIN_PATTERN.fullmatch(candidate)
    if not match or (match.group(4) not in (None, "*") and not 1 <= int(match.group(4)) <= 65535):
        raise ConfigError(
            f"[widget] allowed_origins: {text!r} is not an origin. Write one like \"https://www.example-clinic.org\", "
            "\"http://localhost:*\" (any port) or \"https://*.example-clinic.org\" (its subdomains): no path, no bare \"*\"."
        )
    scheme, _wildcard, _host, port = match.groups()
    return candidate.removesuffix(f":{port}") if port == _DEFAULT_PORTS[scheme] else candidate


def _origin_regex(pattern: str) -> str:
    scheme, wildcard, host, port = _ORIGIN_PATTERN.fullmatch(pattern).groups()
    regex = re.escape(f"{scheme}://") + (r"(?:[a-z0-9-]+\.)+" if wildcard else "") + re.escape(host)
    if port == "*":
        regex += r"(?::\d{1,5})?"  # browsers leave the default port out of Origin
    elif port:
        regex += re.escape(f":{port}")
    return f"(?:{regex})"


class OriginAllowList:
    """Sites that may embed the chat and call `/api/ask` from a browser: `[widget] allowed_origins`.

    The entries go into the CSP frame-ancestors directive as written, and CORS reads them the same way:
    "*" as the port means any port (or none), "*." before a host means any of its subdomains.

    >>> allowed = OriginAllowList(["http://localhost:*", "https://*.example-clinic.org", "https://example-clinic.org:443"])
    >>> [allowed.allows(o) for o in ("http://localhost:5173", "http://localhost", "https://www.example-clinic.org",
    ...                              "https://example-clinic.org")]
    [True, True, True, True]
    >>> [allowed.allows(o) for o in ("https://localhost:5173", "http://localhost.evil.test", "http://127.0.0.1:5173",
    ...                              "https://example-clinic.org.evil.test", "null", None)]
    [False, False, False, False, False, False]
    >>> allowed.frame_ancestors()
    "'self' http://localhost:* https://*.example-clinic.org https://example-clinic.org"
    """

    def __init__(self, patterns: tuple[str, ...] | list[str]):
        self.patterns = tuple(dict.fromkeys(normalise_origin_pattern(p) for p in patterns))
        self.regex = "|".join(_origin_regex(p) for p in self.patterns) or "(?!)"  # an empty list allows nothing
        self._compiled = re.compile(self.regex)

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and self._compiled.fullmatch(origin) is not None

    def frame_ancestors(self) -> str:
        """The source list for `frame-ancestors`: the app itself and the allowed sites."""
        return " ".join(("'self'",) + self.patterns)


class RateLimiter:
    """At most `per_minute` answers per client in any 60 seconds (a sliding window); 0 turns it off.

    A request takes a place when it arrives and gives it back if it is not answered (bad input, server
    not ready), so only answers count and a burst of concurrent requests cannot slip past the limit.
    In memory only: a client's times are forgotten once they are a minute old. Safe from many threads.

    >>> limiter = RateLimiter(2, clock=iter([0.0, 1.0, 2.0, 3.0, 61.5]).__next__)
    >>> first = limiter.acquire("203.0.113.7"); first
    (0, 0.0)
    >>> limiter.release("203.0.113.7", first[1])  # not answered: the place is given back
    >>> [limiter.acquire("203.0.113.7")[0] for _ in range(3)]  # at 1, 2 and 3 s: wait until 61 s
    [0, 0, 58]
    >>> limiter.acquire("203.0.113.7")[0]  # at 61.5 s the answer at 1 s is a minute old
    0
    """

    def __init__(self, per_minute: int, *, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def acquire(self, client: str) -> tuple[int, float | None]:
        """(0, place) if `client` may go ahead now, else (whole seconds until it may, None)."""
        if self.per_minute <= 0:
            return 0, None
        with self._lock:
            now = self._clock()
            if now >= self._next_sweep:  # drop clients quiet for a whole window, so memory stays small
                self._hits = {key: hits for key, hits in self._hits.items() if hits and hits[-1] > now - self.window}
                self._next_sweep = now + self.window
            hits = self._hits.setdefault(client, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(1, math.ceil(hits[0] + self.window - now)), None
            hits.append(now)
            return 0, now

    def release(self, client: str, place: float | None) -> None:
        """Give back a place taken by `acquire` for a request that was not answered."""
        if place is None:
            return
        with self._lock:
            hits = self._hits.get(client)
            if hits and place in hits:
                hits.remove(place)


class ApiGuard:
    """ASGI middleware for `/api/ask` only: CORS from the allow-list, then the per-client rate limit (POST).

    Only that path: the Gradio app mounted at "/" answers CORS for its own routes, and a response with
    two sets of CORS headers is refused by browsers. The client is the connection's address, or the
    X-Forwarded-For address set by a proxy uvicorn trusts (FORWARDED_ALLOW_IPS, by default 127.0.0.1).
    """

    def __init__(self, app: ASGIApp, *, origins: OriginAllowList, limiter: RateLimiter, path: str = "/api/ask"):
        self.app = app
        self.path = path
        self.limiter = limiter
        # The 429 goes out through CORS too, so a page on an allowed site can read it and its Retry-After.
        # No credentials: the API uses no cookies, so browsers never send any.
        self.guarded = CORSMiddleware(self._rate_limited, allow_origin_regex=origins.regex, allow_methods=["POST"],
                                      allow_headers=["Content-Type"], expose_headers=["Retry-After"], max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            await self.guarded(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _rate_limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown",))[0]
        wait, place = self.limiter.acquire(client)
        if wait:
            message = (f"Too many questions in a short time (the limit is {self.limiter.per_minute} a minute). "
                       f"Please try again in {wait} seconds.")
            await error_response(message, 429, {"Retry-After": str(wait)})(scope, receive, send)
            return
        answered = False

        async def send_and_watch(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = 200 <= message["status"] < 300
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            if not answered:
                self.limiter.release(client, place)


class FrameAncestors:
    """ASGI middleware: every response may be framed only by the app and the allowed sites.

    A response that sets its own Content-Security-Policy (the embedded chat page) keeps it.
    """

    def __init__(self, app: ASGIApp, *, origins: OriginAllowList):
        self.app = app
        self.policy = f"frame-ancestors {origins.frame_ancestors()}".encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    headers.append((b"content-security-policy", self.policy))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)


# The embedded page loads only its own script and style and talks only to this server.
EMBED_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
             "base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}")
WIDGET_ASSETS = {  # route -> (file in web/, content type)
    "/widget.js": ("widget.js", "application/javascript; charset=utf-8"),
    "/embed.js": ("embed.js", "application/javascript; charset=utf-8"),
    "/embed.css": ("embed.css", "text/css; charset=utf-8"),
}
_PLACEHOLDER = re.compile(r"\{\{(title|config)\}\}")


def embed_page(settings: Settings) -> str:
    """The compact chat page the widget opens in its iframe, with the clinic's settings as inert JSON."""
    contact = safe_url(settings.contact_url)
    config = {
        "clinicName": settings.clinic_name,
        "examples": list(settings.examples[:3]),
        "disclaimer": settings.disclaimer,
        "contact": {"label": settings.contact_label, "url": contact} if contact else None,
    }
    # Escaped so that no setting can close the <script> element the JSON sits in.
    data = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    values = {"title": html.escape(settings.clinic_name), "config": data}
    template = (WEB_DIR / "embed.html").read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(lambda found: values[found.group(1)], template)


def _asset(body: bytes, media_type: str) -> Callable[[], Response]:
    def serve() -> Response:
        return Response(body, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=600", "X-Content-Type-Options": "nosniff"})
    return serve


def add_widget_routes(app: FastAPI, settings: Settings, origins: OriginAllowList) -> None:
    """GET /widget.js for clinic pages, and /embed (+ its script and style) that it opens in an iframe."""
    for route, (name, media_type) in WIDGET_ASSETS.items():
        app.add_api_route(route, _asset((WEB_DIR / name).read_bytes(), media_type), methods=["GET"], include_in_schema=False)
    page = embed_page(settings)
    headers = {
        "Content-Security-Policy": EMBED_CSP.format(ancestors=origins.frame_ancestors()),
        "Cache-Control": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }

    @app.get("/embed", include_in_schema=False)
    def embed() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)


# --- the app ------------------------------------------------------------------------------------------

def create_app(*, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> FastAPI:
    """The FastAPI app: our routes first, the Gradio chat mounted at `/` last.

    Also usable as `uvicorn --factory app:create_app`.
    """
    # No /docs or /redoc: they load Swagger UI from a CDN, and this server makes no outside requests.
    app = FastAPI(title=SETTINGS.clinic_name, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(BadRequest)
    async def bad_request(_request: Request, exc: BadRequest) -> JSONResponse:
        return error_response(exc.message, exc.status)

    add_api_routes(app, ANSWERERS)
    add_widget_routes(app, SETTINGS, ORIGINS)
    # Middleware added last runs first: every response gets frame-ancestors, including a 429.
    app.add_middleware(ApiGuard, origins=ORIGINS, limiter=RateLimiter(SETTINGS.rate_limit_per_minute))
    app.add_middleware(FrameAncestors, origins=ORIGINS)

    return gr.mount_gradio_app(
        app, demo, path="/",
        server_name=host, server_port=port, **PAGE_OPTIONS, mcp_server=False,
        show_error=False,  # an unexpected error shows a generic message, not its internals
    )


# --- command line -------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None, environ: dict | None = None) -> argparse.Namespace:
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve the acupuncture & neuropathy Q&A chat.")
    parser.add_argument("--host", default=env.get("GRADIO_SERVER_NAME") or DEFAULT_HOST,
                        help=f"address to listen on (default: GRADIO_SERVER_NAME or {DEFAULT_HOST}; "
                             "0.0.0.0 makes it reachable from other machines)")
    parser.add_argument("--port", default=env.get("GRADIO_SERVER_PORT") or str(DEFAULT_PORT),
                        help=f"port (default: GRADIO_SERVER_PORT or {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    if not (args.port.isdigit() and 1 <= int(args.port) <= 65535):
        parser.error(f"invalid port: {args.port!r}. Choose a whole number from 1 to 65535.")
    args.port = int(args.port)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        ANSWERERS.get()  # now, not on the first question: the index build and model load print progress here
    except (SearchIndexError, QAError) as exc:
        print(f"Cannot start the chat: {exc}", file=sys.stderr)
        return 1
    if os.environ.get("GRADIO_WATCH_DIRS"):  # started by `gradio app.py`: Gradio serves and reloads the page
        demo.launch(server_name=args.host, server_port=args.port, share=False, **PAGE_OPTIONS)
        return 0
    import uvicorn

    print(f"Serving the chat at http://{args.host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    uvicorn.run(create_app(host=args.host, port=args.port), host=args.host, port=args.port, workers=1,
                timeout_graceful_shutdown=3)
    return 0


try:
    SETTINGS = load_settings()
    ORIGINS = OriginAllowList(SETTINGS.allowed_origins)
except ConfigError as _exc:
    # app.py is the edge: a bad clinic.toml is reported as a message, not a traceback.
    raise SystemExit(f"Cannot start the chat: {_exc}") from None
ANSWERERS = LazyAnswerer(SETTINGS)
FEEDBACK = FeedbackLog(SETTINGS.feedback_file, store_question_text=SETTINGS.store_question_text)
demo = build_demo(SETTINGS, ANSWERERS, FEEDBACK)

if __name__ == "__main__":
    sys.exit(main())
