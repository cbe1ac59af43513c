"""BEIR mode on a tiny hand-made dataset in BEIR layout (a dozen documents, hand-worked qrels)."""

from __future__ import annotations

import json

import pytest

from qa.eval.beir import evaluate_beir, load_dataset
from qa.errors import QAError

DOCS = {
    "d1": ("Vitamin D", "Vitamin D helps the body absorb calcium and keeps bones strong."),
    "d2": ("Sleep", "Adults need seven to nine hours of sleep each night for good health."),
    "d3": ("Coffee", "Caffeine in coffee blocks adenosine receptors and makes people feel alert."),
    "d4": ("Running", "Regular running strengthens the heart and lowers resting blood pressure."),
    "d5": ("Sunburn", "Ultraviolet light damages skin cells and causes sunburn."),
    "d6": ("Hydration", "Drinking enough water keeps the kidneys working well."),
    "d7": ("Allergies", "Pollen allergies cause sneezing, itchy eyes and a runny nose in spring."),
    "d8": ("Antibiotics", "Antibiotics kill bacteria but do not work against viruses such as the flu."),
    "d9": ("Insulin", "Insulin lets cells take up glucose and lowers blood sugar."),
    "d10": ("Vaccines", "Vaccines train the immune system to recognise a pathogen before infection."),
    "d11": ("Calcium", "Dairy products such as milk and cheese are rich in calcium."),
    "d12": ("Stress", "Chronic stress raises cortisol levels and can disturb sleep."),
}
QUERIES = {"q1": "what keeps bones strong", "q2": "do antibiotics help with the flu", "q3": "how does insulin lower blood sugar",
           "q4": "why does coffee make me feel awake", "q5": "foods rich in calcium"}
QRELS = [("q1", "d1", 1), ("q2", "d8", 1), ("q3", "d9", 1), ("q4", "d3", 1), ("q5", "d11", 1), ("q5", "d1", 1)]


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "tiny"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": k, "title": t, "text": x}) for k, (t, x) in DOCS.items()))
    (root / "queries.jsonl").write_text("\n".join(json.dumps({"_id": k, "text": v}) for k, v in {**QUERIES, "q9": "unjudged"}.items()))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(f"{q}\t{d}\t{s}" for q, d, s in QRELS))
    return root


def test_dataset_loading_keeps_only_judged_queries(dataset):
    queries, qrels = load_dataset(dataset)
    assert sorted(queries) == ["q1", "q2", "q3", "q4", "q5"] and qrels["q5"] == {"d11": 1, "d1": 1}


def test_missing_files_are_named(tmp_path):
    with pytest.raises(QAError, match=r"Not a BEIR dataset directory: missing .*corpus.jsonl"):
        load_dataset(tmp_path)


def test_beir_mode_ranks_documents_and_writes_four_runs(dataset, tmp_path, real_embedder, logged):
    logs = logged()
    report = evaluate_beir(dataset, tmp_path / "out", index_dir=tmp_path / "index", embedder=real_embedder,
                           progress=False)
    assert report["documents"] == 12 and report["queries"] == 5
    assert set(report["systems"]) == {"full", "rerank", "bm25", "dense"}
    # Hand-worked: each query has one obviously relevant document (q5 two), all found at the top.
    assert report["systems"]["full"]["ndcg@10"] >= 0.9 and report["systems"]["dense"]["recall@100"] == 1.0
    assert report["systems"]["rerank"]["ndcg@10"] >= 0.9
    for name in ("run.trec", "run-rerank.trec", "run-bm25.trec", "run-dense.trec", "report.json", "report.md"):
        assert (tmp_path / "out" / name).is_file()
    first = (tmp_path / "out" / "run.trec").read_text().splitlines()[0].split()
    assert first[:4] == ["q1", "Q0", "d1", "1"]
    # A second run reuses every embedding.
    again = evaluate_beir(dataset, tmp_path / "out2", index_dir=tmp_path / "index", embedder=real_embedder, progress=False)
    assert again["embedded_documents"] == 0 and again["reused_documents"] == 12
