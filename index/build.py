"""Build, refresh and open the index: the one entry point the CLIs and app.py use.

`build_index` re-embeds only what changed. A source whose sha256, the model and the
settings all match the current index keeps its passages and vectors; every other source is
cut and embedded anew. The result is written to a fresh directory and published atomically
(store.py), under a lock so two processes never build the same index at once.

Embedding runs on every core: an embedder that offers `for_building()` (OnnxEmbedder: a twin
session with one intra-op thread per core) is swapped for that twin for the build, so a server that
builds at its first start keeps its own one-thread session for questions. Passages and sentences go
to the embedder in one call (one progress bar; the embedder sorts them by length).

The manifest says which library computed the vectors (`embedded_with`, per source and for the
index): `onnxruntime` or `sentence-transformers` (`python -m index build --embedder ...`). Both
compute the same model's vectors (within ~1e-6), so the backend is recorded, not compared: an index
built with one is fresh, and reused source by source, for the other. Manifests written before the
field existed load as they are; their sources read as "unknown" until re-embedded (a source with
no text to embed reads "none").

`stale_reasons` says why an index no longer matches its sources (empty list: fresh), and
`open_index` builds only when needed, then loads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.metadata
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
import numpy as np

from . import bank as banks_module
from . import dense, lexical, store
from .embedder import MODEL_PACKAGE, Embedder
from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from .passages import Passage, Sentence, document_passages
from .search_index import BankQuestion, SearchIndex
from .settings import IndexSettings
from .sources import LEAD_SECTION, Corpus, load_corpus

log = logging.getLogger(__name__)
_LIBRARIES = ("faiss-cpu", "sentence-transformers", "onnxruntime", "tokenizers", "bm25s", "numpy", "torch", "pysbd", MODEL_PACKAGE)
UNKNOWN_BACKEND = "unknown"  # sources reused from an index whose manifest predates `embedded_with`


@dataclass
class BuildReport:
    path: Path
    passages: int
    sources: int
    embedded_sources: list[str] = field(default_factory=list)
    reused_sources: list[str] = field(default_factory=list)
    removed_sources: list[str] = field(default_factory=list)
    skipped: list = field(default_factory=list)
    dense_kind: str = "flat"
    seconds: float = 0.0
    backend: str | None = None  # what embedded this build's new texts (None: nothing to embed)
    embedded_texts: int = 0  # passages and sentences embedded by this build
    embed_seconds: float = 0.0
    bank_questions: int = 0  # questions of the question bank (index/bank.py) kept with this build
    embedded_banks: list[str] = field(default_factory=list)  # sources whose bank was (re-)embedded


@dataclass
class _Chunks:
    """One source's sentences and passages, with sentence ids local to the source."""

    sentences: list[Sentence]
    passages: list[Passage]
    passage_vectors: np.ndarray | None = None
    sentence_vectors: np.ndarray | None = None
    embedded_with: str = UNKNOWN_BACKEND


def _library_versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def backend_of(embedder: Embedder) -> str:
    """The library that computes `embedder`'s vectors, as the manifest records it."""
    return getattr(embedder, "backend", None) or type(embedder).__name__


_PreviousBank = dict[str, tuple[str, dict[str, np.ndarray]]]  # source_id -> (bank file sha256, question -> vector)


def _previous_chunks(out: Path, embedder: Embedder, settings: IndexSettings) -> tuple[dict[str, str], dict[str, _Chunks], _PreviousBank]:
    """Per-source chunks and vectors of the current index, and its bank's vectors, when they can be reused."""
    try:
        previous = SearchIndex.load(out, model=embedder.name)
    except IndexMissingError:
        return {}, {}, {}
    except (IndexCorruptError, IndexMismatchError) as exc:
        log.info(f"Not reusing the previous index ({exc.__class__.__name__}); embedding every source.")
        return {}, {}, {}
    bank: _PreviousBank = {}
    for sid, info in (previous.manifest.get("banks") or {}).items():
        vectors = {q.question: previous.bank_vectors[i] for i, q in enumerate(previous.bank) if q.source_id == sid}
        bank[sid] = (info.get("sha256", ""), vectors)
    if previous.settings != settings:
        log.info("Settings changed since the last build; embedding every source.")
        return {}, {}, bank
    hashes = {sid: info["sha256"] for sid, info in previous.manifest["sources"].items()}
    chunks: dict[str, _Chunks] = {}
    rows: dict[str, list[int]] = {}
    first_sentence: dict[str, int] = {}
    for i, sentence in enumerate(previous.sentences):
        first_sentence.setdefault(sentence.source_id, i)
        chunks.setdefault(sentence.source_id, _Chunks([], [])).sentences.append(sentence)
    for row, passage in enumerate(previous.passages):
        base = first_sentence.get(passage.source_id, 0)
        chunks.setdefault(passage.source_id, _Chunks([], [])).passages.append(
            _with_sentence_ids(passage, tuple(i - base for i in passage.sentence_ids))
        )
        rows.setdefault(passage.source_id, []).append(row)
    vectors = previous.passage_vectors
    for sid, entry in chunks.items():
        entry.embedded_with = previous.manifest["sources"].get(sid, {}).get("embedded_with", UNKNOWN_BACKEND)
        entry.passage_vectors = vectors[rows.get(sid, [])]
        if settings.sentence_vectors:
            base = first_sentence.get(sid, 0)
            entry.sentence_vectors = previous.sentence_vectors[base : base + len(entry.sentences)]
    return hashes, chunks, bank


