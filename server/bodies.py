"""Request bodies, for every POST the server takes (`/api/ask` and the chat page's events): at most 64 KB,
arrived within BODY_SECONDS, JSON; then the route's own check, if it has one; then handed on, read.

The body is read here, before FastAPI or Gradio see the request, so neither ever holds more than the limit,
waits on a client that trickles its body, or logs a traceback when a client goes away mid-body: that is one
line in the log, without the body. The limit is the one `/api/ask` always had: a question is cut to
`[answer] max_question_chars` (1,000) characters, with a note, so 64 KB is far more than any question
needs; the chat page sends only the message (its conversation is kept on the server, server/sessions.py).
A browser on another site can send a POST without asking first only as text/plain, a form or with no
type at all ("simple" requests, CORS): requiring application/json means such a page cannot make a
visitor's browser ask questions.

Refusals are `{"error": "..."}` with 408, 413 or 415; a route's own check refuses with `BodyRefused`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .responses import MAX_BODY_BYTES, error_response

# A whole body within this long, from the end of the headers: 64 KB takes milliseconds on any real line.
BODY_SECONDS = 10.0
log = logging.getLogger("uvicorn.error")


class BodyRefused(Exception):
    """A body the route does not take: answered `{"error": message}` with `status`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


class _ClientGone(Exception):
    pass


@dataclass(frozen=True)
class BodyRule:
    """What one path adds to the limits: its own check of the body (raising `BodyRefused`), and an example
    body for the messages."""

    check: Callable[[bytes], None] | None = None
    example: str | None = None


def is_json(content_type: str | None) -> bool:
    """`application/json`, with or without parameters.

    >>> [is_json(t) for t in ("application/json", "Application/JSON; charset=utf-8", "text/plain", None, "application/jsonx")]
    [True, True, False, False, False]
    """
    return bool(content_type) and content_type.split(";", 1)[0].strip().lower() == "application/json"


class RequestBodies:
    """ASGI middleware for POST: the size, time and type limits above, then the path's `BodyRule` check, then
    the app, given the body as read."""

    def __init__(self, app: ASGIApp, *, rules: Mapping[str, BodyRule] | None = None,
                 max_bytes: int = MAX_BODY_BYTES, seconds: float = BODY_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.app = app
        self.rules = dict(rules or {})
        self.max_bytes = max_bytes
        self.seconds = seconds
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
        except BodyRefused as refused:
            await error_response(refused.message, refused.status)(scope, receive, send)
            return
        except _ClientGone:
            log.info("A client went away before sending the whole request (%s %s): nothing was answered.",
                     scope["method"], scope["path"])
            return
        rule = self.rules.get(scope["path"], BodyRule())
        if not is_json(dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")):
            like = f", like {rule.example}" if rule.example else ""
            await error_response(f"Send the body as JSON, with Content-Type: application/json{like}.", 415)(
                scope, receive, send)
            return
        if rule.check is not None:
            try:
                rule.check(body)
            except BodyRefused as refused:
                await error_response(refused.message, refused.status)(scope, receive, send)
                return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only the disconnect, when it comes

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        too_big = BodyRefused(f"The request body is over {self.max_bytes // 1024} KB.", 413)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                raise BodyRefused("Content-Length must be a whole number.")
            if int(declared) > self.max_bytes:
                raise too_big
        deadline = self._clock() + self.seconds
        body = bytearray()
        while True:
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, deadline - self._clock()))
            except asyncio.TimeoutError:
                raise BodyRefused(f"The request body did not arrive within {self.seconds:g} seconds.", 408) from None
            if message["type"] == "http.disconnect":
                raise _ClientGone()
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                raise too_big
            if not message.get("more_body", False):
                return bytes(body)


def parse_json_object(body: bytes) -> dict:
    """The body as a JSON object, or `BodyRefused` saying what is wrong (never echoing the body)."""
    try:
        value = json.loads(body)
    # ValueError covers bad JSON, bad UTF-8 and numbers too long to convert; deep nesting overflows the parser.
    except (ValueError, RecursionError):
        raise BodyRefused("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise BodyRefused("The request body must be a JSON object.")
    return value
