"""Safety triage: phrasings written for these tests (not copied from the question sets)."""

from __future__ import annotations

import pytest

from qa import safety, wording
from qa.config import Settings

EMERGENCY = [
    "my chest feels tight and heavy and I'm sweating",
    "I think I'm having a heart attack",
    "Dad's smile is crooked and drooping on the left",
    "her speech suddenly got slurred",
    "all of a sudden I can't lift my arm",
    "I suddenly went numb down one side of my body",
    "I can't breathe properly",
    "my throat is closing up after the injection",
    "he fainted in the kitchen and won't wake up",
    "the needle spot won't stop bleeding",
]
URGENT = [
    "the blister on my heel is oozing pus",
    "I have a sore on my foot that hasn't healed in a month",
    "my big toe is turning black",
    "my foot is cold and white and I can't feel a pulse there",
    "there's a red streak going up from the cut on my foot",
    "the wound on my foot is red and swollen and I have a fever",
]
CRISIS = [
    "I don't want to live anymore with this pain",
    "I've thought about suicide",
    "I want to kill myself",
    "everyone would be better off without me",
    "I've been hurting myself to cope",
    "I'm saving up my pills to take them all at once",
]
NOT_SAFETY = [
    "Will the needles hurt?",
    "my toes are numb and tingly, can acupuncture help?",
    "Is it normal to bleed a little when the needles come out?",
    "Will acupuncture help my cold feet?",
    "Can neuropathy cause muscle weakness in my legs?",
    "What are the side effects?",
    "Does acupuncture help with burning pain at night?",
    "I take blood thinners, is it safe?",
    "How many sessions do I need?",
    "Can exercise help my balance?",
]


@pytest.mark.parametrize("text", EMERGENCY)
def test_emergencies(text):
    assert safety.level_of(text) == "emergency"


@pytest.mark.parametrize("text", URGENT)
def test_urgent_problems(text):
    assert safety.level_of(text) == "urgent"


@pytest.mark.parametrize("text", CRISIS)
def test_crises(text):
    assert safety.level_of(text) == "crisis"


@pytest.mark.parametrize("text", NOT_SAFETY)
def test_everyday_neuropathy_questions_are_not_flagged(text):
    assert safety.level_of(text) is None


def test_crisis_outranks_emergency():
    assert safety.level_of("I want to end my life and my chest hurts") == "crisis"


def test_messages_use_the_configured_numbers():
    settings = Settings(emergency_number="112", crisis_line="116 123", crisis_line_name="Samaritans")
    assert "Call 112" in wording.safety_message("emergency", settings)
    crisis = wording.safety_message("crisis", settings)
    assert "116 123" in crisis and "Samaritans" in crisis and "112" in crisis
    assert "112" in wording.safety_message("urgent", settings)
    with pytest.raises(ValueError, match="Invalid safety level: severe. Choose from"):
        wording.safety_message("severe", settings)
