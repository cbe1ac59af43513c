"""The server's logs: uvicorn's, with nothing in its access log that names a chat session.

A chat page's session id is in the path of its heartbeat (`/gradio_api/heartbeat/<id>`) and in the query of
its answers (`/gradio_api/queue/data?session_hash=<id>`); whoever has the id could speak for that page. The
access log keeps each request's method, path and status, with the id replaced by `{session}` and no query
string (nginx logs the same way: deploy/nginx/acupuncture-qa.conf). Our own lines (server/bodies.py,
server/sessions.py) go to uvicorn's error log and never hold what a visitor typed.
"""

from __future__ import annotations

import copy
import logging
import re

_SESSION_IN_PATH = re.compile(r"^(/gradio_api/heartbeat/)[^/?]+")


def redacted_path(path: str) -> str:
    """A request's path as the access log shows it.

    >>> redacted_path("/gradio_api/heartbeat/fqsdiwgjllo")
    '/gradio_api/heartbeat/{session}'
    >>> redacted_path("/gradio_api/queue/data?session_hash=fqsdiwgjllo"), redacted_path("/api/ask")
    ('/gradio_api/queue/data', '/api/ask')
    """
    return _SESSION_IN_PATH.sub(r"\1{session}", path.split("?", 1)[0])


class RedactSessionIds(logging.Filter):
    """For uvicorn's access log, whose records' args are (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redacted_path(args[2]), args[3], args[4])
        return True


def uvicorn_log_config() -> dict:
    """uvicorn's own logging setup, with the access log redacted."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_session_ids"] = {"()": RedactSessionIds}
    config["handlers"]["access"].setdefault("filters", []).append("redact_session_ids")
    return config
