"""The server's refusals, shared by the API and every middleware: a JSON `{"error": ...}` with a status, and
the one body-size limit. Light on purpose: middleware imports it without the answerer, FAISS or the models."""

from __future__ import annotations

from starlette.responses import JSONResponse

# Every POST the chat takes is small: a question (cut to 1,000 characters) or a chat page event.
MAX_BODY_BYTES = 64 * 1024


def error_response(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