def _with_sentence_ids(passage: Passage, ids: tuple[int, ...]) -> Passage:
    return dataclasses.replace(passage, sentence_ids=ids)


def _index_text(passage: Passage, settings: IndexSettings) -> str:
    """What BM25 indexes for a passage."""
    return f"{passage.title} {passage.text}" if settings.title_prefix else passage.text


def _embedded_text(passage: Passage, settings: IndexSettings) -> str:
    """What is embedded for a passage: its text, after the context the settings ask for."""
    text = _index_text(passage, settings)
    if settings.embed_context == "section":
        # Lead text has no heading of its own; the article title says what it is about.
        return f"{passage.title if passage.section == LEAD_SECTION else passage.section}: {text}"
    if settings.embed_context == "title_section":
        return f"{passage.title}. {passage.section}: {text}"
    return text


def stale_reasons(corpus: Corpus, out: Path, *, model: str, settings: IndexSettings) -> list[str]:
    """Why the index in `out` does not match `corpus` (an empty list means it is fresh)."""
    try:
        manifest = store.read_manifest(store.current_build(out))
    except IndexMissingError:
        return [f"no index in {out}"]
    except IndexCorruptError as exc:
        return [str(exc)]
    reasons = []
    if manifest.get("format_version") != store.FORMAT_VERSION:
        reasons.append("index format changed")
    if (manifest.get("model") or {}).get("name") != model:
        reasons.append(f"model changed to {model}")
    if manifest.get("settings") != settings.to_dict():
        reasons.append("index settings changed")
    if manifest.get("lexical") != lexical.CONFIG:
        reasons.append("lexical index settings changed")
    built = {sid: info.get("sha256") for sid, info in (manifest.get("sources") or {}).items()}
    now = {doc.source_id: doc.sha256 for doc in corpus.documents}
    reasons += [f"source added: {sid}" for sid in sorted(now.keys() - built.keys())]
    reasons += [f"source removed: {sid}" for sid in sorted(built.keys() - now.keys())]
    reasons += [f"source changed: {sid}" for sid in sorted(now.keys() & built.keys()) if now[sid] != built[sid]]
    banks_built = {sid: info.get("sha256") for sid, info in (manifest.get("banks") or {}).items()}
    banks_now = bank_hashes(corpus)
    reasons += [f"question bank added: {sid}" for sid in sorted(banks_now.keys() - banks_built.keys())]
    reasons += [f"question bank removed: {sid}" for sid in sorted(banks_built.keys() - banks_now.keys())]
    reasons += [f"question bank changed: {sid}" for sid in sorted(banks_now.keys() & banks_built.keys()) if banks_now[sid] != banks_built[sid]]
    return reasons


def bank_hashes(corpus: Corpus) -> dict[str, str]:
    """sha256 of each article's bank file (index/bank.py), by source id: what decides whether a bank changed."""
    hashes = {}
    for doc in corpus.documents:
        path = banks_module.bank_path(doc)
        if path is not None and path.is_file():
            hashes[doc.source_id] = store.file_sha256(path)
    return hashes


