"""The web server: the Gradio chat page at `/`, `POST /api/ask`, `GET /healthz` and the widget (see the contract).

    python app.py [--host 127.0.0.1] [--port 7860] [--max-connections 500]   # or GRADIO_SERVER_NAME / _PORT
    gradio app.py                                       # reload mode while editing: the chat page only

`python app.py` reads clinic.toml, builds the index first when it is missing or stale, loads the model and
the index once, then serves one FastAPI app with uvicorn (one worker, many threads): routes of our own
first, the Gradio chat mounted at `/` last, because a mount at `/` swallows every path registered after it.
The parts are in server/ (its docstring lists them); this module puts them together, with the process's one
insights store (qa/insights/store.py: events of answers and thumbs up/down), flushed when the server stops.

Importing this module reads nothing and loads nothing heavy: the server modules are imported inside the
functions that use them, because gradio alone takes seconds to import, and the settings are read by
`main()`, where a bad clinic.toml becomes a one-line message. `demo`, the page `gradio app.py` looks for,
is built on first use. Nothing leaves the machine: analytics, hub lookups, share links, web fonts and
CDN-hosted API docs are all off, and no route fetches a URL (server/routes.py).

Reload mode is for editing on your own machine: Gradio serves the page itself, with its settings closed
(server/chat.py's `serve_options`) but without the guards of server/ in front.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import server  # noqa: F401  (first: it turns Gradio's analytics and the hub's lookups off before either loads)

if TYPE_CHECKING:
    import gradio as gr
    from fastapi import FastAPI

    from qa import Settings
    from qa.insights.store import EventStore
    from server.guard import RateLimiter
    from server.loader import LazyAnswerer
    from server.sessions import SessionJanitor

DEFAULT_HOST = "127.0.0.1"  # never all interfaces by default: a clinic opts in with --host
DEFAULT_PORT = 7860
DEFAULT_MAX_CONNECTIONS = 500


def new_event_store(settings: Settings) -> EventStore:
    """An insights store for `settings.events_file`; its writer starts here (it deletes old events and imports
    an old feedback.jsonl in the background, then writes what is recorded). Whoever makes it closes it."""
    from qa.insights.store import EventStore

    return EventStore(settings.events_file, keep_days=settings.keep_days, legacy_feedback=settings.feedback_file,
                      store_question_text=settings.store_question_text)


# Reload mode only (`gradio app.py`, which re-runs this file in the same namespace after each edit): the
# store of the page it serves, kept across the re-runs so that a reload does not start a second writer.
_reload_event_stores: dict = globals().get("_reload_event_stores", {})


def _reload_event_store(settings: Settings) -> EventStore:
    store = _reload_event_stores.get(settings.events_file)
    if store is None or store.closed:
        store = _reload_event_stores[settings.events_file] = new_event_store(settings)
    return store


def chat_page(settings: Settings, answerers: LazyAnswerer, events: EventStore | None = None, *,
              budget: RateLimiter | None = None, sessions: SessionJanitor | None = None) -> gr.Blocks:
    """The Gradio chat page, its answers and thumbs up/down going to `events` (in reload mode, where nobody
    passes one, the page's own store kept across reloads); its answers take places in `budget` (the per-visitor
    limit), and `sessions` drops its conversations (server/sessions.py)."""
    from server.chat import build_demo
    from server.feedback import FeedbackLog

    events = events if events is not None else _reload_event_store(settings)
    feedback = FeedbackLog(events, store_question_text=settings.store_question_text)
    return build_demo(settings, answerers, feedback, events, budget=budget, sessions=sessions)


def create_app(settings: Settings, answerers: LazyAnswerer, *,
               host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, events: EventStore | None = None) -> FastAPI:
    """The FastAPI app: our routes first, the Gradio chat mounted at `/` last, and in front of both the guards
    of server/ (their docstrings say what each refuses). Cheap: the answerer loads when `answerers` is first
    asked for it. Answers and ratings go to `events` (default: a new store for settings.events_file, owned by
    the app), which is flushed and closed when the app shuts down. Raises `ConfigError` for a bad `[widget] allowed_origins`."""
    import asyncio
    from contextlib import asynccontextmanager

    import gradio as gr
    from fastapi import FastAPI

    from server.api import EXAMPLE_BODY, add_api_routes
    from server.bodies import BodyRule, RequestBodies
    from server.chat import serve_options
    from server.chat_requests import AnswerStreams, ChatRequests, page_events
    from server.guard import ApiGuard, OriginAllowList, RateLimiter, SameOrigin, SecurityHeaders
    from server.routes import RouteAllowList
    from server.sessions import SessionJanitor
    from server.widget import add_widget_routes

    origins = OriginAllowList(settings.allowed_origins)
    events = events if events is not None else new_event_store(settings)
    budget = RateLimiter(settings.rate_limit_per_minute)  # one per visitor, for the API and the chat page alike
    sessions = SessionJanitor()
    page = chat_page(settings, answerers, events, budget=budget, sessions=sessions)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        sweeper = asyncio.create_task(sessions.run())  # drops the conversations of pages left or idle
        try:
            yield
        finally:
            sweeper.cancel()
            events.close()  # the events still queued are written before the process goes

    # No /docs or /redoc: they load Swagger UI from a CDN, and this server makes no outside requests.
    app = FastAPI(title=settings.clinic_name, docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    add_api_routes(app, answerers, events)
    add_widget_routes(app, settings, origins)
    # Middleware added last runs first: headers on every response (refusals too), then the allow-list of routes,
    # then same-origin for everything but the API, then the API's CORS and the per-visitor limit, then the body,
    # then the chat page's answer streams (only for a session that asked something).
    bodies = {"/api/ask": BodyRule(example=EXAMPLE_BODY),
              "/gradio_api/queue/join": BodyRule(check=ChatRequests(page_events(page)).check)}
    app.add_middleware(AnswerStreams, blocks=page)
    app.add_middleware(RequestBodies, rules=bodies)
    app.add_middleware(ApiGuard, origins=origins, limiter=budget)
    app.add_middleware(SameOrigin)
    app.add_middleware(RouteAllowList)
    app.add_middleware(SecurityHeaders, origins=origins)

    return gr.mount_gradio_app(app, page, path="/", server_name=host, server_port=port, **serve_options(settings))


# --- command line -------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None, environ: dict | None = None) -> argparse.Namespace:
    from plumbing.environment import server_address

    name, port = server_address(environ)
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve the acupuncture & neuropathy Q&A chat.")
    parser.add_argument("--host", default=name or DEFAULT_HOST,
                        help=f"address to listen on (default: GRADIO_SERVER_NAME or {DEFAULT_HOST}; "
                             "0.0.0.0 makes it reachable from other machines)")
    parser.add_argument("--port", default=port or str(DEFAULT_PORT),
                        help=f"port (default: GRADIO_SERVER_PORT or {DEFAULT_PORT})")
    parser.add_argument("--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS, metavar="N",
                        help=f"connections served at once; more are answered 503 (default {DEFAULT_MAX_CONNECTIONS}; "
                             "an open chat page holds one or two)")
    args = parser.parse_args(argv)
    if not (args.port.isdigit() and 1 <= int(args.port) <= 65535):
        parser.error(f"invalid port: {args.port!r}. Choose a whole number from 1 to 65535.")
    if args.max_connections < 1:
        parser.error(f"invalid --max-connections: {args.max_connections}. Choose a whole number of 1 or more.")
    args.port = int(args.port)
    return args


def main(argv: list[str] | None = None) -> int:
    from index import SearchIndexError
    from plumbing.environment import gradio_reload_mode
    from plumbing.messages import show_messages
    from qa import ConfigError, QAError, load_settings
    from server.guard import OriginAllowList
    from server.loader import LazyAnswerer

    show_messages()  # what index/, qa/ and server/ log (the build, index swaps, insights trouble): one line each on stderr
    try:
        settings = load_settings()
        OriginAllowList(settings.allowed_origins)  # checked now, not once the model has loaded
    except ConfigError as exc:
        # app.py is the edge: a bad clinic.toml is reported as a message, not a traceback.
        print(f"Cannot start the chat: {exc}", file=sys.stderr)
        return 1
    args = parse_args(argv)
    from plumbing.environment import config_file
    from server.setup_checks import setup_warnings

    clinic_file = config_file()[0]
    for warning in setup_warnings(settings, host=args.host, config_file=clinic_file):
        print(warning, file=sys.stderr, flush=True)
    answerers = LazyAnswerer(settings)
    try:
        answerer = answerers.get()  # now, not on the first question: the index build and model load print progress here
    except (SearchIndexError, QAError) as exc:
        print(f"Cannot start the chat: {exc}", file=sys.stderr)
        return 1
    from qa.coverage import coverage_warnings

    for warning in coverage_warnings(answerer.coverage, config_file=clinic_file):  # articles added or removed
        print(warning, file=sys.stderr, flush=True)
    if gradio_reload_mode():  # started by `gradio app.py`: Gradio serves and reloads the page
        from server.chat import serve_options
        from server.sessions import MAX_SESSIONS

        global demo  # Gradio's reloader finds the page it serves by this name
        demo = chat_page(settings, answerers)
        demo.launch(server_name=args.host, server_port=args.port, share=False, state_session_capacity=MAX_SESSIONS,
                    **serve_options(settings))
        return 0
    import uvicorn

    from server.logs import uvicorn_log_config

    print(f"Serving the chat at http://{args.host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    uvicorn.run(create_app(settings, answerers, host=args.host, port=args.port), host=args.host, port=args.port,
                workers=1,
                timeout_graceful_shutdown=10,  # s for accepted answers to finish on stop (3 s cut 4 queued ones on 2 busy cores)
                timeout_keep_alive=5,  # s an idle connection is kept (nginx closes its own after 4 s)
                limit_concurrency=args.max_connections,
                h11_max_incomplete_event_size=16 * 1024,  # request line and headers: at most 16 KB
                server_header=False,  # no "server: uvicorn"
                log_config=uvicorn_log_config())  # no session ids in the access log
    return 0


# `gradio app.py` re-runs this file in the same namespace after each edit: drop the page the last run
# built, so that `demo` is built again from the edited code.
globals().pop("demo", None)


def __getattr__(name: str) -> gr.Blocks:
    """`app.demo`, the chat page, built on first use (PEP 562) instead of at import: building it imports gradio
    and reads clinic.toml, and importing app.py should do neither, nor exit when clinic.toml is bad (here a
    bad file raises `ConfigError`, to whoever asked for the page). The model still loads on the first question."""
    if name != "demo":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from qa import load_settings
    from server.loader import LazyAnswerer

    settings = load_settings()
    page = globals()["demo"] = chat_page(settings, LazyAnswerer(settings))
    return page


if __name__ == "__main__":
    sys.exit(main())
