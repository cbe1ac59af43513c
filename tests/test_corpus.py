"""The curated corpus in sources/: verbatim article text, boilerplate gone, metadata right."""

from __future__ import annotations

import re

import pysbd
import pytest

from index import load_corpus
from tests.conftest import REPO, SHARED_ARTICLES

BOILERPLATE = [
    "top of page", "bottom of page", "Writer's picture", "Click to fill in the questionnaire now",
    "See Citations", "Feet in the ocean", "Acupressure for foot and toe pain", "Updated: Dec 3, 2023",
]
# Lines of the captures that are page furniture, not article text (captions, bylines, links, furniture).
NOT_ARTICLE_TEXT = set(BOILERPLATE) | {"• Writer's pictureLaura Mann", "Acupuncture for Neuropathy"}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip().lower()


def _sources_text() -> str:
    return _norm(" ".join(p.read_text(encoding="utf-8") for p in (REPO / "sources").glob("*.md")))


needs_articles = pytest.mark.skipif(not SHARED_ARTICLES.is_dir(), reason="../shared/articles not present")


@needs_articles
def test_every_sentence_of_the_articles_is_in_sources_verbatim():
    segmenter = pysbd.Segmenter(language="en", clean=False)
    corpus = _sources_text()
    checked = 0
    for article in sorted(SHARED_ARTICLES.glob("*.txt")):
        for line in article.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.strip() in NOT_ARTICLE_TEXT:
                continue
            for sentence in segmenter.segment(line):
                assert _norm(sentence) in corpus, f"{article.name}: missing sentence {sentence!r}"
                checked += 1
    assert checked > 150


def test_boilerplate_is_removed():
    corpus = _sources_text()
    for junk in BOILERPLATE:
        assert _norm(junk) not in corpus, junk
    bodies = " ".join(d.body for d in load_corpus(REPO / "sources").documents)
    assert "Acupuncture for Neuropathy\n" not in bodies  # the photo caption between sections


def test_source_metadata():
    docs = {d.source_id: d for d in load_corpus(REPO / "sources").documents}
    # The five articles shipped (a clinic's own articles beside them are theirs to add: not counted here).
    assert {"acupuncture-mechanisms-evidence", "acupuncture-neuropathy-feet", "acupuncture-peripheral-neuropathy",
            "acupuncture-work-for-neuropathy", "how-acupuncture-helps-neuropathy"} <= set(docs)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", sid) and len(sid) <= 40 for sid in docs)
    assert docs["acupuncture-neuropathy-feet"].title == "Does Acupuncture Help Neuropathy in the Feet?"
    wildflower = docs["acupuncture-work-for-neuropathy"].metadata
    assert wildflower == {"author": "Laura Mann", "publisher": "Wildflower Acupuncture", "updated": "2023-12-03"}
    untitled = docs["acupuncture-mechanisms-evidence"]
    assert "no title" in untitled.metadata["title_note"]
    assert "Mechanisms" in untitled.title
    assert not untitled.body.lstrip().startswith("#")  # the body is the article, not an invented heading
    sections = [s.heading for s in docs["acupuncture-neuropathy-feet"].sections]
    assert sections == ["Introduction", "Defining Neuropathy in the Feet", "How Acupuncture Addresses Nerve Pain",
                        "Clinical Evidence for Neuropathy Treatment", "The Patient Experience and Treatment Safety"]
