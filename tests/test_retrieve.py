"""Hybrid retrieval on a hand-made corpus, with the fake embedder: hand-worked expectations."""

from __future__ import annotations

import pytest

from qa.retrieve import HybridRetriever, RetrievalParams
from tests.conftest import FakeEmbedder, fake_index

FILES = {
    "a.md": "---\ntitle: Article A\n---\n## Safety\n\nPeople taking blood thinners should ask their doctor first. "
            "Bruising is rare after treatment.\n\n## Sessions\n\nA session lasts thirty minutes. Most people need ten sessions.\n",
    "b.md": "---\ntitle: Article B\n---\n## Safety\n\nPeople taking blood thinners should ask their doctor first. "
            "Bruising is rare after treatment.\n\n## Qi\n\nQi flows along meridians in the body.\n",
}


@pytest.fixture
def index(tmp_path):
    return fake_index(tmp_path, FILES)


def search(index, text, **params):
    retriever = HybridRetriever(index, RetrievalParams(**params))
    vector = retriever.query_vector(FakeEmbedder().embed([text]))
    return retriever.search(vector, text, k=3)


def test_the_passage_that_answers_comes_first_with_its_best_sentence(index):
    result = search(index, "how long does a session last in minutes")
    top = result.hits[0]
    assert top.passage.source_id == "a" and top.passage.section == "Sessions"
    assert top.highlight == "A session lasts thirty minutes."
    assert result.source_ranking[0][0] == "a"


def test_the_same_passage_in_two_articles_is_shown_once_with_also_in(index):
    result = search(index, "blood thinners doctor")
    top = result.hits[0]
    assert "blood thinners" in top.passage.text
    assert [p.source_id for p in top.also_in] == ["b" if top.passage.source_id == "a" else "a"]
    shown = [h.passage.text for h in result.hits]
    assert sum("blood thinners" in t for t in shown) == 1


def test_overlapping_windows_of_one_source_are_not_repeated(index):
    result = search(index, "bruising rare treatment blood", duplicate_cosine=1.01)
    spans = [(h.passage.source_id, h.passage.start, h.passage.end) for h in result.hits]
    for i, (sid, start, end) in enumerate(spans):
        for other_sid, other_start, other_end in spans[i + 1 :]:
            assert not (sid == other_sid and start < other_end and other_start < end)


def test_lexical_signal_reaches_passages_the_dense_side_misses(index):
    only_dense = search(index, "meridians", lexical_weight=0.0)
    hybrid = search(index, "meridians")
    assert hybrid.evidence.lexical_top > 0
    assert hybrid.hits[0].passage.section == "Qi"
    assert hybrid.hits[0].score >= only_dense.hits[0].score


def test_evidence_is_reported(index):
    evidence = search(index, "blood thinners").evidence
    assert 0 < evidence.dense_top <= 1.0 and 0 <= evidence.agreement <= 1.0


def test_rrf_fusion_and_invalid_fusion(index):
    assert search(index, "qi meridians", fusion="rrf").hits[0].passage.section == "Qi"
    with pytest.raises(ValueError, match="Invalid fusion: max. Choose from 'rrf', 'linear'."):
        RetrievalParams(fusion="max")


@pytest.mark.parametrize("text", ["blood thinners doctor", "qi meridians", "how many sessions", "unrelated words entirely"])
def test_dense_standout_is_the_z_score_of_the_best_cosine_among_all_passages(index, text):
    cosines = index.passage_vectors @ HybridRetriever.query_vector(FakeEmbedder().embed([text]))
    evidence = search(index, text).evidence
    assert evidence.dense_top == pytest.approx(float(cosines.max()), abs=1e-6)
    expected = (cosines.max() - cosines.mean()) / cosines.std()
    assert evidence.dense_standout == pytest.approx(float(expected), rel=1e-4)


def test_a_question_close_to_one_passage_stands_out_more_than_a_vague_one(index):
    assert search(index, "Qi flows along meridians in the body.").evidence.dense_standout > \
        search(index, "people treatment").evidence.dense_standout


def test_the_retrieval_records_every_candidate_in_order_and_what_the_re_ranker_said(index):
    """What bench/miss_kinds.py reads to tell "not a candidate" from "not re-ranked" (no monkeypatch needed)."""
    from tests.conftest import FakeReranker

    reranker = FakeReranker({"qi flows": 9.0}, default=-3.0)
    retriever = HybridRetriever(index, RetrievalParams(rerank_candidates=2), reranker)
    vector = retriever.query_vector(FakeEmbedder().embed(["what is qi"]))
    result = retriever.search(vector, "what is qi", k=3)
    rows = result.candidate_rows
    assert len(rows) == len(set(rows)) and set(result.rerank_logits) <= set(rows) and len(result.rerank_logits) == 2
    assert set(rows[:2]) == set(result.rerank_logits)  # the re-scored ones come first
    first = index.passages[rows[0]]
    assert "Qi flows" in first.text and result.rerank_logits[rows[0]] == 9.0
    assert result.hits[0].row == rows[0]
    plain = search(index, "what is qi")
    assert plain.rerank_logits == {} and plain.candidate_rows  # no re-ranker: the fused order alone
