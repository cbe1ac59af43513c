"""Which requests the server answers at all: the allow-list of (method, path), and the ASGI middleware that
refuses every other request with 404 before FastAPI or Gradio sees it.

Gradio mounts some seventy routes beside the chat page: uploads, files and outside URLs fetched on request
(`/gradio_api/file=`), deep links that write a session to disk, recordings, monitoring, its API docs and
`/config`, the `call/` API, MCP. The product uses a dozen: the chat page and what its browser loads and
sends, the JSON API and the widget. Those are listed in `ALLOWED`, each with what needs it; everything else
is refused here, in the app itself, so a server run without nginx is as closed as one behind it
(deploy/nginx/acupuncture-qa.conf refuses the same), and a route a Gradio upgrade adds stays closed until
someone adds it here. `app_routes` lists every route an app has, Gradio's mounted ones included:
tests/test_security_routes.py fails when one appears that nobody has decided about.

Not here: what a reachable route accepts (server/bodies.py, server/chat_requests.py) and from which
origins (server/guard.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from starlette.types import ASGIApp, Receive, Scope, Send

from .responses import error_response

GET = frozenset({"GET", "HEAD"})
# The page's session ids, as Gradio's browser code makes them (random base-36); a little room for other clients.
SESSION_ID = r"[A-Za-z0-9_-]{1,64}"


@dataclass(frozen=True)
class Door:
    """One reachable (method, path): `path` is exact, or a prefix when it ends with "/", or a regular
    expression when `pattern` is set. `why` says what needs it."""

    methods: frozenset[str]
    path: str
    why: str
    pattern: bool = False

    def opens(self, method: str, path: str) -> bool:
        if method not in self.methods:
            return False
        if self.pattern:
            return re.fullmatch(self.path, path) is not None
        if self.path.endswith("/") and self.path != "/":
            # A prefix of the library's own read-only files; no ".." (Gradio joins safely too).
            return path.startswith(self.path) and len(path) > len(self.path) and "/../" not in f"{path}/"
        return path == self.path


ALLOWED: tuple[Door, ...] = (
    # The chat page (Gradio): what Chromium loads and sends on it, watched in tests/test_security_browser.py.
    Door(GET, "/", "the chat page"),
    Door(GET, "/assets/", "the chat page's scripts and styles (files of Gradio's build)"),
    Door(GET, "/static/", "a script and icons the chat page loads (files shipped with Gradio)"),
    Door(GET, "/theme.css", "the chat page's theme"),
    Door(GET, "/favicon.ico", "the browser tab's icon"),
    Door(frozenset({"GET"}), rf"/gradio_api/heartbeat/{SESSION_ID}", pattern=True,
         why="the open page's keep-alive: when it ends, the visitor has left and the page's conversation is dropped"),
    Door(frozenset({"POST"}), "/gradio_api/queue/join",
         "the page's events: a question, an example, a thumbs up/down, clearing the chat (server/chat_requests.py)"),
    Door(frozenset({"GET"}), "/gradio_api/queue/data", "the page's answers, streamed back"),
    # Our own routes (server/api.py, server/widget.py).
    Door(frozenset({"POST", "OPTIONS"}), "/api/ask", "the JSON API, and its CORS preflight for allowed sites"),
    Door(frozenset({"GET", "PUT", "PATCH", "DELETE"}), "/api/ask", "answered 405 with what to send instead"),
    Door(frozenset({"GET"}), "/healthz", "health checks (nginx, systemd, operators)"),
    Door(frozenset({"GET"}), "/widget.js", "the widget's script, on a clinic's pages"),
    Door(frozenset({"GET"}), "/widget.json",
         "the widget's check, before it shows its button: may this site show the chat, and under what title"),
    Door(frozenset({"GET"}), "/embed", "the widget's chat panel, in its iframe"),
    Door(frozenset({"GET"}), "/embed.js", "the panel's script"),
    Door(frozenset({"GET"}), "/embed.css", "the panel's style"),
)

NOT_FOUND = "Not found. This server answers the chat page at /, POST /api/ask, /healthz and the widget."


def is_allowed(method: str, path: str, doors: tuple[Door, ...] = ALLOWED) -> bool:
    """Whether a request for `method` `path` may go on.

    >>> [is_allowed(m, p) for m, p in (("GET", "/"), ("POST", "/api/ask"), ("GET", "/assets/index-1.js"),
    ...                                 ("GET", "/gradio_api/heartbeat/fqsdiwgjllo"))]
    [True, True, True, True]
    >>> [is_allowed(m, p) for m, p in (("POST", "/gradio_api/upload"), ("GET", "/gradio_api/file=https://example.org"),
    ...     ("GET", "/config"), ("GET", "/gradio_api/deep_link"), ("POST", "/gradio_api/call/v2/chat"),
    ...     ("GET", "/assets/"), ("GET", "/assets/../config"), ("DELETE", "/"), ("OPTIONS", "/gradio_api/queue/join"))]
    [False, False, False, False, False, False, False, False, False]
    """
    return any(door.opens(method, path) for door in doors)


class RouteAllowList:
    """ASGI middleware: requests on the allow-list go on; any other gets a 404 `{"error": ...}` and reaches
    neither FastAPI nor Gradio. WebSockets are refused (nothing here uses them)."""

    def __init__(self, app: ASGIApp, *, doors: tuple[Door, ...] = ALLOWED):
        self.app = app
        self.doors = doors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] == "http" and not is_allowed(scope["method"], scope["path"], self.doors):
            await error_response(NOT_FOUND, 404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class AppRoute:
    """A route an app has: its methods and its path template, as the router sees it (mounts joined)."""

    methods: frozenset[str]
    path: str

    def sample_path(self) -> str:
        """A concrete path the template matches, for probing a running server."""
        path = re.sub(r"\{[^}:]+:path\}", "x/y.txt", self.path)
        return re.sub(r"\{[^}]+\}", "abc123", path)


def app_routes(app, prefix: str = "") -> Iterator[AppRoute]:
    """Every HTTP and WebSocket route of a Starlette/FastAPI app, including those of apps mounted in it and of
    routers included in it. A kind of route this does not know is listed with the method "?", so a test that
    walks the routes fails instead of missing it."""
    from starlette.routing import Mount, Route, WebSocketRoute

    for route in getattr(app, "routes", []):
        if isinstance(route, Mount):
            yield from app_routes(route.app, prefix + route.path.rstrip("/"))
        elif isinstance(route, WebSocketRoute):
            yield AppRoute(frozenset({"WEBSOCKET"}), prefix + route.path)
        elif isinstance(route, Route):
            yield AppRoute(frozenset(route.methods or ()), prefix + route.path)
        elif hasattr(route, "original_router") and hasattr(route, "include_context"):
            # FastAPI 0.165 keeps an included router (Gradio's /gradio_api/...) as one entry, resolved lazily.
            yield from app_routes(route.original_router, prefix + route.include_context.prefix)
        else:
            yield AppRoute(frozenset({"?"}), f"{prefix} {route!r}")