def build_index(
    sources: str | Path,
    out: str | Path,
    *,
    embedder: Embedder,
    settings: IndexSettings = IndexSettings(),
    corpus: Corpus | None = None,
    progress: bool = True,
    lock_wait_seconds: float = 0.0,
) -> BuildReport:
    """Build (or refresh) the index of `sources` into `out`; see the module docstring."""
    started = time.monotonic()
    out = Path(out)
    corpus = corpus if corpus is not None else load_corpus(sources)
    for skipped in corpus.skipped:
        log.warning(f"Skipped {skipped.path}: {skipped.reason}")
    bank_files = banks_module.load_bank(sources, corpus)  # BankError before anything is built
    with store.build_lock(out, wait_seconds=lock_wait_seconds):
        old_hashes, old_chunks, old_bank = _previous_chunks(out, embedder, settings)
        report = BuildReport(out, 0, len(corpus.documents), skipped=list(corpus.skipped))
        report.removed_sources = sorted(old_hashes.keys() - {d.source_id for d in corpus.documents})
        per_source: list[_Chunks] = []
        to_embed: list[_Chunks] = []
        for doc in corpus.documents:
            if old_hashes.get(doc.source_id) == doc.sha256 and doc.source_id in old_chunks:
                per_source.append(old_chunks[doc.source_id])
                report.reused_sources.append(doc.source_id)
            else:
                sentences, passages = document_passages(doc, settings)
                chunks = _Chunks(sentences, passages)
                per_source.append(chunks)
                to_embed.append(chunks)
                report.embedded_sources.append(doc.source_id)
        _embed(to_embed, embedder, settings, progress, report)
        bank_vectors = _embed_bank(bank_files, old_bank, embedder, report)
        index = _assemble(per_source, embedder, settings, store.new_build_dir(out))
        index.bank, index.bank_vectors = _bank_questions(bank_files, index.passages), bank_vectors
        report.bank_questions = len(index.bank)
        report.passages, report.dense_kind = len(index.passages), dense.kind_of(index.dense)
        index.write()
        backends = {doc.source_id: chunks.embedded_with for doc, chunks in zip(corpus.documents, per_source)}
        index.manifest = _manifest(index, corpus, embedder, settings, sources, backends, bank_files)
        store.write_json_atomic(index.path / store.MANIFEST, index.manifest)
        report.path = store.publish(out, index.path)
    report.seconds = time.monotonic() - started
    return report


def _embed(to_embed: list[_Chunks], embedder: Embedder, settings: IndexSettings, progress: bool,
           report: BuildReport) -> None:
    passage_texts = [_embedded_text(p, settings) for c in to_embed for p in c.passages]
    sentence_texts = [s.text for c in to_embed for s in c.sentences] if settings.sentence_vectors else []
    if not passage_texts:
        for chunks in to_embed:
            chunks.embedded_with = "none"  # no text, so no vectors: nothing computed them
        return
    # Only now, when there is something to embed: a refresh that reuses every source opens no second session.
    worker = embedder.for_building() if hasattr(embedder, "for_building") else embedder
    backend = backend_of(worker)
    threads = getattr(worker, "threads", None)
    log.info(f"Embedding {len(passage_texts)} passages" + (f" and {len(sentence_texts)} sentences" if sentence_texts else "")
        + f" with {embedder.name} on {backend}" + (f" ({threads} thread{'s' if threads != 1 else ''})" if threads else "") + "...")
    started = time.monotonic()
    vectors = worker.embed(passage_texts + sentence_texts, progress=progress)
    report.backend, report.embedded_texts = backend, len(vectors)
    report.embed_seconds = time.monotonic() - started
    passage_vectors, sentence_vectors = vectors[: len(passage_texts)], vectors[len(passage_texts) :]
    p_at = s_at = 0
    for chunks in to_embed:
        chunks.embedded_with = backend
        chunks.passage_vectors = passage_vectors[p_at : p_at + len(chunks.passages)]
        p_at += len(chunks.passages)
        if sentence_texts:
            chunks.sentence_vectors = sentence_vectors[s_at : s_at + len(chunks.sentences)]
            s_at += len(chunks.sentences)


def _embed_bank(bank_files, old_bank: _PreviousBank, embedder: Embedder, report: BuildReport) -> np.ndarray:
    """One vector per bank question, in file order: reused for a bank file that did not change, embedded otherwise
    (the question as typed: it is matched to visitors' questions, question to question)."""
    rows: list[np.ndarray | None] = []
    to_embed: list[tuple[int, str]] = []
    for bank in bank_files:
        sha, known = old_bank.get(bank.source_id, ("", {}))
        reuse = sha == bank.sha256
        if not reuse:
            report.embedded_banks.append(bank.source_id)
        for entry in bank.entries:
            vector = known.get(entry.question) if reuse else None
            if vector is None:
                to_embed.append((len(rows), entry.question))
            rows.append(vector)
    if to_embed:
        log.info(f"Embedding {len(to_embed)} question bank entries ({', '.join(report.embedded_banks) or 'changed'})...")
        vectors = embedder.embed([text for _, text in to_embed])
        for (row, _), vector in zip(to_embed, vectors):
            rows[row] = vector
    if not rows:
        return np.zeros((0, embedder.dimension), np.float32)
    return np.vstack(rows).astype(np.float32)


def _bank_questions(bank_files, passages: list[Passage]) -> list[BankQuestion]:
    by_source: dict[str, list[tuple[int, Passage]]] = {}
    for row, passage in enumerate(passages):
        by_source.setdefault(passage.source_id, []).append((row, passage))
    return [BankQuestion(entry.source_id, entry.question, entry.quotes, entry.section,
                         tuple(banks_module.holding_passages(entry, by_source.get(entry.source_id, []))))
            for bank in bank_files for entry in bank.entries]


