"""index/lexical.py: the fast tokeniser gives exactly bm25s's tokens, and the BM25 helpers."""

import json
from pathlib import Path

import numpy as np
from hypothesis import given, settings, strategies as st

from index import lexical

REPO = Path(__file__).resolve().parent.parent


def test_tokenize_agrees_with_bm25s_on_the_corpus_and_the_question_sets():
    texts = [line for path in sorted((REPO / "sources").glob("*.md")) for line in path.read_text(encoding="utf-8").splitlines()]
    for name in ("questions.jsonl", "holdout.jsonl", "calibration.jsonl"):
        texts += [json.loads(line)["question"] for line in (REPO / "eval" / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(texts) > 300
    assert lexical.tokenize(texts) == lexical.bm25s_tokenize(texts)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
       | st.lists(st.sampled_from(["The", "needles", "don't", "İstanbul", "straße", "ﬁne", "x_y", "12", "a", "sessions", "  ", "?"]), max_size=12).map(" ".join))
def test_tokenize_agrees_with_bm25s_on_any_text(text):
    assert lexical.tokenize([text]) == lexical.bm25s_tokenize([text])


def test_stop_words_go_before_stemming_and_stem_takes_the_first_token():
    assert lexical.tokenize(["Having the needles"]) == [["needl"]]  # "having" is a stop word, "needles" is not
    assert lexical.stem("Sessions") == "session"
    assert lexical.stem("the") is None


def test_top_rows_keeps_positive_scores_best_first():
    scores = np.array([0.0, 2.0, 5.0, 2.0, 1.0, 0.0])
    assert lexical.top_rows(scores, 3).tolist() == [2, 1, 3]
    assert lexical.top_rows(scores, 10).tolist() == [2, 1, 3, 4]
    assert lexical.top_rows(np.zeros(4), 2).tolist() == []
