"""Preparing a question: trimming, small talk, language, spelling, glossary, follow-ups."""

from __future__ import annotations

import re

import pytest

from qa.glossary import Glossary, default_glossary
from qa.language import detect
from qa.query import QueryBuilder
from qa.smalltalk import kind_of

CORPUS = [
    "Most patients feel little to no pain during acupuncture sessions.",
    "People taking blood thinners should ask their doctor first.",
    "Chemotherapy can damage nerves and cause neuropathy.",
    "Acupuncture may reduce numbness and tingling in the feet.",
]


def builder_for(corpus: list[str], glossary: Glossary, **options) -> QueryBuilder:
    """A QueryBuilder over `corpus`, with the BM25 vocabulary the index would give it."""
    from index import lexical

    vocabulary = {t for text in corpus for t in lexical.tokenize([text])[0]}
    return QueryBuilder(corpus_texts=corpus, lexical_vocabulary=vocabulary, glossary=glossary, **options)


@pytest.fixture
def builder():
    glossary = Glossary({"blood thinners": ["warfarin", "eliquis"], "chemotherapy": ["chemo"], "pain": ["hurt", "hurts"]})
    return builder_for(CORPUS, glossary, max_chars=60)


def test_typos_are_corrected_to_corpus_words_but_real_words_are_left(builder):
    prepared = builder.prepare("Do acupunture sesions cost much?")
    assert prepared.corrections == {"acupunture": "acupuncture", "sesions": "sessions"}
    assert prepared.query.question.searched.startswith("Do acupuncture sessions cost much?")
    assert prepared.unknown_terms == ["cost"]


def test_glossary_adds_the_articles_words(builder):
    prepared = builder.prepare("Is it OK with Warfarin after chemo? Will it hurt?")
    assert prepared.query.question.terms == ("blood thinners", "chemotherapy", "pain")
    assert prepared.query.question.searched.endswith("(blood thinners, chemotherapy, pain)")
    assert prepared.unknown_terms == []  # lay words the glossary knows are known


def test_chat_spellings_are_expanded(builder):
    prepared = builder.prepare("wat if im on warfarin")
    assert prepared.query.question.searched.startswith("what if I'm on warfarin")


def test_vague_follow_up_leans_on_the_previous_user_message(builder):
    history = [{"role": "user", "content": "I take blood thinners."}, {"role": "assistant", "content": "Noted."}]
    prepared = builder.prepare("Can I still get it?", history)
    assert prepared.context == "I take blood thinners."
    assert prepared.query.context_weight == 1.0  # the question alone has no key term
    specific = builder.prepare("Does chemotherapy damage nerves and cause numbness?", history)
    assert specific.context is None  # a question that stands alone ignores the history


def test_history_with_odd_shapes_is_ignored(builder):
    prepared = builder.prepare("Can I still get it?", [{"role": "system", "content": "x"}, "junk", {"content": None}])
    assert prepared.context is None


def test_long_questions_are_trimmed_and_flagged(builder):
    prepared = builder.prepare("needles " * 20)
    assert prepared.truncated and len(prepared.text) <= 60


@pytest.mark.parametrize("text, kind", [("", "empty"), ("   \n ", "empty"), ("Hi there!", "greeting"),
                                        ("thank you so much", "thanks"), ("bye!", "goodbye"),
                                        ("hi, will the needles hurt?", "question")])
def test_kinds_of_message(builder, text, kind):
    assert builder.prepare(text).kind == kind


def test_small_talk_only_when_nothing_else_is_said():
    assert kind_of("hello") == "greeting"
    assert kind_of("thanks, and does it help numbness?") is None


@pytest.mark.parametrize("text, language", [
    ("¿La acupuntura duele mucho?", "es"),
    ("Est-ce que l'acupuncture fait mal aux pieds?", "fr"),
    ("Hilft Akupunktur bei Neuropathie in den Füßen?", "de"),
    ("Акупунктура помогает при нейропатии?", "ru"),
    ("A acupuntura dói muito para neuropatia?", "pt"),
    ("Ist Akupunktur sicher, wenn ich Blutverdünner nehme?", "de"),
    ("Quante sedute di agopuntura servono per la neuropatia alle gambe?", "it"),
    ("is it ok w warfarin", "en"),
    ("does acupunture help nueropathy", "en"),
])
def test_language_detection(text, language):
    assert detect(text) == language