def _assemble(per_source: list[_Chunks], embedder: Embedder, settings: IndexSettings, build_dir: Path) -> SearchIndex:
    passages: list[Passage] = []
    sentences: list[Sentence] = []
    passage_vectors, sentence_vectors = [], []
    for chunks in per_source:
        base = len(sentences)
        passages += [_with_sentence_ids(p, tuple(base + i for i in p.sentence_ids)) for p in chunks.passages]
        sentences += chunks.sentences
        passage_vectors.append(chunks.passage_vectors if chunks.passage_vectors is not None else np.zeros((0, embedder.dimension), np.float32))
        if settings.sentence_vectors:
            sentence_vectors.append(chunks.sentence_vectors)
    all_passage_vectors = np.vstack(passage_vectors).astype(np.float32)
    all_sentence_vectors = np.vstack(sentence_vectors).astype(np.float32) if sentence_vectors else np.zeros((0, embedder.dimension), np.float32)
    kind = dense.kind_for(len(passages), approximate_above=settings.approximate_above)
    faiss_index = dense.build(all_passage_vectors, kind=kind)
    bm25 = lexical.build([_index_text(p, settings) for p in passages])
    return SearchIndex(build_dir, {}, passages, sentences, all_sentence_vectors, faiss_index, bm25)


def _manifest(index: SearchIndex, corpus: Corpus, embedder: Embedder, settings: IndexSettings, sources,
              backends: dict[str, str], bank_files=()) -> dict:
    counts: dict[str, int] = {}
    for passage in index.passages:
        counts[passage.source_id] = counts.get(passage.source_id, 0) + 1
    return {
        "format_version": store.FORMAT_VERSION,
        "model": {"name": embedder.name, "package": MODEL_PACKAGE, "dimension": embedder.dimension, "normalized": True},
        "dense": {"kind": dense.kind_of(index.dense), "metric": "inner_product"},
        "lexical": lexical.CONFIG,
        "settings": settings.to_dict(),
        # Not compared by stale_reasons: every backend computes the same vectors of the same model.
        "embedded_with": sorted(set(backends.values())),
        "passages": len(index.passages),
        "sentences": len(index.sentences),
        "source_count": len(corpus.documents),
        "sources": {
            doc.source_id: {"sha256": doc.sha256, "title": doc.title, "path": doc.path, "passages": counts.get(doc.source_id, 0),
                            "embedded_with": backends[doc.source_id]}
            for doc in corpus.documents
        },
        "banks": {bank.source_id: {"sha256": bank.sha256, "path": bank.path, "questions": len(bank.entries)} for bank in bank_files},
        "bank_questions": len(index.bank),
        "skipped": [{"path": s.path, "reason": s.reason} for s in corpus.skipped],
        "sources_path": str(sources),
        "libraries": _library_versions(),
        "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files": store.checksums(index.path),
    }


def open_index(
    sources: str | Path,
    out: str | Path,
    *,
    embedder: Embedder,
    settings: IndexSettings = IndexSettings(),
    progress: bool = True,
) -> SearchIndex:
    """Load the index in `out`, building it first when it is missing, stale, corrupt or mismatched."""
    out = Path(out)
    corpus = load_corpus(sources)
    reasons = stale_reasons(corpus, out, model=embedder.name, settings=settings)
    if not reasons:
        try:
            return SearchIndex.load(out, model=embedder.name)
        except (IndexCorruptError, IndexMismatchError) as exc:
            reasons = [str(exc)]
    log.info("Building the index: " + "; ".join(reasons))
    report = build_index(sources, out, embedder=embedder, settings=settings, corpus=corpus, progress=progress, lock_wait_seconds=600)
    log.info(describe(report))
    return SearchIndex.load(out, model=embedder.name)


def describe(report: BuildReport) -> str:
    parts = [f"Built {report.passages} passages from {report.sources} sources in {report.seconds:.1f} s ({report.dense_kind} FAISS + BM25) at {report.path}."]
    parts.append(f"Embedded: {', '.join(report.embedded_sources) or 'none'}; reused: {len(report.reused_sources)}.")
    if report.backend and report.embed_seconds > 0:
        parts.append(f"Embedding: {report.embedded_texts} texts on {report.backend} in {report.embed_seconds:.1f} s "
                     f"({report.embedded_texts / report.embed_seconds:.0f} texts/s).")
    if report.bank_questions:
        parts.append(f"Question bank: {report.bank_questions} questions"
                     + (f" (embedded: {', '.join(report.embedded_banks)})." if report.embedded_banks else ", reused."))
    if report.removed_sources:
        parts.append(f"Removed: {', '.join(report.removed_sources)}.")
    if report.skipped:
        parts.append(f"Skipped {len(report.skipped)} file(s) (see above).")
    return " ".join(parts)
