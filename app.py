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

Left out here: the embeddable widget (`GET /widget.js`), CORS and rate limiting; see `create_app`.
"""

from __future__ import annotations

import os

# Before gradio and huggingface_hub are imported: both read these once, at import.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import argparse
import html
import json
import re
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import gradio as gr
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from index import SearchIndexError
from qa import Answerer, ConfigError, QAError, Settings, load_settings

WEB_DIR = Path(__file__).resolve().parent / "web"
DEFAULT_HOST = "127.0.0.1"  # never all interfaces by default: a clinic opts in with --host
DEFAULT_PORT = 7860
MAX_BODY_BYTES = 64 * 1024
CONCURRENT_ANSWERS = 8
ROLES = ("user", "assistant")
SAFETY_LEVELS = ("emergency", "urgent", "crisis")
# System fonts only: the default theme would fetch web fonts from Google.
THEME = gr.themes.Default(primary_hue="blue", font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


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
                    self._answerer = self._load(self.settings, log=lambda m: print(m, flush=True))
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
        known = set(answerers.get().index.manifest.get("sources", {}))
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


def error_response(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def add_api_routes(app: FastAPI, answerers: LazyAnswerer) -> None:
    def ready() -> Answerer:
        try:
            return answerers.get()
        except (SearchIndexError, QAError) as exc:
            raise BadRequest(not_ready_message(exc), status=503) from exc

    # A sync endpoint: FastAPI runs it in its threadpool, so slow answers never block other requests.
    # The body is read and checked by the async dependency before a thread is taken.
    @app.post("/api/ask")
    def ask(body: AskRequest = Depends(read_ask_request)) -> JSONResponse:
        return JSONResponse(ready().ask(body.question, body.history))

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
    # The widget goes here: GET /widget.js (and CORS / rate limiting for /api/ask), before the mount below.

    return gr.mount_gradio_app(
        app, demo, path="/",
        server_name=host, server_port=port,
        theme=THEME, css_paths=[WEB_DIR / "chat.css"],
        ssr_mode=False, footer_links=[], run_history=False, mcp_server=False,
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
        demo.launch(server_name=args.host, server_port=args.port, theme=THEME, css_paths=[WEB_DIR / "chat.css"],
                    ssr_mode=False, share=False, footer_links=[], run_history=False)
        return 0
    import uvicorn

    print(f"Serving the chat at http://{args.host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    uvicorn.run(create_app(host=args.host, port=args.port), host=args.host, port=args.port, workers=1,
                timeout_graceful_shutdown=3)
    return 0


try:
    SETTINGS = load_settings()
except ConfigError as _exc:
    # app.py is the edge: a bad clinic.toml is reported as a message, not a traceback.
    raise SystemExit(f"Cannot start the chat: {_exc}") from None
ANSWERERS = LazyAnswerer(SETTINGS)
FEEDBACK = FeedbackLog(SETTINGS.feedback_file, store_question_text=SETTINGS.store_question_text)
demo = build_demo(SETTINGS, ANSWERERS, FEEDBACK)

if __name__ == "__main__":
    sys.exit(main())
