"""Index builds on ONNX Runtime: the same index as sentence-transformers, batched in length order, on every core.

Fast tests: the length-sorted batching puts every vector back in its text's row (a fake session), the
manifest records which backend embedded each source without making the other backend's index stale, a
build asks the embedder for its build-time twin. Slow tests (real model): sources/ built with both
backends gives the same passages, sentences, hashes and vectors (within VECTOR_ATOL) and the same
top results for questions of eval/; a server's one-thread embedder builds on every core.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index import SearchIndex, build_index, dense, load_corpus, stale_reasons, store
from index.build import UNKNOWN_BACKEND
from index.backends import make_embedder
from index.onnx_embedder import OnnxEmbedder, _encode, _tokenizer, build_threads, length_sorted_batches, padded_feed
from index.settings import IndexSettings
from tests.conftest import REPO, FakeEmbedder

quiet = dict(progress=False)
# Largest difference allowed between one vector element of the two backends (unit vectors of 384 floats).
# Measured: ~2e-7, float rounding (different matrix-product kernels); a real difference in the model,
# the tokenisation or the pooling is orders of magnitude larger (the int8 copy: ~1e-2).
VECTOR_ATOL = 1e-6
QUESTION_SETS = [REPO / "eval" / "questions.jsonl", REPO / "eval" / "holdout.jsonl", REPO / "eval" / "calibration.jsonl"]


# --- the batching, with a fake tokenizer and session ------------------------------------------------------

class _Encoding:
    def __init__(self, ids):
        self.ids = ids


class _FakeTokenizer:
    """A text of n words is [101, n word ids..., 102], like the real one's [CLS] ... [SEP]."""

    def encode_batch(self, texts):
        return [_Encoding([101, *(1000 + len(word) for word in text.split()), 102]) for text in texts]


class _FakeSession:
    """Hidden state of a token = its id in every dimension but the last, which holds the batch number: a
    vector depends on its text, and the test sees if padding leaked into it or rows were swapped."""

    def __init__(self):
        self.batches: list[tuple[int, ...]] = []

    def run(self, _outputs, feed):
        ids, mask = feed["input_ids"], feed["attention_mask"]
        assert ids.shape == mask.shape == feed["token_type_ids"].shape and ids.dtype == np.int64
        assert not feed["token_type_ids"].any()
        self.batches.append(ids.shape)
        hidden = np.repeat(ids[..., None].astype(np.float32), 4, axis=2)
        hidden[..., 3] = 1.0
        hidden[mask == 0] = 1e6  # padding: must not count
        return [hidden]


def _fake_onnx_embedder(batch_size: int) -> OnnxEmbedder:
    embedder = object.__new__(OnnxEmbedder)  # no model: the batching alone
    embedder.dimension, embedder.batch_size, embedder.threads = 4, batch_size, 1
    embedder._tokenizer, embedder._session = _FakeTokenizer(), _FakeSession()
    return embedder


def _alone(text: str) -> np.ndarray:
    """What the fake pipeline gives `text` embedded alone (a batch of one, no padding)."""
    embedder = _fake_onnx_embedder(1)
    return embedder.embed([text])[0]


def test_length_sorted_batches_are_longest_first_and_cover_every_row_once():
    batches = length_sorted_batches([2, 7, 7, 1, 4, 7], 2)
    assert batches == [[1, 2], [5, 4], [0, 3]]  # ties (the three 7s) in input order
    assert length_sorted_batches([], 16) == []


@settings(max_examples=60, deadline=None)
@given(words=st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=40), batch_size=st.integers(1, 9))
def test_batched_embedding_puts_every_vector_back_in_its_texts_row(words, batch_size):
    texts = [" ".join("w" * (1 + (i + j) % 5) for j in range(n)) for i, n in enumerate(words)]
    embedder = _fake_onnx_embedder(batch_size)
    vectors = embedder.embed(texts)
    assert vectors.shape == (len(texts), 4) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, np.vstack([_alone(t) for t in texts]), rtol=0, atol=1e-6)
    shapes = embedder._session.batches
    assert sum(rows for rows, _ in shapes) == len(texts) and all(rows <= batch_size for rows, _ in shapes)
    assert [width for _, width in shapes] == sorted((width for _, width in shapes), reverse=True)  # longest first


def test_batches_are_padded_to_their_own_longest_text_not_the_longest_of_all():
    texts = ["a " * 50] + ["b"] * 4
    embedder = _fake_onnx_embedder(2)
    embedder.embed(texts)
    assert embedder._session.batches == [(2, 52), (2, 3), (1, 3)]


def test_padded_feed_matches_the_tokenizers_own_padding():
    """Tokenising once, unpadded, then padding by hand feeds the model exactly what `_encode` (padding on) fed it."""
    from index.embedder import model_path

    directory = Path(model_path())
    texts = ["Will the needles hurt?", "  I'm on warfarin, is it OK?  ", "", "Acupuncture. " * 300]
    unpadded = _tokenizer(directory, pad=False).encode_batch([t.strip() for t in texts])
    ours = padded_feed([np.asarray(e.ids, dtype=np.int64) for e in unpadded])
    theirs = _encode(_tokenizer(directory), texts)
    assert set(ours) == set(theirs)
    for name in theirs:
        np.testing.assert_array_equal(ours[name], theirs[name])
    assert ours["input_ids"].shape[1] == 256  # truncated where sentence-transformers truncates


