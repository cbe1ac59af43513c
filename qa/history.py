"""The conversation before a question: the one place that says what a valid chat history is.

A history is a list of `{"role": "user" | "assistant", "content": str}` messages, oldest first. `validate`
checks one strictly and says, in the caller's own terms, what is wrong (`POST /api/ask`, `python -m qa ask
--history`, a question set's `history` field all use it); `lenient` keeps only the well-formed messages
(the chat page's own history, and the answerer, which must never fail on one); `user_turns` is what a
follow-up question leans on.

    >>> validate([{"role": "user", "content": "I take warfarin."}])
    [{'role': 'user', 'content': 'I take warfarin.'}]
    >>> validate([{"role": "bot", "content": "hi"}])
    Traceback (most recent call last):
    ...
    qa.history.HistoryError: "history[0].role" must be "user" or "assistant", got "bot".
"""

from __future__ import annotations

import json
from typing import Any

from .errors import QAError

ROLES = ("user", "assistant")


class HistoryError(QAError):
    """A chat history that is not a list of {"role": "user"|"assistant", "content": str} messages."""


def kind_of(value: Any) -> str:
    """The JSON name of a value's type, for messages: "a string", "a list", "null"."""
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def text(value: Any, where: str) -> str:
    """`value` as text; HistoryError naming `where` when it is not a string or not valid Unicode."""
    if not isinstance(value, str):
        raise HistoryError(f'"{where}" must be a string, got {kind_of(value)}.')
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate from a "\ud800" escape
        raise HistoryError(f'"{where}" is not valid Unicode text.') from exc
    return value


def validate(history: Any, *, name: str = "history") -> list[dict]:
    """The messages of a history, checked; HistoryError names the first message and field at fault."""
    if not isinstance(history, list):
        raise HistoryError(f'"{name}" must be a list of {{"role", "content"}} messages, got {kind_of(history)}.')
    turns = []
    for i, message in enumerate(history):
        if not isinstance(message, dict):
            raise HistoryError(f'"{name}[{i}]" must be an object {{"role": "user", "content": "..."}}, got {kind_of(message)}.')
        if message.get("role") not in ROLES:
            raise HistoryError(f'"{name}[{i}].role" must be "user" or "assistant", got {json.dumps(message.get("role"))[:40]}.')
        turns.append({"role": message["role"], "content": text(message.get("content"), f"{name}[{i}].content")})
    return turns


def lenient(history: Any, *, content=lambda value: value if isinstance(value, str) else "") -> list[dict]:
    """The well-formed messages of whatever was passed, in order; others dropped. `content` turns a message's
    content into text (the chat page's messages can hold files and lists of parts)."""
    if not isinstance(history, (list, tuple)):
        return []
    return [{"role": m["role"], "content": content(m.get("content"))}
            for m in history if isinstance(m, dict) and m.get("role") in ROLES]


def user_turns(history: Any) -> list[str]:
    """What the person said before, stripped, empty messages left out.

    >>> user_turns([{"role": "user", "content": " I take warfarin. "}, {"role": "assistant", "content": "..."}, "junk"])
    ['I take warfarin.']
    """
    return [t for t in (str(m["content"] or "").strip() for m in lenient(history, content=lambda v: v)
                        if m["role"] == "user") if t]
