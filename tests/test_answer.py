"""The answer object and its Markdown: contract shape, disclaimer, safety first, abstention,
small talk, bad input and escaping. Fake embedder, fake re-ranker (every passage alike, so the first stage's
order stands) and a fixed abstention decision."""

from __future__ import annotations

import numpy as np
import pytest

from qa.abstain import FEATURES, AbstentionModel
from qa.answerer import Answerer
from qa import wording
from qa.config import Settings
from tests.conftest import FakeEmbedder, FakeReranker, fake_index

NEVER = AbstentionModel.neutral()
ALWAYS = AbstentionModel({name: 0.0 for name in FEATURES}, bias=20.0, threshold=0.5)
FILES = {
    "needles.md": "---\ntitle: About <Needles>\nurl: https://example.org/needles\n---\n## Does it hurt?\n\n"
                  "Most patients feel little to no pain. A session lasts 30 minutes.\n\n## Safety\n\n"
                  "People taking blood thinners should ask their doctor first.\n",
    "qi.md": "---\ntitle: Qi\nurl: javascript:alert(1)\n---\nQi is the energy that flows along meridians.\n",
}


@pytest.fixture
def index(tmp_path):
    return fake_index(tmp_path, FILES)


def answerer(index, abstention=NEVER, **settings):
    return Answerer(index, FakeEmbedder(), Settings(**settings), abstention=abstention, reranker=FakeReranker({}))


def check_contract(answer: dict):
    assert set(answer) == {"question", "answer_markdown", "passages", "abstained", "safety", "disclaimer", "notes", "message", "suggestions"}
    assert isinstance(answer["answer_markdown"], str) and answer["disclaimer"]
    assert all(isinstance(n, str) for n in answer["notes"])
    # What a client renders without reading answer_markdown: the message is the Markdown shown there.
    assert answer["message"] is None or answer["message"] in answer["answer_markdown"]
    assert answer["disclaimer"] in answer["answer_markdown"]
    for p in answer["passages"]:
        assert {"text", "source_id", "title", "section", "url", "score"} <= set(p)
        assert len(p["text"]) <= 600
    if answer["abstained"]:
        assert answer["passages"] == []


def test_an_answer_quotes_cites_and_emphasises(index):
    answer = answerer(index).ask("Is it safe with blood thinners and my doctor?")
    check_contract(answer)
    top = answer["passages"][0]
    assert top["text"] == "People taking blood thinners should ask their doctor first."
    assert top["source_id"] == "needles" and top["section"] == "Safety" and top["url"] == "https://example.org/needles"
    md = answer["answer_markdown"]
    assert "> **People taking blood thinners should ask their doctor first.** **[1]**" in md
    assert "1. [About &lt;Needles&gt;](https://example.org/needles), section “Safety”" in md
    assert "**Sources**" in md and md.index("**Sources**") < md.index(answer["disclaimer"])
    assert answer["abstained"] is False and answer["safety"] is None


def test_only_http_links_are_shown(index):
    answer = answerer(index).ask("what is qi energy meridians")
    qi = [p for p in answer["passages"] if p["source_id"] == "qi"][0]
    assert qi["url"] is None and "javascript:" not in answer["answer_markdown"]


def test_abstention_says_so_and_suggests_what_is_covered(index):
    answer = answerer(index, abstention=ALWAYS, contact_url="https://clinic.example/book",
                      coverage_sources=("needles", "qi")).ask("How much does it cost?")
    check_contract(answer)
    assert answer["abstained"] is True and answer["passages"] == []
    md = answer["answer_markdown"]
    assert "don't answer that" in md and "They cover" in md and "licensed clinician" in md
    assert "“Will the needles hurt?”" in md
    assert "(https://clinic.example/book)" in md


def test_safety_message_comes_first_and_nothing_is_retrieved(index):
    answer = answerer(index, emergency_number="112").ask("I have crushing chest pain and sweating")
    check_contract(answer)
    assert answer["safety"]["level"] == "emergency"
    assert answer["answer_markdown"].startswith(answer["safety"]["message"])
    assert "Call 112" in answer["safety"]["message"]
    assert answer["abstained"] is True and answer["passages"] == []


def test_safety_in_a_follow_up_uses_the_conversation(index):
    history = [{"role": "user", "content": "I have a sore on my foot that won't heal"}]
    assert answerer(index).ask("what should I do?", history)["safety"]["level"] == "urgent"


