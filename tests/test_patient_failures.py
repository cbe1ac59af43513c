"""Failures found by trying the chat as a patient would (issue 20), end to end: the real model, the real index of
sources/ with its question bank, the real cross-encoder and the shipped abstention model."""
from __future__ import annotations

import pytest

from qa import wording

SESSIONS = "how many sessions will I need"


def first(answer: dict) -> dict:
    assert not answer["abstained"] and answer["passages"], answer["answer_markdown"][:300]
    return answer["passages"][0]


def test_a_question_that_stands_on_its_own_is_not_read_as_a_follow_up(real_answerer):
    alone = first(real_answerer.ask("is it ok if I'm on warfarin"))
    assert "blood thinners" in alone["text"]
    earlier = real_answerer.ask(SESSIONS)
    history = [{"role": "user", "content": SESSIONS},
               {"role": "assistant", "content": first(earlier)["text"]}]
    after = first(real_answerer.ask("is it ok if I'm on warfarin", history))
    assert "blood thinners" in after["text"], f"pulled toward the previous topic: {after['text'][:120]}"
    assert (after["source_id"], after["section"]) == (alone["source_id"], alone["section"])


def test_a_real_follow_up_still_leans_on_the_conversation(real_answerer):
    history = [{"role": "user", "content": "I take blood thinners."},
               {"role": "assistant", "content": "Noted."}]
    answer = first(real_answerer.ask("Can I still get it?", history))
    assert "blood thinners" in answer["text"]


@pytest.mark.parametrize("question", [
    "if it works can I stop my gabapentin?",
    "can I drop my treatment and just do acupuncture?",
    "could acupuncture replace my lyrica eventually",
    "is it fine to keep taking my metformin while having acupuncture",
])
def test_stopping_or_replacing_a_medicine_is_answered_with_the_caution_first(real_answerer, question):
    answer = real_answerer.ask(question)
    assert not answer["abstained"], f"{question!r} was refused as not covered"
    assert answer["safety"] is None
    markdown = answer["answer_markdown"]
    assert wording.MEDICINE_CAUTION in markdown
    assert markdown.index(wording.MEDICINE_CAUTION) < markdown.index(answer["passages"][0]["text"][:40])
    shown = " ".join(p["text"].lower() for p in answer["passages"])
    assert any(w in shown for w in ("complement", "addition to conventional", "conventional treatment",
                                    "ongoing treatments", "primary healthcare provider")), shown[:300]


@pytest.mark.parametrize("question", [
    "what should I wear to my first appointment?",
    "what should I eat before a session?",
    "is there parking near the clinic",
])
def test_visit_practicalities_the_articles_never_mention_are_not_covered(real_answerer, question):
    answer = real_answerer.ask(question)
    assert answer["abstained"] and answer["passages"] == [], [p["text"][:80] for p in answer["passages"]]
    assert answer["safety"] is None


@pytest.mark.parametrize("question, covered, about", [
    ("does acupuncture help the burning in my feet, and how much does a visit cost?",
     "does acupuncture help the burning in my feet", "prices"),
    ("Will the needles hurt? Do you take Medicare?", "Will the needles hurt?", "insurance"),
    ("is acupuncture safe if I'm on blood thinners and can I book for tomorrow?",
     "is acupuncture safe if I'm on blood thinners", "appointments and visits"),
])
def test_a_question_asked_beside_one_the_articles_do_not_cover_is_answered_with_a_note(real_answerer, question,
                                                                                        covered, about):
    answer = real_answerer.ask(question)
    assert not answer["abstained"] and answer["passages"], answer["answer_markdown"][:300]
    note = next(n for n in answer["notes"] if n.startswith("Your message also asks about"))
    assert about in note and "please ask the clinic" in note
    # Answered as its covered question alone would be: the request does not pull the passages toward itself.
    alone = real_answerer.ask(covered)
    assert [p["text"] for p in answer["passages"]] == [p["text"] for p in alone["passages"]]


@pytest.mark.parametrize("question", [
    "how much does a visit cost and do you take insurance?",   # both parts are clinic business
    "can acupuncture help my migraines?",                       # one question, about another condition
    "what is moxibustion, and is it good for numb feet?",       # the second question is about the first's topic
])
def test_a_message_with_nothing_the_articles_cover_is_still_refused(real_answerer, question):
    answer = real_answerer.ask(question)
    assert answer["abstained"] and answer["passages"] == [], [p["text"][:80] for p in answer["passages"]]
    assert not any(n.startswith("Your message also asks about") for n in answer["notes"])
