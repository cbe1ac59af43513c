"""End to end on the real corpus with the real model: what a patient would see."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from index import load_corpus
from tests.conftest import REPO

pytestmark = pytest.mark.model  # a slow kind (pytest.ini): `-m "not slow"` leaves it out

BODIES = {d.source_id: re.sub(r"\s+", " ", d.body) for d in load_corpus(REPO / "sources").documents}


def assert_verbatim(answer):
    for p in answer["passages"]:
        text = re.sub(r"\s+", " ", p["text"]).rstrip("…")
        assert text in BODIES[p["source_id"]], f"not verbatim in {p['source_id']}: {p['text'][:80]}"
        assert len(p["text"]) <= 600
    assert answer["disclaimer"] and answer["disclaimer"] in answer["answer_markdown"]


@pytest.mark.parametrize("question, words", [
    ("Will the needles hurt?", ["pain"]),
    ("I'm on warfarin, is it OK?", ["blood thinners"]),
    ("how many sesions of acupunture will i need", ["sessions"]),
    ("Does it help numbness from chemo?", ["chemotherapy", "cipn"]),
    ("What is qi?", ["qi"]),
])
def test_answers_quote_the_articles(real_answerer, question, words):
    answer = real_answerer.ask(question)
    assert_verbatim(answer)
    assert not answer["abstained"] and answer["safety"] is None
    assert 1 <= len(answer["passages"]) <= 3
    shown = " ".join(p["text"].lower() for p in answer["passages"])
    assert any(w in shown for w in words)
    assert answer["passages"][0]["highlight"] in answer["passages"][0]["text"]


def test_follow_up_uses_the_conversation(real_answerer):
    answer = real_answerer.ask("Can I still get it?", [{"role": "user", "content": "I take blood thinners."}])
    assert_verbatim(answer)
    assert any("blood thinners" in p["text"] for p in answer["passages"])


@pytest.mark.parametrize("question", ["What is the capital of France?", "Write me a poem about the sea",
                                      "Does Medicare cover acupuncture?", "Can acupuncture help with my migraines?",
                                      "Should I use CBD oil for my burning feet?", "Can my kids get acupuncture for their asthma?"])
def test_out_of_scope_questions_abstain(real_answerer, question):
    answer = real_answerer.ask(question)
    assert answer["abstained"] and answer["passages"] == []
    assert "don't answer that" in answer["answer_markdown"]


@pytest.mark.parametrize("question, level", [("I have crushing chest pain", "emergency"),
                                             ("my foot ulcer is oozing pus", "urgent"),
                                             ("I want to end my life", "crisis")])
def test_safety_comes_first(real_answerer, question, level):
    answer = real_answerer.ask(question)
    assert answer["safety"]["level"] == level
    assert answer["answer_markdown"].startswith(answer["safety"]["message"])


def test_near_duplicates_are_merged_so_passages_differ(real_answerer):
    answer = real_answerer.ask("Is acupuncture safe?")
    texts = [p["text"] for p in answer["passages"]]
    assert len(set(texts)) == len(texts)


def test_cli_ask_json(tmp_path):
    result = subprocess.run([sys.executable, "-m", "qa", "ask", "Will the needles hurt?", "--json"],
                            cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "QA_INDEX_DIR": str(tmp_path / "index")})
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert_verbatim(answer)
    assert answer["question"] == "Will the needles hurt?" and answer["passages"]


def test_cli_ask_bad_history_is_one_clear_line():
    result = subprocess.run([sys.executable, "-m", "qa", "ask", "x", "--history", "{not json"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("error: --history is not valid JSON")


def test_the_real_re_ranker_leads_with_the_answer_and_adds_no_filler(real_answerer):
    """The warfarin question of the product brief: the blood-thinner passage first, and no chemotherapy passage
    after it (the first stage alone ends this answer with one)."""
    from qa.rerank import CrossEncoder

    assert isinstance(real_answerer.reranker, CrossEncoder)
    result = real_answerer.answer("I'm on warfarin, is it OK?")
    passages = result.answer["passages"]
    assert "blood thinners" in passages[0]["text"]
    assert not any("chemotherapy" in p["text"].lower() for p in passages)
    assert result.retrieval.evidence.rerank_top == max(h.relevance for h in result.retrieval.hits)
    assert set(result.features) >= {"rerank_top", "rerank_margin"}


def test_the_abstention_model_refuses_weights_fitted_on_another_re_ranker(real_answerer):
    from dataclasses import replace

    from qa import Answerer
    from qa.abstain import AbstentionModel
    from qa.errors import AbstentionModelError
    from tests.conftest import FakeReranker

    with pytest.raises(AbstentionModelError, match="fitted on the re-ranker .* Refit it: python -m qa calibrate"):
        Answerer(real_answerer.index, real_answerer.embedder, real_answerer.settings, abstention=AbstentionModel.load(),
                 reranker=FakeReranker({}))
    with pytest.raises(AbstentionModelError, match="re-ranks with 'none'"):
        Answerer(real_answerer.index, real_answerer.embedder, real_answerer.settings, abstention=AbstentionModel.load(),
                 reranker=None, params=replace(real_answerer.params, rerank_candidates=0))
