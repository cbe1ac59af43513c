"""The chat page's conversations in the server's memory: what one open page holds, and when it is dropped.

A page's conversation is a `Conversation` (its last MAX_TURNS questions and answers, as the chat shows them,
and which answers were rated), kept in Gradio's session state for that page and nowhere else: never on
disk, never in a log. `SessionJanitor` drops a page's whole session state (the conversation, and Gradio's
copies of what the page shows):

- when the visitor leaves: the page's heartbeat ends, Gradio runs the page's unload event (`forget`) and
  marks the session closed. Gradio itself would keep a closed session's state for an hour, for a page that
  reconnects (`SessionState.STATE_TTL_WHEN_CLOSED`), and what the page shows until the session is pushed out;
- after IDLE_SECONDS without a question or a click (a page left open, a client that never opened a page);
- at the latest when MAX_SESSIONS others are newer (Gradio's `state_session_capacity`).

`sweep` runs every SWEEP_SECONDS on the server's event loop, where Gradio touches its session state too.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from qa.outcome import Outcome

# The last questions and answers a page keeps (and sends with a follow-up); older ones leave the chat too.
MAX_TURNS = 20
# A conversation with no question or click for this long is dropped; the page then starts a new one.
IDLE_SECONDS = 15 * 60
# Sessions held at once; past it Gradio drops the oldest. At most ~100 KB each (MAX_TURNS answers): ~100 MB.
MAX_SESSIONS = 1000
SWEEP_SECONDS = 5.0
# A session dropped because its visitor left, if seen again this soon, is an answer that finished after they
# left (Gradio makes the session anew to store it): dropped again.
GONE_SECONDS = 60.0
log = logging.getLogger("uvicorn.error")


@dataclass(frozen=True)
class GivenReply:
    """What the server knows of a reply it gave, as data: how the question was handled and the sources cited.
    A thumbs up/down is recorded from this, never from the reply's markup."""

    outcome: Outcome
    sources: tuple[str, ...] = ()


@dataclass
class Conversation:
    """One page's chat: its messages as the chat shows them (`{"role", "content"}`, oldest first), for each
    assistant message the reply it was (`GivenReply`; None for the visitor's), and which have been rated (each
    answer may be rated once)."""

    messages: list[dict] = field(default_factory=list)
    rated: list[bool] = field(default_factory=list)
    given: list[GivenReply | None] = field(default_factory=list)

    def add(self, question: str, reply: str, suggestions: list[str] | tuple[str, ...] = (),
            given: GivenReply = GivenReply(Outcome.SMALL_TALK)) -> None:
        """A question and its reply (`given` says what it was), with the follow-up questions offered under it
        (Gradio shows a message's `options` as buttons under the newest reply); the oldest turns go once there
        are more than MAX_TURNS."""
        answer = {"role": "assistant", "content": reply}
        if suggestions:
            answer["options"] = [{"label": question_, "value": question_} for question_ in suggestions]
        self.messages += [{"role": "user", "content": question}, answer]
        self.rated += [False, False]
        self.given += [None, given]
        excess = len(self.messages) - 2 * MAX_TURNS
        if excess > 0:
            del self.messages[:excess], self.rated[:excess], self.given[:excess]

    def answer_at(self, index: object) -> GivenReply | None:
        """The reply at chat position `index`, if this conversation gave one there and it is not rated yet."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.messages):
            return None
        if self.messages[index]["role"] != "assistant" or self.rated[index]:
            return None
        return self.given[index]

    def question_before(self, index: int) -> str | None:
        """The visitor's question just before the reply at `index`, as the chat shows it."""
        for position in range(index - 1, -1, -1):
            if self.messages[position]["role"] == "user":
                content = self.messages[position]["content"]
                return content if isinstance(content, str) and content else None
        return None

    def suggestion_at(self, index: object) -> str | None:
        """The follow-up question at `index` among those offered under the newest reply (the only ones shown)."""
        if isinstance(index, bool) or not isinstance(index, int) or not self.messages:
            return None
        offered = self.messages[-1].get("options") or []
        return offered[index]["value"] if 0 <= index < len(offered) else None

    def mark_rated(self, index: int) -> None:
        self.rated[index] = True

    def forget(self) -> None:
        self.messages.clear()
        self.rated.clear()
        self.given.clear()


class SessionJanitor:
    """Drops chat sessions from Gradio's state holder: on `forget` (the visitor left), and on each `sweep`
    those Gradio marked closed, those idle for `idle_seconds`, and those made again after their visitor left."""

    def __init__(self, *, idle_seconds: float = IDLE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.idle = datetime.timedelta(seconds=idle_seconds)
        self._clock = clock
        self._blocks = None
        self._gone: dict[str, float] = {}  # session id -> when its visitor left (ids only, never content)

    def attach(self, blocks) -> None:
        """The chat page whose sessions this janitor drops (its state holder is set when it is served)."""
        self._blocks = blocks

    @property
    def _holder(self):
        return getattr(self._blocks, "state_holder", None)

    def held(self) -> int:
        """How many sessions Gradio holds now."""
        holder = self._holder
        return len(holder.session_data) if holder is not None else 0

    def forget(self, session: str | None, reason: str = "the visitor left") -> bool:
        """Drop `session` now; True if it was held."""
        if not session:
            return False
        if reason == "the visitor left":
            self._gone[session] = self._clock()
        dropped = self._drop(session)
        if dropped:
            log.info("A chat page's conversation was dropped from memory (%s); %d held.", reason, self.held())
        return dropped

    def sweep(self, now: datetime.datetime | None = None) -> int:
        """Drop what is due; returns how many sessions were dropped."""
        holder = self._holder
        if holder is None:
            return 0
        now = now or datetime.datetime.now()  # Gradio stamps its sessions' last use with naive local time
        moment = self._clock()
        self._gone = {s: t for s, t in self._gone.items() if moment - t < GONE_SECONDS}
        dropped = 0
        for session, state in list(holder.session_data.items()):
            last_used = holder.time_last_used.get(session)
            if state.is_closed or session in self._gone:
                reason = "the visitor left"
            elif last_used is None or now - last_used > self.idle:
                reason = f"no question for {int(self.idle.total_seconds() // 60)} minutes"
            else:
                continue
            dropped += self.forget(session, reason)
        return dropped

    async def run(self, every: float = SWEEP_SECONDS) -> None:
        """Sweep every `every` seconds, until cancelled (app.py runs it for the server's lifetime)."""
        while True:
            self.sweep()
            await asyncio.sleep(every)

    def _drop(self, session: str) -> bool:
        holder = self._holder
        if holder is None:
            return False
        with holder.lock:
            state = holder.session_data.pop(session, None)
            holder.time_last_used.pop(session, None)
        if state is None:
            return False
        for value in state.state_data.values():
            if isinstance(value, Conversation):
                value.forget()  # also for a reference an answer still being worked out holds
        return True
