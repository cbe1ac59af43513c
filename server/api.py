"""The JSON API: `POST /api/ask` (the contract's answer object) and `GET /healthz`.

The body of a question is read as it arrives and refused once it is over 64 KB, whatever Content-Length
claims, then checked field by field: bad input gets a 4xx `{"error": "..."}` that says what to send instead,
never a 5xx. Answers are worked out on a pool of their own threads, so the event loop keeps serving.
Each answer is recorded as one insights event (qa/insights/): queued, never waited on, and never with the
question's text, because the widget's panel, which asks here, tells visitors that nothing they type is stored.
CORS and the rate limit are not here: they wrap this path as middleware (server/guard.py).
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from index import SearchIndex, SearchIndexError
from qa import Answerer, QAError
from qa import history as conversation
from qa.history import HistoryError, kind_of as _kind
from qa.insights.events import answer_event
from qa.insights.store import EventStore

from .loader import LazyAnswerer, not_ready_message
from .responses import MAX_BODY_BYTES, error_response

# /api/ask answers on one thread per core, first come first served. More answers at once only contend for
# the cores and the GIL: at 16 clients, p95 155 -> 96 ms and answers/s 157 -> 190 (bench/RESULTS.md, "HTTP").
API_ANSWER_THREADS = os.cpu_count() or 1
EXAMPLE_BODY = '{"question": "Will the needles hurt?"}'


class ApiError(Exception):
    """A request the API cannot answer: bad input (4xx) or the service not ready (503).

    Becomes the response `{"error": message}` with `status`.
    """

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class AskRequest:
    question: str
    history: list[dict] | None


def parse_ask_request(raw: bytes) -> AskRequest:
    """Validate a /api/ask body; `ApiError` says what is wrong and what to send instead."""
    if not raw.strip():
        raise ApiError(f"The request body is empty. Send JSON like {EXAMPLE_BODY}.")
    try:
        body = json.loads(raw)
    # ValueError covers bad JSON, bad UTF-8 and numbers too long to convert; deep nesting overflows the parser.
    except (ValueError, RecursionError) as exc:
        reason = str(exc)[:120] if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise ApiError(f"The request body is not valid JSON ({reason}). Send JSON like {EXAMPLE_BODY}.") from exc
    if not isinstance(body, dict):
        raise ApiError(f"The request body must be a JSON object like {EXAMPLE_BODY}, got {_kind(body)}.")
    if "question" not in body:
        raise ApiError(f'"question" is missing. Send JSON like {EXAMPLE_BODY}.')
    try:
        question = conversation.text(body["question"], "question")
        turns = None if body.get("history") is None else conversation.validate(body["history"])
    except HistoryError as exc:  # its message names the field; here it is a 400
        raise ApiError(str(exc)) from exc
    return AskRequest(question, turns)


async def read_ask_request(request: Request) -> AskRequest:
    """The request body, refused as soon as it is over the limit, whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError("Content-Length must be a whole number.")
        if int(declared) > MAX_BODY_BYTES:
            raise ApiError(f"The request body is over {MAX_BODY_BYTES // 1024} KB.", status=413)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(f"The request body is over {MAX_BODY_BYTES // 1024} KB.", status=413)
    return parse_ask_request(bytes(raw))


def health(index: SearchIndex) -> dict:
    """`GET /healthz`'s figures for the index being served."""
    return {
        "status": "ok",
        "passages": len(index.passages),
        "sources": len(index.source_ids),
        "model": index.model_name,
    }


def add_api_routes(app: FastAPI, answerers: LazyAnswerer, events: EventStore | None = None) -> None:
    """POST /api/ask, its answer for other methods, GET /healthz, and `ApiError` turned into responses.
    Each answer goes to `events` (when given) as one event."""

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.message, exc.status)

    def ready() -> Answerer:
        try:
            return answerers.get()
        except (SearchIndexError, QAError) as exc:
            raise ApiError(not_ready_message(exc), status=503) from exc

    answer_pool = ThreadPoolExecutor(max_workers=API_ANSWER_THREADS, thread_name_prefix="api-answer")

    # The body is read and checked by the async dependency; the answer is worked out on the answer pool,
    # so the event loop keeps serving other requests meanwhile.
    @app.post("/api/ask")
    async def ask(body: AskRequest = Depends(read_ask_request)) -> JSONResponse:
        def answer() -> dict:
            result = ready().answer(body.question, body.history)
            if events is not None:
                events.record(answer_event(result, channel="api"))  # a queue put: the disk is the writer's business
            return result.answer

        return JSONResponse(await asyncio.get_running_loop().run_in_executor(answer_pool, answer))

    # Without this, a GET would fall through to the chat mounted at "/" and get its HTML 404.
    @app.api_route("/api/ask", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def ask_wrong_method(request: Request) -> JSONResponse:
        return error_response(f"Use POST with JSON like {EXAMPLE_BODY}, not {request.method}.", 405)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse(health(ready().index))
