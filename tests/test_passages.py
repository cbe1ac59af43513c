"""Sentence splitting and passage windows: boundaries, limits, offsets."""

from __future__ import annotations

from index import IndexSettings, load_corpus, split_sentences
from index.passages import document_passages
from tests.conftest import REPO, write_corpus


def test_abbreviations_do_not_break_sentences():
    text = "Dr. Lee uses thin needles, e.g. 0.2 mm wide, i.e. very fine. Most feel little pain. See Fig. 2 for U.S. data."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Dr. Lee uses thin needles, e.g. 0.2 mm wide, i.e. very fine.",
        "Most feel little pain.",
        "See Fig. 2 for U.S. data.",
    ]


def test_sentences_never_span_paragraphs():
    text = "First paragraph without a full stop\n\nSecond paragraph. Third sentence."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "First paragraph without a full stop", "Second paragraph.", "Third sentence."
    ]


def test_mini_corpus_passages_by_hand(mini_sources):
    doc = {d.source_id: d for d in load_corpus(mini_sources).documents}["needles"]
    sentences, passages = document_passages(doc, IndexSettings())
    assert [s.text for s in sentences] == [
        "Most patients feel little to no pain.",
        "Dr. Lee uses thin needles, e.g. 0.2 mm wide.",
        "A session lasts 30 minutes.",
        "People taking blood thinners should ask their doctor first.",
        "Bruising is rare.",
    ]
    # Windows of up to 3 sentences, starting at each sentence, never crossing "## Safety";
    # a window wholly inside the previous one is dropped.
    assert [(p.section, p.sentence_ids) for p in passages] == [
        ("Does it hurt?", (0, 1, 2)),
        ("Safety", (3, 4)),
    ]
    assert passages[0].text == "Most patients feel little to no pain. Dr. Lee uses thin needles, e.g. 0.2 mm wide. A session lasts 30 minutes."
    assert passages[0].url == "https://example.org/needles" and passages[0].title == "About Needles"
    assert passages[1].passage_id == f"needles#{passages[1].start}-{passages[1].end}"


def test_character_limit_shortens_windows_and_cuts_a_lone_long_sentence(tmp_path):
    long_sentence = "Needles " + "very " * 200 + "thin."
    write_corpus(tmp_path, {"a.md": "## S\n\n" + "Short one. " * 3 + "\n\n## T\n\n" + long_sentence + "\n"})
    doc = load_corpus(tmp_path).documents[0]
    _, passages = document_passages(doc, IndexSettings(max_chars=100))
    assert all(len(p.text) <= 100 for p in passages)
    cut = [p for p in passages if p.section == "T"][0]
    assert cut.text.endswith("…") and long_sentence.startswith(cut.text[:-1])


def test_real_corpus_passages_are_verbatim_bounded_and_within_one_section():
    settings = IndexSettings()
    for doc in load_corpus(REPO / "sources").documents:
        sentences, passages = document_passages(doc, settings)
        assert passages, doc.source_id
        covered = set()
        for p in passages:
            assert doc.body[p.start : p.end] == p.text
            assert 1 <= len(p.sentence_ids) <= 3 and len(p.text) <= 600
            section = next(s for s in doc.sections if s.start <= p.start < s.end)
            assert p.end <= section.end and p.section == section.heading
            assert "##" not in p.text
            covered.update(p.sentence_ids)
        assert covered == set(range(len(sentences)))  # every sentence is retrievable
