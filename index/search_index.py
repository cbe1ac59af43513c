"""A built index, loaded and checked: passages, sentences, FAISS and BM25, with its manifest.

`SearchIndex.load(out)` refuses an index it cannot trust: unknown format version, files
whose checksums differ from the manifest, or (when `model` is given) another model than
the one the caller will embed queries with. Every refusal names the command to run.
"""

from __future__ import annotations

import dataclasses
import json
import mmap
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np

from . import dense, lexical, store
from .errors import IndexCorruptError, IndexMismatchError
from .passages import Passage, Sentence
from .settings import IndexSettings

PASSAGES_FILE = "passages.jsonl"
SENTENCES_FILE = "sentences.jsonl"
DENSE_FILE = "dense.faiss"
SENTENCE_VECTORS_FILE = "sentence_vectors.npy"
BM25_DIR = "bm25"
BANK_FILE = "bank.jsonl"
BANK_VECTORS_FILE = "bank_vectors.npy"


@dataclass(frozen=True)
class BankQuestion:
    """A question of the bank (index/bank.py) as the index keeps it: `passages` are the rows that hold its answer."""

    source_id: str
    question: str
    quotes: tuple[str, ...]
    section: str
    passages: tuple[int, ...]


@dataclass
class SearchIndex:
    path: Path
    manifest: dict
    passages: list[Passage]
    sentences: list[Sentence]
    sentence_vectors: np.ndarray
    dense: faiss.Index
    bm25: object
    bank: list[BankQuestion] = dataclasses.field(default_factory=list)
    bank_vectors: np.ndarray | None = None  # one unit vector per bank question, in `bank` order

    @property
    def settings(self) -> IndexSettings:
        return IndexSettings.from_dict(self.manifest["settings"])

    @property
    def model_name(self) -> str:
        """The embedding model the index was built with (a query must be embedded with the same one)."""
        return self.manifest["model"]["name"]

    @property
    def source_ids(self) -> list[str]:
        return sorted(self.manifest["sources"])

    @cached_property
    def source_titles(self) -> dict[str, str]:
        """Each source id with its title, as its passages carry it."""
        return {p.source_id: p.title for p in self.passages}

    @cached_property
    def passage_vectors(self) -> np.ndarray:
        return dense.vectors_of(self.dense)

    @cached_property
    def lexical_vocabulary(self) -> set[str]:
        return lexical.vocabulary(self.bm25)

    @classmethod
    def load(cls, out: str | Path, *, model: str | None = None, verify: bool = True) -> "SearchIndex":
        out = Path(out)
        build_dir = store.current_build(out)
        manifest = store.read_manifest(build_dir)
        rebuild = f"python -m index build --out {out}"
        if manifest.get("format_version") != store.FORMAT_VERSION:
            raise IndexMismatchError(
                f"The index in {out} has format version {manifest.get('format_version')!r}; this program reads "
                f"version {store.FORMAT_VERSION}. Rebuild it: {rebuild}"
            )
        built_with = (manifest.get("model") or {}).get("name")
        if model is not None and built_with != model:
            raise IndexMismatchError(
                f"The index in {out} was built with the model {built_with!r}, but this program embeds questions "
                f"with {model!r}. Rebuild it: {rebuild}"
            )
        if verify:
            store.verify_files(build_dir, manifest)
        try:
            passages = [_passage(r) for r in _read_jsonl(build_dir / PASSAGES_FILE)]
            sentences = [_sentence(r) for r in _read_jsonl(build_dir / SENTENCES_FILE)]
            sentence_vectors = _map_vectors(build_dir / SENTENCE_VECTORS_FILE)
            faiss_index = dense.read(str(build_dir / DENSE_FILE))
            bm25 = lexical.read(build_dir / BM25_DIR)
            bank, bank_vectors = _read_bank(build_dir, manifest)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise IndexCorruptError(f"The index in {build_dir} cannot be read ({exc}). Rebuild it: {rebuild}") from exc
        if faiss_index.ntotal != len(passages) or len(passages) != manifest.get("passages"):
            raise IndexCorruptError(
                f"The index in {build_dir} is inconsistent ({faiss_index.ntotal} vectors, {len(passages)} passages, "
                f"manifest says {manifest.get('passages')}). Rebuild it: {rebuild}"
            )
        if len(bank) != len(bank_vectors) or any(row >= len(passages) for q in bank for row in q.passages):
            raise IndexCorruptError(f"The question bank of the index in {build_dir} is inconsistent. Rebuild it: {rebuild}")
        return cls(build_dir, manifest, passages, sentences, sentence_vectors, faiss_index, bm25, bank, bank_vectors)

    def write(self) -> None:
        """Write all files but the manifest into `self.path` (a fresh build directory)."""
        _write_jsonl(self.path / PASSAGES_FILE, (_passage_record(p) for p in self.passages))
        _write_jsonl(self.path / SENTENCES_FILE, (dataclasses.asdict(s) for s in self.sentences))
        np.save(self.path / SENTENCE_VECTORS_FILE, self.sentence_vectors, allow_pickle=False)
        dense.write(self.dense, str(self.path / DENSE_FILE))
        (self.path / BM25_DIR).mkdir()
        lexical.write(self.bm25, self.path / BM25_DIR)
        if self.bank:
            _write_jsonl(self.path / BANK_FILE, (_bank_record(q) for q in self.bank))
            np.save(self.path / BANK_VECTORS_FILE, np.asarray(self.bank_vectors, dtype=np.float32), allow_pickle=False)