@pytest.mark.parametrize("question, phrase", [("", "Please type a question"), ("   ", "Please type a question"),
                                              ("hello", "Hello!"), ("thanks!", "You're welcome")])
def test_empty_input_and_small_talk_get_a_short_reply_not_an_abstention(index, question, phrase):
    answer = answerer(index).ask(question)
    check_contract(answer)
    assert phrase in answer["answer_markdown"]
    assert answer["abstained"] is False and answer["passages"] == [] and answer["safety"] is None


def test_long_question_is_cut_with_a_note(index):
    answer = answerer(index, max_question_chars=100).ask("blood thinners " * 50)
    check_contract(answer)
    assert "only its first 100 characters were used" in answer["answer_markdown"]
    assert answer["question"] == "blood thinners " * 50  # the object echoes what was asked


def test_html_in_a_question_is_never_markup(index):
    answer = answerer(index).ask("<script>alert('x')</script><img src=x onerror=alert(1)> blood thinners")
    check_contract(answer)
    assert "<script" not in answer["answer_markdown"] and "<img" not in answer["answer_markdown"]


def test_other_languages_get_a_note_and_the_best_english_answer(index):
    answer = answerer(index).ask("¿La acupuntura duele mucho con las agujas?")
    check_contract(answer)
    assert "Spanish" in answer["answer_markdown"] and "English" in answer["answer_markdown"]


def test_a_refused_question_in_another_language_is_told_that_only_english_is_understood(index):
    refused = answerer(index, abstention=ALWAYS).ask("¿Duelen las agujas de la acupuntura?")
    check_contract(refused)
    assert refused["abstained"] and refused["notes"] == [
        "It looks like you wrote in Spanish. I can only answer in English, and I could not match your question to "
        "the articles: please try asking in English."]
    answered = answerer(index).ask("¿Duelen las agujas de la acupuntura?")
    assert not answered["abstained"] and "closest English answer" in answered["notes"][0]
    assert answerer(index, abstention=ALWAYS).ask("Do the needles hurt?")["notes"] == []


def test_the_disclaimer_comes_from_settings(index):
    answer = answerer(index, disclaimer_template="Not advice. Dial {emergency_number}.", emergency_number="000").ask("pain")
    assert answer["disclaimer"] == "Not advice. Dial 000."
    assert answer["answer_markdown"].endswith("<small>Not advice. Dial 000.</small>")


@pytest.mark.parametrize("question", [None, 42, ["a"], "\x00\x01\x02", "🙂" * 2000, "a" * 100_000])
def test_odd_inputs_never_raise(index, question):
    check_contract(answerer(index).ask(question))


def test_index_swap_is_used_by_later_questions(index, tmp_path):
    bot = answerer(index)
    bot.use_index(fake_index(tmp_path / "two", {"new.md": "# New\n\nElectroacupuncture uses a gentle current.\n"}))
    assert bot.ask("electroacupuncture current")["passages"][0]["source_id"] == "new"


def test_glossary_terms_reach_the_dense_side_as_vectors_embedded_once(index):
    from qa.answerer import GLOSSARY_VECTOR_WEIGHT
    from qa.glossary import Glossary

    embedder = FakeEmbedder()
    qa = Answerer(index, embedder, Settings(), abstention=NEVER, glossary=Glossary({"blood thinners": ["warfarin"]}),
                  reranker=FakeReranker({}))
    result = qa.answer("Is warfarin a problem?")
    assert result.prepared.query.question.terms == ("blood thinners",)
    assert result.prepared.query.question.searched.endswith("(blood thinners)")  # lexical side: the words
    assert result.prepared.query.embedding_texts() == ["Is warfarin a problem?"]  # dense side: the question alone ...
    question, term = embedder.embed(["Is warfarin a problem?", "blood thinners"])
    expected = question + GLOSSARY_VECTOR_WEIGHT * term  # ... plus the term's vector
    vector = qa.question_vectors(result.prepared.query)[1][0]
    assert float(vector @ expected) / (float(np.linalg.norm(vector)) * float(np.linalg.norm(expected))) > 0.9999
    assert result.answer["passages"][0]["text"] == "People taking blood thinners should ask their doctor first."
    qa.answer("And warfarin with needles?")
    assert sum(call == ["blood thinners"] for call in embedder.calls) == 1  # the term was embedded once


