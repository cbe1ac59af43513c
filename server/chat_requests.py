"""What the chat page's browser may send Gradio: each `POST /gradio_api/queue/join`, checked before Gradio
reads it (server/bodies.py runs `ChatRequests.check` on the body).

The page has five events, each one of our functions in server/chat.py, tagged with `page_event`:

    ask         a typed question            data [message, null]   the message is checked by the function itself
    example     an example clicked          data [null]            event_data {"index": i, "value": ...}: only i is read
    suggestion  a follow-up question chip   data [null]            event_data {"index": i, "value": ...}: only i is read
    rate        a thumbs up or down         data [null]            event_data {"index": i, "value": ..., "liked": ...}
    clear       the bin: start over         data [null]

(`null` is what the browser sends for the conversation, which stays on the server.) A request is refused
with 400 unless it has the keys the browser sends and no others, a session id of the page's kind, one of
those five functions, data and event data of that function's shape, and only valid Unicode text. So
Gradio never runs a function the page does not use (ChatInterface's retry, undo, edit, its `/chat` API),
never sees a payload it would fail on (a `null` message, event data without an index, a lone surrogate),
and nothing of a refused body is logged or echoed.

The answers come back on `GET /gradio_api/queue/data?session_hash=...`, which `AnswerStreams` opens only
for a session that has asked something (Gradio's queue holds its messages from the first `queue/join`). For
any other session Gradio would start a 200 stream and then fail inside it: a 60-line traceback in the log
for every such request, which anyone could make. It is a 404 here instead.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Literal, TypeVar
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from .bodies import BodyRefused, parse_json_object
from .responses import error_response
from .routes import SESSION_ID

EventKind = Literal["ask", "example", "suggestion", "rate", "clear"]
EVENT_KINDS: tuple[EventKind, ...] = ("ask", "example", "suggestion", "rate", "clear")
# The keys Gradio's browser code sends with an event.
KEYS = {"data", "event_data", "fn_index", "trigger_id", "session_hash"}
_SESSION_ID = re.compile(SESSION_ID)
F = TypeVar("F", bound=Callable[..., Any])


def page_event(kind: EventKind) -> Callable[[F], F]:
    """Marks a function of the chat page as the handler of one of its events (see the table above)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"Unknown page event: {kind!r}. Choose from {', '.join(EVENT_KINDS)}.")

    def mark(fn: F) -> F:
        fn.page_event = kind  # type: ignore[attr-defined]
        return fn

    return mark


def page_events(demo) -> dict[int, tuple[EventKind, int]]:
    """The page's events, by Gradio's function index: (kind, number of inputs)."""
    return {index: (fn.fn.page_event, len(fn.inputs)) for index, fn in demo.fns.items()
            if getattr(fn.fn, "page_event", None) in EVENT_KINDS}


def valid_text(value: str) -> bool:
    """Text that can be written as UTF-8: no lone surrogates (which a JSON "\\ud800" escape makes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _is_index(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, list) and len(value) == 2 and all(_is_index(v) and isinstance(v, int) for v in value)


class ChatRequests:
    """The check of `POST /gradio_api/queue/join` bodies for one chat page (`events`: `page_events(demo)`)."""

    def __init__(self, events: dict[int, tuple[EventKind, int]]):
        kinds = sorted(kind for kind, _inputs in events.values())
        if kinds != sorted(EVENT_KINDS):
            raise ValueError(f"The chat page must have one handler for each of {', '.join(EVENT_KINDS)}; "
                             f"it has {', '.join(kinds) or 'none'}: mark them with @page_event.")
        self.events = events

    def check(self, body: bytes) -> None:
        """Nothing if the chat page could have sent `body`; else `BodyRefused` (400) saying what is wrong."""
        try:
            request = parse_json_object(body)
        except BodyRefused:
            self._refuse("it is not a JSON object")
        if not KEYS >= set(request) >= {"data", "fn_index", "session_hash"}:
            self._refuse(f"its keys are {', '.join(sorted(map(str, request)))}")
        session = request["session_hash"]
        if not isinstance(session, str) or not _SESSION_ID.fullmatch(session):
            self._refuse("the session id is not one the page makes")
        fn_index = request["fn_index"]
        if isinstance(fn_index, bool) or not isinstance(fn_index, int) or fn_index not in self.events:
            self._refuse("it names no event of the page")
        trigger = request.get("trigger_id")
        if trigger is not None and (isinstance(trigger, bool) or not isinstance(trigger, int)):
            self._refuse("trigger_id is not a number")
        kind, inputs = self.events[fn_index]
        data, event_data = request["data"], request.get("event_data")
        if not isinstance(data, list) or len(data) != inputs:
            self._refuse(f"the {kind} event takes {inputs} values")
        if kind == "ask":
            # The message only has to be text or null here: the page's function answers a null or unreadable
            # message itself, kindly (server/chat.py). The conversation is the server's: the browser sends null.
            if not (data[0] is None or isinstance(data[0], str)) or any(v is not None for v in data[1:]):
                self._refuse("the message must be text")
            if event_data is not None:
                self._refuse("a question carries no event data")
            rest = [event_data]
        else:
            if any(v is not None for v in data):
                self._refuse(f"the {kind} event sends no values")
            if kind in ("example", "suggestion", "rate"):
                if not isinstance(event_data, dict) or not _is_index(event_data.get("index")) or "value" not in event_data:
                    self._refuse(f"the {kind} event needs the index of what was clicked")
                if kind == "rate" and not isinstance(event_data.get("liked", True), (bool, str, type(None))):
                    self._refuse("liked must be true, false or a label")
            elif event_data is not None:
                self._refuse("clearing the chat carries no event data")
            rest = [event_data]
        if not all(valid_text(text) for text in _strings([request["session_hash"], rest])):
            self._refuse("it holds text that is not valid Unicode")

    @staticmethod
    def _refuse(reason: str) -> None:
        raise BodyRefused(f"This is not a request the chat page sends: {reason}.")


ANSWERS_PATH = "/gradio_api/queue/data"
NO_ANSWERS = "No answers are waiting for this page: its questions are sent with POST /gradio_api/queue/join first."


def stream_session(query_string: bytes) -> str | None:
    """The session id a `queue/data` request names (the last one, as FastAPI reads it), if it is of the page's kind.

    >>> [stream_session(q) for q in (b"session_hash=fqsdiwgjllo", b"session_hash=a&session_hash=b", b"", b"session_hash=../x")]
    ['fqsdiwgjllo', 'b', None, None]
    """
    values = parse_qs(query_string.decode("latin-1"), keep_blank_values=True).get("session_hash")
    session = values[-1] if values else None
    return session if session is not None and _SESSION_ID.fullmatch(session) else None


class AnswerStreams:
    """ASGI middleware: `GET /gradio_api/queue/data` goes on to Gradio only for a session its queue knows
    (one that has joined an event); any other is answered 404 `{"error": ...}` (see the module's docstring).
    `blocks` is the chat page; its queue is read at each request (Gradio makes it when the page is served)."""

    def __init__(self, app: ASGIApp, *, blocks):
        self.app = app
        self.blocks = blocks

    def _known(self, session: str | None) -> bool:
        queue = getattr(self.blocks, "_queue", None)
        return session is not None and queue is not None and session in queue.pending_messages_per_session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["path"] == ANSWERS_PATH
                and not self._known(stream_session(scope.get("query_string", b"")))):
            await error_response(NO_ANSWERS, 404)(scope, receive, send)
            return
        await self.app(scope, receive, send)
