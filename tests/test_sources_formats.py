"""Each accepted source format, and files that are skipped or refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index import SourcesError, load_corpus
from tests.conftest import write_corpus


def test_markdown_with_front_matter(tmp_path, mini_sources):
    doc = {d.source_id: d for d in load_corpus(mini_sources).documents}["needles"]
    assert doc.title == "About Needles"
    assert doc.url == "https://example.org/needles"
    assert [s.heading for s in doc.sections] == ["Does it hurt?", "Safety"]
    assert doc.body[doc.sections[1].start : doc.sections[1].end].strip().startswith("People taking blood thinners")


def test_markdown_without_front_matter_takes_its_first_heading(tmp_path):
    write_corpus(tmp_path, {"plain.md": "# A Plain Title\n\nSome text here. More text.\n"})
    doc = load_corpus(tmp_path).documents[0]
    assert doc.title == "A Plain Title" and doc.url is None


def test_text_file_title_is_first_line(mini_sources):
    doc = {d.source_id: d for d in load_corpus(mini_sources).documents}["qi"]
    assert doc.title == "What Is Qi"
    assert doc.body.strip().startswith("Qi is the energy")
    assert [s.heading for s in doc.sections] == ["Introduction"]


def test_html_main_text_is_extracted_without_navigation(tmp_path):
    html = """<html><head><title>Needles and You</title></head><body>
    <nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/contact">Contact</a></nav>
    <article><h1>Needles and You</h1>
    <h2>What to expect</h2>
    <p>Most patients feel little to no pain when the thin needles go in. The feeling is often a brief pinch.</p>
    <p>Sessions usually last between thirty and sixty minutes, and many people relax or even fall asleep.</p>
    <h2>Safety</h2>
    <p>Tell your doctor if you take blood thinners before you begin a course of treatment with needles.</p>
    </article>
    <footer>Copyright 2024 Example Clinic. All rights reserved. Privacy policy.</footer>
    </body></html>"""
    write_corpus(tmp_path, {"clinic-page.html": html})
    doc = load_corpus(tmp_path).documents[0]
    assert doc.source_id == "clinic-page"
    assert doc.title == "Needles and You"
    assert "little to no pain" in doc.body and "blood thinners" in doc.body
    assert "All rights reserved" not in doc.body and "Contact" not in doc.body
    assert "Safety" in [s.heading for s in doc.sections]


def test_beir_corpus_jsonl(tmp_path):
    lines = [
        {"_id": "d1", "title": "Vitamin D", "text": "Vitamin D helps bones."},
        {"_id": "d2", "title": "", "text": "Needles are thin."},
        {"_id": "d3", "title": "Empty", "text": "   "},
    ]
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(l) for l in lines) + "\nnot json\n", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert [(d.source_id, d.title) for d in corpus.documents] == [("d1", "Vitamin D"), ("d2", "d2")]
    reasons = {s.path: s.reason for s in corpus.skipped}
    assert reasons[f"{tmp_path / 'corpus.jsonl'}:3"] == "its text is empty"
    assert "not valid JSON" in reasons[f"{tmp_path / 'corpus.jsonl'}:4"]


def test_a_single_file_can_be_the_sources(mini_sources):
    corpus = load_corpus(mini_sources / "qi.txt")
    assert [d.source_id for d in corpus.documents] == ["qi"]


def test_files_without_usable_text_are_reported_and_skipped(tmp_path, mini_sources):
    (mini_sources / "empty.txt").write_text("  \n\n", encoding="utf-8")
    (mini_sources / "only-front-matter.md").write_text("---\ntitle: Nothing\n---\n", encoding="utf-8")
    (mini_sources / "latin1.txt").write_bytes("Caf\xe9 au lait\n".encode("latin-1"))
    (mini_sources / "bad-yaml.md").write_text("---\ntitle: [unclosed\n---\nText.\n", encoding="utf-8")
    corpus = load_corpus(mini_sources)
    assert sorted(d.source_id for d in corpus.documents) == ["needles", "qi"]
    reasons = {Path(s.path).name: s.reason for s in corpus.skipped}
    assert reasons["empty.txt"] == "it is empty"
    assert reasons["only-front-matter.md"] == "it has no body text"
    assert "not UTF-8" in reasons["latin1.txt"]
    assert "front matter is invalid" in reasons["bad-yaml.md"]


def test_unreadable_file_is_reported_by_name(mini_sources, monkeypatch):
    real_read = Path.read_bytes

    def read_bytes(self):
        if self.name == "qi.txt":
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    corpus = load_corpus(mini_sources)
    assert [d.source_id for d in corpus.documents] == ["needles"]
    assert corpus.skipped[0].path.endswith("qi.txt")
    assert "Permission denied" in corpus.skipped[0].reason and "permissions" in corpus.skipped[0].reason


def test_missing_sources_directory(tmp_path):
    with pytest.raises(SourcesError, match="Sources not found: .*nowhere. Pass --sources"):
        load_corpus(tmp_path / "nowhere")


def test_empty_sources_directory(tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(SourcesError, match=r"No source files in .* Add .md, .txt, .html, .pdf, .docx files or a corpus.jsonl"
                       r".*notes.csv: it is not a kind of file the build reads"):
        load_corpus(tmp_path)


def test_directory_with_only_unusable_files(tmp_path):
    (tmp_path / "blank.md").write_text("\n")
    with pytest.raises(SourcesError, match=r"No usable text in .*blank.md: it has no body text"):
        load_corpus(tmp_path)


def test_two_files_with_one_id_are_refused(tmp_path):
    write_corpus(tmp_path, {"same.md": "# T\n\nText one.\n", "same.txt": "T\nText two.\n"})
    with pytest.raises(SourcesError, match="Two sources share the id 'same'.*Rename one"):
        load_corpus(tmp_path)