def test_a_follow_up_embeds_its_context_as_a_second_text(index):
    embedder = FakeEmbedder()
    qa = Answerer(index, embedder, Settings(), abstention=NEVER, reranker=FakeReranker({}))
    history = [{"role": "user", "content": "I take blood thinners."}, {"role": "assistant", "content": "..."}]
    result = qa.answer("Can I still get it?", history)
    assert result.prepared.query.context_weight > 0
    assert result.prepared.query.embedding_texts() == ["Can I still get it?", "I take blood thinners."]
    assert result.answer["passages"][0]["text"] == "People taking blood thinners should ask their doctor first."


def test_an_urgent_answer_shows_the_contact_link_once_and_escaped(index):
    """The safety message and what follows it both used to add the clinic's contact: once raw, once as a link."""
    bot = answerer(index, contact_url="https://clinic.example/book?a=1", contact_label="Book *now* <b>here</b>")
    answer = bot.ask("my foot ulcer is oozing pus")
    assert answer["safety"]["level"] == "urgent"
    md = answer["answer_markdown"]
    assert md.count("https://clinic.example/book?a=1") == 1
    assert "[Book \\*now\\* &lt;b&gt;here&lt;/b&gt;](https://clinic.example/book?a=1)" in md
    assert "https://clinic.example" not in answer["safety"]["message"]
    assert answer["message"].endswith("(https://clinic.example/book?a=1).")
    # A link that is not http(s) is not shown at all.
    assert "javascript" not in answerer(index, contact_url="javascript:alert(1)").ask("my foot ulcer is oozing pus")["answer_markdown"]


def test_every_phrase_of_ours_comes_from_the_wording_module(index):
    from qa import wording

    settings = Settings()
    bot = answerer(index)
    assert bot.ask("hello")["message"] == wording.small_talk("greeting", settings)
    assert bot.ask("thanks!")["message"] == wording.small_talk("thanks", settings)
    md = bot.ask("Is it safe with blood thinners and my doctor?")["answer_markdown"]
    assert wording.PASSAGES_INTRO in md and f"**{wording.SOURCES_HEADING}**" in md
    refusing = answerer(index, abstention=ALWAYS)
    assert refusing.ask("How much does it cost?")["message"] == wording.abstention(settings, refusing.coverage)


def test_the_models_are_passed_in_never_defaulted():
    """A fast test that forgets one gets a TypeError, not the real cross-encoder loaded behind its back."""
    import inspect

    parameters = inspect.signature(Answerer).parameters
    assert all(parameters[name].default is inspect.Parameter.empty for name in ("abstention", "reranker"))
    with pytest.raises(TypeError, match="reranker"):
        Answerer(None, FakeEmbedder(), Settings(), abstention=NEVER)


def test_the_public_steps_compose_into_the_answer(index):
    """prepare, retrieve and should_abstain are the steps `answer()` runs, as benchmarks call them."""
    from qa.answerer import features
    from qa.outcome import Outcome

    bot = answerer(index)
    for question in ("Is warfarin a problem?", "Will the needles hurt?"):
        prepared = bot.prepare(question)
        retrieval = bot.retrieve(prepared.query)
        result = bot.answer(question)
        assert [h.row for h in retrieval.hits] == [h.row for h in result.retrieval.hits]
        assert retrieval.candidate_rows == result.retrieval.candidate_rows
        refused = bot.should_abstain(prepared, retrieval, features(prepared, retrieval.evidence))
        assert refused == (result.outcome is Outcome.ABSTAINED)


def test_a_medicine_question_is_searched_with_what_the_articles_say_beside_treatment_and_never_refused(index):
    from qa.medicines import ALONGSIDE

    bot = answerer(index, abstention=ALWAYS)
    prepared = bot.prepare("if acupuncture works can I stop my gabapentin?")
    assert prepared.changes_medicine and not bot.prepare("what does gabapentin do?").changes_medicine
    assert prepared.query.question.searched.endswith(ALONGSIDE) and prepared.query.rerank_text.endswith(ALONGSIDE)
    assert ALONGSIDE not in " ".join(prepared.query.embedding_texts())  # the dense side embeds the question as asked
    result = bot.answer("if acupuncture works can I stop my gabapentin?")
    assert result.answer["passages"] and result.answer["notes"][0] == wording.MEDICINE_CAUTION
