"""Shared fixtures: a deterministic fake embedder, a tiny corpus, and the real index (built once)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
# Debian's Chromium, driven by Playwright (which must not download a browser of its own: no network).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHARED_ARTICLES = REPO.parent / "shared" / "articles"


class FakeEmbedder:
    """Bag-of-words hashed into 64 dimensions, normalised: same text, same vector; shared words, closer.

    Records every text it embeds, so tests can tell what was (re-)embedded.
    """

    dimension = 64

    def __init__(self, name: str = "fake-bow-64", fail_after: int | None = None):
        self.name = name
        self.calls: list[list[str]] = []
        self.fail_after = fail_after

    @property
    def embedded(self) -> list[str]:
        return [t for call in self.calls for t in call]

    def embed(self, texts, *, progress=False):
        texts = list(texts)
        if self.fail_after is not None and len(self.embedded) + len(texts) > self.fail_after:
            raise RuntimeError("fake embedder failure (simulated crash mid-build)")
        self.calls.append(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                slot = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension
                out[row, slot] += 1.0
            out[row, len(text) % self.dimension] += 0.01  # never an all-zero row
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class FakeReranker:
    """Scores a text by the first of `scores`' phrases it contains (else `default`); records each call."""

    name = "fake-reranker"
    fingerprint = "fake"

    def __init__(self, scores: dict[str, float], default: float = 0.0):
        self.scores, self.default = scores, default
        self.queries: list[str] = []
        self.texts: list[list[str]] = []

    def score(self, query, texts):
        self.queries.append(query)
        self.texts.append(list(texts))
        return np.array([next((v for k, v in self.scores.items() if k.lower() in t.lower()), self.default) for t in texts],
                        dtype=np.float32)


MINI_CORPUS = {
    "needles.md": """---
title: About Needles
url: https://example.org/needles
---
## Does it hurt?

Most patients feel little to no pain. Dr. Lee uses thin needles, e.g. 0.2 mm wide. A session lasts 30 minutes.

## Safety

People taking blood thinners should ask their doctor first. Bruising is rare.
""",
    "qi.txt": """What Is Qi
Qi is the energy that flows along meridians. Acupuncture aims to restore its flow.
""",
}


def write_corpus(directory: Path, files: dict[str, str] = MINI_CORPUS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def fake_index(directory: Path, files: dict[str, str]):
    """`files` written as sources under `directory`, indexed with the fake embedder, loaded."""
    from index import SearchIndex, build_index

    sources = write_corpus(directory / "src", files)
    build_index(sources, directory / "idx", embedder=FakeEmbedder(), log=lambda m: None, progress=False)
    return SearchIndex.load(directory / "idx")


@pytest.fixture
def mini_sources(tmp_path):
    return write_corpus(tmp_path / "sources")


@pytest.fixture(scope="session")
def real_embedder():
    from index import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory, real_embedder):
    """The real corpus, indexed with the real model, once per test session."""
    from index import build_index

    out = tmp_path_factory.mktemp("real-index")
    build_index(REPO / "sources", out, embedder=real_embedder, log=lambda _m: None, progress=False)
    return out


@pytest.fixture(scope="session")
def real_answerer(real_index_dir, real_embedder):
    """The real pipeline: real model, real index of sources/, shipped clinic settings and abstention model."""
    from index import SearchIndex
    from qa import Answerer, load_settings

    settings = load_settings(REPO / "clinic.toml", environ={})
    return Answerer(SearchIndex.load(real_index_dir, model=real_embedder.name), real_embedder, settings)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the browser tests (tests/setup.sh installs it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