def _bank_record(question: BankQuestion) -> dict:
    record = dataclasses.asdict(question)
    record["quotes"], record["passages"] = list(question.quotes), list(question.passages)
    return record


def _read_bank(build_dir: Path, manifest: dict) -> tuple[list[BankQuestion], np.ndarray]:
    """The bank an index was built with; none for an index built without one (or before banks existed)."""
    if not (build_dir / BANK_FILE).exists():
        return [], np.zeros((0, (manifest.get("model") or {}).get("dimension", 0)), dtype=np.float32)
    bank = [BankQuestion(r["source_id"], r["question"], tuple(r["quotes"]), r["section"], tuple(r["passages"]))
            for r in _read_jsonl(build_dir / BANK_FILE)]
    return bank, np.load(build_dir / BANK_VECTORS_FILE, allow_pickle=False)


def _map_vectors(path: Path) -> np.ndarray:
    """A .npy matrix memory-mapped read-only, without read-ahead: a query reads the rows of its ~50 candidate
    sentences, so only their pages become resident (the file is ~350 MB at 100k passages; with the kernel's
    default read-ahead a few hundred queries pulled in most of it: bench/serving_memory.py)."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f"{path.name} has .npy format version {version}, expected 1.0 or 2.0")
        shape, fortran_order, dtype = read_header(handle)
        offset = handle.tell()
        if fortran_order or dtype.hasobject:
            raise ValueError(f"{path.name} is not a C-ordered numeric matrix")
        count = int(np.prod(shape))
        if count == 0:
            return np.zeros(shape, dtype=dtype)
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mmap, "MADV_RANDOM"):
        mapped.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mapped, dtype=dtype, count=count, offset=offset).reshape(shape)


def _passage(record: dict) -> Passage:
    record = dict(record)
    record["sentence_ids"] = tuple(record.get("sentence_ids", ()))
    for name in _SHARED_FIELDS:  # one string per source, not one per passage
        if isinstance(record.get(name), str):
            record[name] = sys.intern(record[name])
    return Passage(**record)


def _sentence(record: dict) -> Sentence:
    return Sentence(**{k: sys.intern(v) if k in _SHARED_FIELDS and isinstance(v, str) else v for k, v in record.items()})


_SHARED_FIELDS = ("source_id", "title", "section", "url")


def _passage_record(passage: Passage) -> dict:
    record = dataclasses.asdict(passage)
    record["sentence_ids"] = list(passage.sentence_ids)
    return record


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write_jsonl(path: Path, records) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