def test_make_embedder_names_the_choices():
    with pytest.raises(ValueError, match="Invalid backend: torch. Choose from 'onnxruntime', 'sentence-transformers'."):
        make_embedder("torch")


# --- the build: twin, manifest ------------------------------------------------------------------------------

class _BackendEmbedder(FakeEmbedder):
    """The fake embedder with a backend name and, optionally, a build-time twin."""

    def __init__(self, backend: str, *, twin: bool = False):
        super().__init__()
        self.backend, self.twins = backend, []
        if twin:
            self.for_building = self._for_building

    def _for_building(self):
        twin = _BackendEmbedder(self.backend)
        self.twins.append(twin)
        return twin


def test_a_build_embeds_with_the_embedders_build_twin_and_only_when_there_is_work(tmp_path, mini_sources):
    serving = _BackendEmbedder("onnxruntime", twin=True)
    report = build_index(mini_sources, tmp_path / "idx", embedder=serving, **quiet)
    assert serving.calls == [] and len(serving.twins) == 1
    # Passages and sentences in one call: one progress bar, one length sort.
    assert len(serving.twins[0].calls) == 1 and len(serving.twins[0].embedded) == 3 + 7
    assert report.backend == "onnxruntime" and report.embedded_texts == 10
    build_index(mini_sources, tmp_path / "idx", embedder=serving, **quiet)  # nothing changed
    assert len(serving.twins) == 1


def test_manifest_records_the_backend_per_source_and_either_backends_index_is_fresh_for_the_other(tmp_path, mini_sources):
    out = tmp_path / "idx"
    build_index(mini_sources, out, embedder=_BackendEmbedder("sentence-transformers"), **quiet)
    manifest = SearchIndex.load(out).manifest
    assert manifest["embedded_with"] == ["sentence-transformers"]
    assert {s["embedded_with"] for s in manifest["sources"].values()} == {"sentence-transformers"}
    # Same model name, same vectors: not stale for the other backend, and its sources are reused.
    assert stale_reasons(load_corpus(mini_sources), out, model="fake-bow-64", settings=IndexSettings()) == []
    (mini_sources / "qi.txt").write_text("What Is Qi\nQi is vital energy. It flows in meridians.\n", encoding="utf-8")
    report = build_index(mini_sources, out, embedder=_BackendEmbedder("onnxruntime"), **quiet)
    assert report.embedded_sources == ["qi"] and report.reused_sources == ["needles"]
    manifest = SearchIndex.load(out).manifest
    assert manifest["sources"]["needles"]["embedded_with"] == "sentence-transformers"
    assert manifest["sources"]["qi"]["embedded_with"] == "onnxruntime"
    assert manifest["embedded_with"] == ["onnxruntime", "sentence-transformers"]


def test_an_index_from_before_embedded_with_loads_and_its_reused_sources_say_unknown(tmp_path, mini_sources):
    out = tmp_path / "idx"
    build_index(mini_sources, out, embedder=FakeEmbedder(), **quiet)
    path = store.current_build(out) / store.MANIFEST
    manifest = json.loads(path.read_text())
    del manifest["embedded_with"]
    for source in manifest["sources"].values():
        del source["embedded_with"]
    path.write_text(json.dumps(manifest))  # the manifest is not among the checksummed files
    assert SearchIndex.load(out, model="fake-bow-64").passages
    assert stale_reasons(load_corpus(mini_sources), out, model="fake-bow-64", settings=IndexSettings()) == []
    (mini_sources / "qi.txt").write_text("What Is Qi\nQi is vital energy.\n", encoding="utf-8")
    build_index(mini_sources, out, embedder=_BackendEmbedder("onnxruntime"), **quiet)
    manifest = SearchIndex.load(out).manifest
    assert manifest["sources"]["needles"]["embedded_with"] == UNKNOWN_BACKEND
    assert manifest["embedded_with"] == sorted(["onnxruntime", UNKNOWN_BACKEND])


def test_an_embedder_without_a_backend_is_recorded_by_its_class(tmp_path, mini_sources):
    build_index(mini_sources, tmp_path / "idx", embedder=FakeEmbedder(), **quiet)
    assert SearchIndex.load(tmp_path / "idx").manifest["embedded_with"] == ["FakeEmbedder"]


# --- the real model: both backends build the same index -----------------------------------------------------

