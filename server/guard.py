"""Who may use the chat from another site, and how often: the origin allow-list, the rate limit, and the
ASGI middleware that applies them, with the headers every response carries.

`[widget] allowed_origins` in clinic.toml names the sites that may show the chat in a frame (every response
carries `Content-Security-Policy: frame-ancestors`), call `POST /api/ask` from a browser, and read
`GET /widget.json`, the widget's check before it shows its button (CORS, on those two paths only). Every
other route answers only the server's own pages: a request that a page on another site makes is refused,
and no other response carries CORS headers (Gradio's own would allow any origin). Each visitor gets at most
`[widget] rate_limit_per_minute` answers a minute, from the API and the chat page together, then 429 with
Retry-After. The limiter keeps only the times of a visitor's last minute of answers, in memory.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from typing import Callable

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa import ConfigError

from .responses import error_response

# scheme://host[:port], where "*" may stand for the port or for the subdomains of the host.
_ORIGIN_PATTERN = re.compile(r"(https?)://(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::(\d{1,5}|\*))?")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
API_PATH = "/api/ask"
WIDGET_CHECK_PATH = "/widget.json"  # server/widget.py: whether the page's site may show the chat, and its title
CROSS_ORIGIN_PATHS = (API_PATH, WIDGET_CHECK_PATH)


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


def origin_host(pattern: str) -> str:
    """The host of an allowed_origins entry as OriginAllowList keeps it ("http://localhost:*" -> "localhost")."""
    return _ORIGIN_PATTERN.fullmatch(pattern).group(3)


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

    def refusal(self, wait: int) -> str:
        """What a client refused by `acquire` is told: the API's 429 and the chat page alike."""
        return (f"Too many questions in a short time (the limit is {self.per_minute} a minute). "
                f"Please try again in {wait} seconds.")

    def release(self, client: str, place: float | None) -> None:
        """Give back a place taken by `acquire` for a request that was not answered."""
        if place is None:
            return
        with self._lock:
            hits = self._hits.get(client)
            if hits and place in hits:
                hits.remove(place)


class ApiGuard:
    """ASGI middleware for `/api/ask`: CORS from the allow-list, then the per-client rate limit (POST); and for
    `/widget.json`: CORS from the allow-list for GET (no preflight, no limit: it is as cheap as /widget.js).

    Only those paths: the Gradio app mounted at "/" answers CORS for its own routes, and a response with
    two sets of CORS headers is refused by browsers. The client is the connection's address, or the
    X-Forwarded-For address set by a proxy uvicorn trusts (FORWARDED_ALLOW_IPS, by default 127.0.0.1).
    """

    def __init__(self, app: ASGIApp, *, origins: OriginAllowList, limiter: RateLimiter, path: str = API_PATH,
                 check_path: str = WIDGET_CHECK_PATH):
        self.app = app
        self.path = path
        self.check_path = check_path
        self.check = CORSMiddleware(app, allow_origin_regex=origins.regex, allow_methods=["GET"], max_age=600)
        self.limiter = limiter
        # The 429 goes out through CORS too, so a page on an allowed site can read it and its Retry-After.
        # No credentials: the API uses no cookies, so browsers never send any.
        self.guarded = CORSMiddleware(self._rate_limited, allow_origin_regex=origins.regex, allow_methods=["POST"],
                                      allow_headers=["Content-Type"], expose_headers=["Retry-After"], max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            await self.guarded(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] == self.check_path:
            await self.check(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _rate_limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown",))[0]
        wait, place = self.limiter.acquire(client)
        if wait:
            await error_response(self.limiter.refusal(wait), 429, {"Retry-After": str(wait)})(scope, receive, send)
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


# Library files that may be cached (their names change with their contents); every other response is not.
CACHEABLE_PREFIXES = ("/assets/", "/static/", "/theme.css", "/favicon.ico")


class SecurityHeaders:
    """ASGI middleware: the headers every response gets.

    - `Content-Security-Policy: frame-ancestors`: only the app and the allowed sites may frame it (a response
      that sets its own policy, the embedded chat page, keeps it);
    - `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`;
    - `Cache-Control: no-store`, unless the response says otherwise or is one of Gradio's library files:
      answers, the page (with its session's config) and errors are never kept by a browser or a proxy;
    - no `Server` header naming the software (uvicorn is started without its own).
    """

    def __init__(self, app: ASGIApp, *, origins: OriginAllowList):
        self.app = app
        self.policy = f"frame-ancestors {origins.frame_ancestors()}".encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(CACHEABLE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != b"server"]
                present = {name.lower() for name, _ in headers}
                wanted = [(b"content-security-policy", self.policy), (b"x-content-type-options", b"nosniff"),
                          (b"referrer-policy", b"no-referrer")] + ([] if cacheable else [(b"cache-control", b"no-store")])
                headers += [(name, value) for name, value in wanted if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _host_of_origin(origin: str) -> str | None:
    """`scheme://host[:port]` as `host[:port]`, the default port left out; None when it is not an origin."""
    scheme, sep, rest = origin.partition("://")
    if not sep or not rest or "/" in rest:
        return None
    default = _DEFAULT_PORTS.get(scheme.lower())
    return rest.lower().removesuffix(f":{default}") if default else rest.lower()


def same_origin(origin: str, host: str, scheme: str = "http") -> bool:
    """Whether a request's Origin is the server itself, as the browser addressed it (Host), default ports aside.

    >>> same_origin("http://127.0.0.1:7860", "127.0.0.1:7860"), same_origin("https://chat.example.org", "chat.example.org:443", "https")
    (True, True)
    >>> same_origin("https://evil.example", "chat.example.org", "https"), same_origin("null", "chat.example.org")
    (False, False)
    """
    host = host.lower()
    host = _host_of_origin(f"{scheme}://{host}") or host
    return _host_of_origin(origin) == host


class SameOrigin:
    """ASGI middleware: every route but `cross_origin_paths` answers only the server's own pages.

    A request whose Origin is another site (a script on another site calling Gradio's routes, or the page's
    config) gets 403 and reaches nothing; the request's host is what the browser asked for (Host), default
    ports aside. No response of those routes carries CORS headers: Gradio's own middleware would allow any
    origin, with credentials, whenever the host is not localhost. X-Forwarded-Host is removed from every
    request: nginx passes the visitor's Host as it is, and Gradio would build the page's links from a forged
    one. `cross_origin_paths` are ApiGuard's: CORS for the allowed sites.
    """

    def __init__(self, app: ASGIApp, *, cross_origin_paths: tuple[str, ...] = CROSS_ORIGIN_PATHS):
        self.app = app
        self.cross_origin_paths = cross_origin_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"x-forwarded-host"]}
        if scope["path"] in self.cross_origin_paths:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if origin is not None:
            host = headers.get(b"host", b"").decode("latin-1")
            if not same_origin(origin.decode("latin-1"), host, scope.get("scheme", "http")):
                await error_response("This address answers only its own pages.", 403)(scope, receive, send)
                return

        async def send_without_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [(name, value) for name, value in message.get("headers", [])
                                                  if not name.lower().startswith(b"access-control-")]}
            await send(message)

        await self.app(scope, receive, send_without_cors)
