"""The chat page's side of Gradio's protocol, spoken as its browser speaks it, for tests that play a visitor
(or someone pretending to be one) without a browser.

    page = ChatPage.open(client)            # GET /, read the page's config: its events and their components
    reply = page.ask("Will the needles hurt?")
    assert reply.ok and "qa-answer" in reply.last_message

An event is `POST /gradio_api/queue/join` (the function's index, the values, the session id), then the
answer streamed from `GET /gradio_api/queue/data?session_hash=...`, read until the event completes. Nothing
here knows more than the page's own HTML tells a browser.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

import httpx

_CONFIG = re.compile(r"window\.gradio_config = (\{.*?\});\s*</script>", re.S)
_EVENTS = {"ask": ("qa-input", "submit"), "example": ("qa-chat", "example_select"),
           "suggestion": ("qa-chat", "option_select"), "rate": ("qa-chat", "like"),
           "clear": ("qa-chat", "clear")}


def new_session_id() -> str:
    """A session id like the ones Gradio's browser code makes."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(11))


@dataclass
class Reply:
    """How an event ended: `status` of the join, then the completion message (None if refused at the door)."""

    status: int
    completed: dict | None = None
    refusal: dict | None = None  # the join's JSON body when it was refused

    @property
    def ok(self) -> bool:
        return self.completed is not None and self.completed.get("success") is True

    @property
    def error(self) -> str | None:
        """The message the page would show (Gradio's error toast), if the event failed."""
        if self.completed is None or self.completed.get("success"):
            return None
        output = self.completed.get("output") or {}
        return output.get("error")

    @property
    def chat(self) -> list[dict]:
        """The chat's messages after the event (the first output: the chatbot)."""
        return self.completed["output"]["data"][0]

    @property
    def last_message(self) -> str:
        content = self.chat[-1]["content"]
        return content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)


@dataclass
class ChatPage:
    """One open chat page: its session id and its events (function index, component id) as its config says."""

    client: httpx.Client
    events: dict[str, tuple[int, int]]
    session: str = field(default_factory=new_session_id)

    @classmethod
    def open(cls, client: httpx.Client, session: str | None = None) -> "ChatPage":
        response = client.get("/")
        response.raise_for_status()
        config = json.loads(_CONFIG.search(response.text).group(1))
        ids = {c["props"].get("elem_id"): c["id"] for c in config["components"]}
        events = {}
        for kind, (elem_id, trigger) in _EVENTS.items():
            events[kind] = next((d["id"], ids[elem_id]) for d in config["dependencies"]
                                if [ids[elem_id], trigger] in d["targets"])
        return cls(client, events, session or new_session_id())

    def send(self, kind: str, data: list, event_data: Any = None, *, body: dict | None = None) -> Reply:
        """The event `kind` with `data`; `body` replaces the whole request (for crafted ones)."""
        fn_index, trigger = self.events[kind]
        request = body if body is not None else {"data": data, "event_data": event_data, "fn_index": fn_index,
                                                 "trigger_id": trigger, "session_hash": self.session}
        # ensure_ascii: a lone surrogate goes as a "\ud800" escape, as a browser's JSON.stringify sends it.
        joined = self.client.post("/gradio_api/queue/join", content=json.dumps(request).encode(),
                                  headers={"Content-Type": "application/json"})
        if joined.status_code != 200:
            try:
                refusal = joined.json()
            except ValueError:
                refusal = {"text": joined.text}
            return Reply(joined.status_code, refusal=refusal)
        event_id = joined.json()["event_id"]
        with self.client.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                    return Reply(200, completed=message)
        raise AssertionError(f"the stream ended before event {event_id} completed")

    def ask(self, message: Any) -> Reply:
        return self.send("ask", [message, None])

    def example(self, index: int, text: str = "") -> Reply:
        return self.send("example", [None], {"index": index, "value": {"text": text}})

    def suggestion(self, index: int, value: Any = "") -> Reply:
        """A follow-up question under the newest reply clicked (the browser also sends its text: never read)."""
        return self.send("suggestion", [None], {"index": index, "value": value})

    def rate(self, index: int, liked: bool | str = True, value: Any = "") -> Reply:
        return self.send("rate", [None], {"index": index, "value": value, "liked": liked})

    def clear(self) -> Reply:
        return self.send("clear", [None])