@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def both_indexes(tmp_path_factory, real_embedder, onnx_cache):
    """sources/ built into tmp dirs by sentence-transformers and by the CLI's ONNX build embedder."""
    out = tmp_path_factory.mktemp("both")
    onnx = make_embedder("onnxruntime", onnx_cache_dir=onnx_cache)
    built = {
        "sentence-transformers": build_index(REPO / "sources", out / "st", embedder=real_embedder, **quiet),
        "onnxruntime": build_index(REPO / "sources", out / "onnx", embedder=onnx, **quiet),
    }
    loaded = {name: SearchIndex.load(report.path.parent.parent, model=real_embedder.name) for name, report in built.items()}
    return built, loaded, onnx


def _questions(count_per_set: int = 3) -> list[str]:
    from qa.eval.questionset import load_questions

    picked = []
    for path in QUESTION_SETS:
        picked += [q.question for q in load_questions(path) if q.answerable][:count_per_set]
    return picked


@pytest.mark.model
def test_both_backends_build_the_same_index_contents(both_indexes):
    built, loaded, onnx = both_indexes
    st_index, onnx_index = loaded["sentence-transformers"], loaded["onnxruntime"]
    assert built["onnxruntime"].backend == "onnxruntime" and onnx.threads == build_threads()
    assert st_index.manifest["embedded_with"] == ["sentence-transformers"] and onnx_index.manifest["embedded_with"] == ["onnxruntime"]
    assert [(p.passage_id, p.text, p.sentence_ids) for p in st_index.passages] == \
           [(p.passage_id, p.text, p.sentence_ids) for p in onnx_index.passages]
    assert [(s.source_id, s.start, s.end, s.text) for s in st_index.sentences] == \
           [(s.source_id, s.start, s.end, s.text) for s in onnx_index.sentences]
    assert {k: v["sha256"] for k, v in st_index.manifest["sources"].items()} == \
           {k: v["sha256"] for k, v in onnx_index.manifest["sources"].items()}
    for name in ("model", "settings", "lexical", "dense", "passages", "sentences"):
        assert st_index.manifest[name] == onnx_index.manifest[name], name
    np.testing.assert_allclose(onnx_index.passage_vectors, st_index.passage_vectors, rtol=0, atol=VECTOR_ATOL)
    np.testing.assert_allclose(onnx_index.sentence_vectors, st_index.sentence_vectors, rtol=0, atol=VECTOR_ATOL)
    # Same texts, so the same BM25 files, byte for byte.
    bm25 = sorted(name for name in st_index.manifest["files"] if name.startswith("bm25/"))
    assert bm25 and [st_index.manifest["files"][n] for n in bm25] == [onnx_index.manifest["files"][n] for n in bm25]


@pytest.mark.model
def test_both_backends_give_the_same_top_results_for_questions_of_eval(both_indexes, real_embedder):
    from qa.retrieve import HybridRetriever, RetrievalParams

    _built, loaded, onnx = both_indexes
    st_index, onnx_index = loaded["sentence-transformers"], loaded["onnxruntime"]
    questions = _questions()
    assert len(questions) == 9
    st_vectors, onnx_vectors = real_embedder.embed(questions), onnx.embed(questions)
    np.testing.assert_allclose(onnx_vectors, st_vectors, rtol=0, atol=VECTOR_ATOL)
    params = RetrievalParams(rerank_candidates=0)
    st_retriever, onnx_retriever = HybridRetriever(st_index, params), HybridRetriever(onnx_index, params)
    for question, st_vector, onnx_vector in zip(questions, st_vectors, onnx_vectors):
        # Each index searched with its own backend's question vector, as it would be served.
        assert list(dense.search(st_index.dense, st_vector, 5)[1]) == list(dense.search(onnx_index.dense, onnx_vector, 5)[1]), question
        st_hits = [h.passage.passage_id for h in st_retriever.search(st_vector, question, k=3).hits]
        onnx_hits = [h.passage.passage_id for h in onnx_retriever.search(onnx_vector, question, k=3).hits]
        assert st_hits == onnx_hits and st_hits, question


@pytest.mark.model
def test_an_index_built_by_one_backend_is_reused_whole_by_the_other(both_indexes, real_embedder, tmp_path):
    built, _loaded, _onnx = both_indexes
    out = built["onnxruntime"].path.parent.parent
    assert stale_reasons(load_corpus(REPO / "sources"), out, model=real_embedder.name, settings=IndexSettings()) == []
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out, copy, symlinks=True)
    report = build_index(REPO / "sources", copy, embedder=real_embedder, **quiet)
    assert report.embedded_sources == [] and len(report.reused_sources) == 5 and report.backend is None


@pytest.mark.model
def test_a_servers_one_thread_embedder_builds_on_every_core_and_keeps_its_own_session(tmp_path, onnx_cache, logged):
    from index import open_index

    serving = OnnxEmbedder(cache_dir=onnx_cache, threads=1)
    session = serving._session
    messages = logged("index")
    index = open_index(REPO / "sources", tmp_path / "idx", embedder=serving, progress=False)
    assert index.manifest["embedded_with"] == ["onnxruntime"]
    threads = build_threads()
    assert any(f"on onnxruntime ({threads} thread{'s' if threads != 1 else ''})" in m for m in messages), messages
    assert serving.threads == 1 and serving._session is session
