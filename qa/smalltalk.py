"""Greetings, thanks and goodbyes: they get a short friendly reply, not an abstention.

Only messages made of small-talk words and nothing else count, so "hi, will the needles
hurt?" is a question.

>>> kind_of("Hello!"), kind_of("thanks so much :)"), kind_of("hi, will the needles hurt?")
(<MessageKind.GREETING: 'greeting'>, <MessageKind.THANKS: 'thanks'>, None)
"""

from __future__ import annotations

import re
from enum import StrEnum


class MessageKind(StrEnum):
    """What a visitor's message is, as qa/query.py prepares it: a question, or small talk of one kind.
    A StrEnum: it is its value wherever it is stored or shown ("greeting")."""

    QUESTION = "question"
    EMPTY = "empty"
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"

_GREETING = {"hi", "hello", "hey", "hiya", "howdy", "greetings", "morning", "afternoon", "evening", "good", "there", "yo", "hola"}
_THANKS = {"thanks", "thank", "you", "thx", "ty", "so", "much", "very", "great", "helpful", "that", "was", "this", "is",
           "ok", "okay", "cool", "awesome", "perfect", "got", "it", "appreciate", "appreciated", "cheers", "a", "lot", "nice"}
_BYE = {"bye", "goodbye", "see", "ya", "later", "take", "care", "good", "night", "goodnight", "you"}


def kind_of(text: str) -> MessageKind | None:
    words = re.findall(r"[a-z]+", text.lower())
    if not words or len(words) > 8:
        return None
    bag = set(words)
    if bag & {"thanks", "thank", "thx", "ty", "appreciate", "appreciated", "cheers"} and bag <= _THANKS | _GREETING:
        return MessageKind.THANKS
    if bag & {"bye", "goodbye", "goodnight"} or bag in ({"see", "ya"}, {"take", "care"}):
        if bag <= _BYE | _THANKS:
            return MessageKind.GOODBYE
    if bag & {"hi", "hello", "hey", "hiya", "howdy", "greetings", "hola", "morning", "afternoon", "evening"} and bag <= _GREETING:
        return MessageKind.GREETING
    return None