def test_every_question_of_the_question_sets_reads_as_english():
    """Patients' English, typos and chat spellings included, never gets the "not English" note."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "eval"
    questions = [json.loads(line)["question"] for name in ("questions.jsonl", "holdout.jsonl", "calibration.jsonl")
                 for line in (root / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) == 364
    assert [q for q in questions if detect(q) != "en"] == []


def test_default_glossary_loads_and_maps_drug_names():
    glossary = default_glossary()
    assert "blood thinners" in glossary.expansions("I'm on Eliquis")
    assert "chemotherapy" in glossary.expansions("numb after chemo")


def test_unsupported_requests_count_only_in_words_the_articles_never_use(builder):
    assert builder.prepare("How much does a session cost?").unsupported_requests == ["pricing"]
    assert builder.prepare("Write me an email to my doctor").unsupported_requests == ["writing and other tasks"]
    assert builder.prepare("What dose should I take?").unsupported_requests == ["dosing"]
    assert builder.prepare("Will the needles hurt?").unsupported_requests == []


def test_a_misspelt_list_word_counts_as_the_word(builder):
    assert builder.prepare("do you treat siatica too").uncovered_topics == ["other conditions"]
    assert builder.prepare("is acupressur the same thing?").uncovered_topics == ["other therapies"]
    # Not a typo of a list word: an English word near one ("coast", "dosage" is listed; "postage" is English),
    # a short word, and a typo the spelling fixer corrects to an article's word.
    assert builder.prepare("we live on the coast, is postage extra?").unsupported_requests == []
    assert builder.prepare("acupunture for numbnes in the feet?").unsupported_requests == []
    assert builder.prepare("acupunture for numbnes in the feet?").uncovered_topics == []
    # A likelier typo of an everyday word is not a list word: "injured", "message", "extensive", "killing", and
    # "medicar", as near "medical" (far more common) as "medicare".
    for typo in ("my nerves were injurred in a crash, can it help?", "can I send a messege about my feet",
                 "is the treatment extensiv?", "the burning is killling me", "is it medicar approved"):
        prepared = builder.prepare(typo)
        assert prepared.unsupported_requests == [] and prepared.uncovered_topics == [], typo


def test_a_program_named_in_a_spanish_message_counts_as_the_request_it_is(builder):
    prepared = builder.prepare("mi abuela tiene neuropatía, ¿aceptan Medi-Cal?")
    assert prepared.language == "es" and prepared.unsupported_requests == ["insurance"]


def test_the_lists_words_are_never_spell_corrected_into_article_words():
    corpus = CORPUS + ["Medical care and medicine matter; walking helps; symptoms come and go."]
    builder = builder_for(corpus, Glossary({}))
    for question, kind in (("Do you take Medi-Cal?", "insurance"), ("do u take medicade", "insurance"),
                           ("Is it covered by workers comp?", "insurance"), ("Do you accept walk-ins?", "booking and logistics")):
        prepared = builder.prepare(question)
        assert prepared.corrections == {} and kind in prepared.unsupported_requests, question
    # A typo of an article's word is still corrected to it, never to a list word.
    assert builder.prepare("is walkng good for my feet").corrections == {"walkng": "walking"}


def test_curly_apostrophes_and_phone_hyphens_read_as_straight_ones(builder):
    assert builder.prepare("What’s the price of a session?").unsupported_requests == ["pricing"]
    assert builder.prepare("Who’s the acupuncturist there?").unsupported_requests == ["clinic, staff and liability"]
    assert "insurance" in builder.prepare("Do you take Medi\u2011Cal?").unsupported_requests
    assert builder.prepare("I’m on warfarin, is it OK?").query.question.terms == ("blood thinners",)


def test_a_clinic_article_about_prices_switches_the_pricing_signal_off():
    builder = builder_for(CORPUS + ["A session costs 80 dollars; the cost is the same for every visit."], Glossary({}))
    assert builder.prepare("What does a session cost?").unsupported_requests == []


def test_uncovered_topics_name_other_conditions_patients_and_therapies(builder):
    assert builder.prepare("Does acupuncture help migraines?").uncovered_topics == ["other conditions"]
    assert builder.prepare("Is it safe while I'm pregnant?").uncovered_topics == ["pregnancy and other patients"]
    assert builder.prepare("Is cupping better than needles?").uncovered_topics == ["other therapies"]
    assert builder.prepare("Can I take gabapentin with it?").uncovered_topics == ["medicines and doses"]
    assert builder.prepare("What should I wear to a session?").uncovered_topics == ["visit practicalities"]
    assert builder.prepare("Will acupuncture help the numbness in my feet?").uncovered_topics == []


def test_topic_words_the_articles_use_or_the_glossary_maps_do_not_count():
    topics = {"other conditions": re.compile(r"\b(migraine|gout)\b"), "other therapies": re.compile(r"\b(cupping)\b")}
    glossary = Glossary({"side effects": ["cupping"]})  # a glossary entry says the articles cover it
    builder = builder_for(CORPUS + ["Acupuncture is also studied for migraine headaches."], glossary, topics=topics)
    assert builder.prepare("Does it help a migraine?").uncovered_topics == []
    assert builder.prepare("Does cupping leave marks?").uncovered_topics == []
    assert builder.prepare("Does it help gout?").uncovered_topics == ["other conditions"]


def test_the_re_ranker_reads_glossary_terms_only_for_words_the_articles_never_use():
    glossary = Glossary({"blood thinners": ["warfarin"], "pain": ["feel", "hurt"]})
    builder = builder_for(CORPUS, glossary)
    # "warfarin" is nowhere in the articles: the re-ranker gets their words for it. "feel" is: nothing is added.
    assert builder.prepare("I'm on warfarin, will I feel it?").query.rerank_text == "I'm on warfarin, will I feel it? (blood thinners)"
    assert builder.prepare("Will I feel it?").query.rerank_text == "Will I feel it?"
    assert builder.prepare("Will I feel it?").query.question.searched == "Will I feel it? (pain)"  # BM25 still gets every term
    follow_up = builder.prepare("Is it OK?", [{"role": "user", "content": "I take warfarin."}])
    assert follow_up.query.rerank_text == "I take warfarin. (blood thinners) Is it OK?"
