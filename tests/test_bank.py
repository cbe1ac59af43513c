"""The question bank (index/bank.py, qa/bank.py): checked like a source, built with the index, used in ranking,
grown from review. Fast: a hand-made corpus and the bag-of-words fake embedder."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index import SearchIndex, build_index
from index.build import stale_reasons
from index.settings import IndexSettings
from index.sources import load_corpus
from index.errors import BankError
from qa import bank as bank_cli
from qa.errors import QAError
from qa.retrieve import HybridRetriever, RetrievalParams
from tests.conftest import MINI_CORPUS, FakeEmbedder, write_corpus

REPO = Path(__file__).resolve().parent.parent

GOOD_BANK = """format: 1
questions:
  - question: will it hurt much
    answer: Most patients feel little to no pain.
  - question: I'm on warfarin, can I still have it?
    answer: "People taking blood thinners should ask their doctor first."
"""


def sources_with_bank(tmp_path: Path, bank: str, name: str = "needles.questions.yaml") -> Path:
    sources = write_corpus(tmp_path / "sources")
    (sources / name).write_text(bank, encoding="utf-8")
    return sources


def build(sources: Path, out: Path, embedder=None):
    return build_index(sources, out, embedder=embedder or FakeEmbedder(), progress=False)


def build_error(tmp_path: Path, bank: str, name: str = "needles.questions.yaml") -> str:
    sources = sources_with_bank(tmp_path, bank, name)
    with pytest.raises(BankError) as caught:
        build(sources, tmp_path / "idx")
    assert not (tmp_path / "idx").exists() or not any((tmp_path / "idx").rglob("manifest.json")), "nothing is built"
    # `python -m qa bank check` says the same thing
    with pytest.raises(BankError) as checked:
        bank_cli.check(sources)
    assert str(checked.value) == str(caught.value)
    return str(caught.value)


# --- checked like a source ------------------------------------------------------------------------------------

def test_a_quote_not_in_the_article_is_named_with_the_fix(tmp_path):
    message = build_error(tmp_path, GOOD_BANK.replace("little to no pain", "no pain at all"))
    assert "needles.questions.yaml: entry 1" in message and "will it hurt much" in message
    assert "not in" in message and "word for word" in message and "Copy the sentence" in message


def test_quotes_from_two_sections_are_refused(tmp_path):
    bank = ("format: 1\nquestions:\n  - question: is it safe and painless\n    answer:\n"
            "      - Most patients feel little to no pain.\n      - Bruising is rare.\n")
    message = build_error(tmp_path, bank)
    assert "entry 1" in message and "spans the sections" in message and "one section only" in message
    assert "Does it hurt?" in message and "Safety" in message


def test_a_duplicate_question_is_refused_within_a_file_and_across_files(tmp_path):
    twice = GOOD_BANK + "  - question: Will it HURT much?\n    answer: A session lasts 30 minutes.\n"
    message = build_error(tmp_path, twice)
    assert "entry 3" in message and "already in" in message and "entry 1" in message and "remove one" in message

    across = tmp_path / "across"
    sources = sources_with_bank(across, GOOD_BANK)
    (sources / "qi.questions.yaml").write_text(
        "format: 1\nquestions:\n  - question: will it hurt much\n    answer: Qi is the energy that flows along meridians.\n")
    with pytest.raises(BankError, match="already in"):
        build(sources, across / "idx")


@pytest.mark.parametrize("text, says", [
    ("format: 1\nquestions:\n  - question: what: is this\n    answer: x\n", "not valid YAML at line 3"),
    ("questions:\n  - question: a\n    answer: Bruising is rare.\n", "format: 1"),
    ("format: 1\nquestions:\n  - question: is bruising common\n    answers: Bruising is rare.\n", "exactly the keys"),
    ("format: 1\nquestions:\n  - question: ''\n    answer: Bruising is rare.\n", "as a patient would type it"),
    ("format: 1\nquestions:\n  - question: is bruising common\n    answer: []\n", "a sentence of the article"),
])
def test_a_malformed_file_is_a_clear_error(tmp_path, text, says):
    message = build_error(tmp_path, text)
    assert "needles.questions.yaml" in message and says in message


def test_a_bank_without_its_article_is_an_error_not_a_silent_skip(tmp_path):
    message = build_error(tmp_path, GOOD_BANK, name="needless.questions.yaml")
    assert "no article 'needless'" in message and "Rename the bank" in message


def test_every_problem_is_listed_at_once(tmp_path):
    bank = GOOD_BANK.replace("little to no pain", "no pain").replace("ask their doctor", "ask a nurse")
    message = build_error(tmp_path, bank)
    assert "2 problem(s)" in message and "entry 1" in message and "entry 2" in message


# --- built with the index --------------------------------------------------------------------------------------

def test_an_article_without_a_bank_builds_and_answers_as_before(tmp_path):
    sources = write_corpus(tmp_path / "sources")
    report = build(sources, tmp_path / "idx")
    index = SearchIndex.load(tmp_path / "idx")
    assert report.bank_questions == 0 and len(index.bank) == 0
    assert index.manifest.get("banks") in ({}, None)
    retriever = HybridRetriever(index, RetrievalParams())
    hits = retriever.search(FakeEmbedder().embed(["does it hurt"])[0], "does it hurt").hits
    assert hits and "little to no pain" in hits[0].passage.text


def test_the_bank_is_kept_with_the_index_and_its_questions_point_at_their_passages(tmp_path):
    sources = sources_with_bank(tmp_path, GOOD_BANK)
    report = build(sources, tmp_path / "idx")
    index = SearchIndex.load(tmp_path / "idx")
    assert report.bank_questions == 2 and len(index.bank) == 2
    assert np.asarray(index.bank_vectors).shape == (2, FakeEmbedder.dimension)
    warfarin = next(q for q in index.bank if "warfarin" in q.question)
    assert warfarin.section == "Safety"
    assert all("blood thinners" in index.passages[row].text for row in warfarin.passages)
    assert "needles" in index.manifest["banks"]


def test_a_bank_change_rebuilds_incrementally(tmp_path):
    sources = sources_with_bank(tmp_path, GOOD_BANK)
    build(sources, tmp_path / "idx")
    corpus = load_corpus(sources)
    model = FakeEmbedder().name
    assert stale_reasons(corpus, tmp_path / "idx", model=model, settings=IndexSettings()) == []

    bank_file = sources / "needles.questions.yaml"
    bank_file.write_text(GOOD_BANK + "  - question: how long is a session\n    answer: A session lasts 30 minutes.\n")
    assert stale_reasons(load_corpus(sources), tmp_path / "idx", model=model, settings=IndexSettings()) == [
        "question bank changed: needles"]
    embedder = FakeEmbedder()
    report = build(sources, tmp_path / "idx", embedder)
    assert report.embedded_sources == [] and sorted(report.reused_sources) == ["needles", "qi"]
    assert embedder.embedded == ["will it hurt much", "I'm on warfarin, can I still have it?", "how long is a session"]
    assert len(SearchIndex.load(tmp_path / "idx").bank) == 3

    bank_file.unlink()
    assert stale_reasons(load_corpus(sources), tmp_path / "idx", model=model, settings=IndexSettings()) == [
        "question bank removed: needles"]
    unchanged = FakeEmbedder()
    build(sources, tmp_path / "idx", unchanged)
    assert unchanged.embedded == [] and len(SearchIndex.load(tmp_path / "idx").bank) == 0


# --- used in ranking ---------------------------------------------------------------------------------------------

LIFT_CORPUS = {
    "visits.md": "---\ntitle: Visits\n---\n## Sessions\n\n"
                 "Each session of treatment lasts about thirty minutes in a quiet room.\n\n"
                 "## Medicines\n\nPatients who take anticoagulants should speak with their prescriber before starting.\n",
}
LIFT_BANK = ("format: 1\nquestions:\n  - question: is treatment ok for me on warfarin each session\n"
             "    answer: Patients who take anticoagulants should speak with their prescriber before starting.\n")


def test_a_bank_question_lifts_the_passage_holding_its_quote_above_a_lexically_closer_one(tmp_path):
    sources = write_corpus(tmp_path / "sources", LIFT_CORPUS)
    (sources / "visits.questions.yaml").write_text(LIFT_BANK)
    build(sources, tmp_path / "idx")
    index = SearchIndex.load(tmp_path / "idx")
    question = "is treatment each session ok on warfarin"
    vector = FakeEmbedder().embed([question])[0]

    def first(params):
        return HybridRetriever(index, params).search(vector, question).hits[0].passage.section

    assert first(RetrievalParams(bank_weight=0.0)) == "Sessions", "without the bank, the shared words win"
    assert first(RetrievalParams(bank_weight=2.0, bank_center=0.5, bank_neighbours=1)) == "Medicines"


# --- grown from review -------------------------------------------------------------------------------------------

def test_bank_add_appends_a_checked_entry(tmp_path):
    sources = sources_with_bank(tmp_path, GOOD_BANK)
    path = bank_cli.add(sources, "needles", "how long will i be lying there", ["A session lasts 30 minutes."])
    assert path == sources / "needles.questions.yaml"
    text = path.read_text()
    assert text.startswith(GOOD_BANK) and "how long will i be lying there" in text
    assert "3 bank questions" in bank_cli.check(sources)
    build(sources, tmp_path / "idx")
    assert len(SearchIndex.load(tmp_path / "idx").bank) == 3


def test_bank_add_starts_a_bank_for_an_article_without_one(tmp_path):
    sources = write_corpus(tmp_path / "sources")
    path = bank_cli.add(sources, "qi", "what is this qi thing", ["Qi is the energy that flows along meridians."])
    assert path.name == "qi.questions.yaml" and "format: 1" in path.read_text()
    assert "1 bank questions" in bank_cli.check(sources)


@pytest.mark.parametrize("source, question, quote, says", [
    ("needles", "how long is it", "A session lasts an hour.", "word for word"),
    ("needles", "Will it hurt much?", "A session lasts 30 minutes.", "already in"),
    ("nowhere", "how long is it", "A session lasts 30 minutes.", "no article 'nowhere'"),
])
def test_bank_add_refuses_what_the_build_would_refuse_and_leaves_the_file_alone(tmp_path, source, question, quote, says):
    sources = sources_with_bank(tmp_path, GOOD_BANK)
    with pytest.raises(QAError, match=says):
        bank_cli.add(sources, source, question, [quote])
    assert (sources / "needles.questions.yaml").read_text() == GOOD_BANK


def test_bank_add_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    sources = sources_with_bank(tmp_path, GOOD_BANK)
    import plumbing.files as files

    def crash(tmp, path):
        raise OSError("simulated crash before the new file replaced the old one")

    monkeypatch.setattr(files, "publish", crash)
    with pytest.raises(OSError, match="simulated crash"):
        bank_cli.add(sources, "needles", "how long will i be lying there", ["A session lasts 30 minutes."])
    assert (sources / "needles.questions.yaml").read_text() == GOOD_BANK
    assert sorted(p.name for p in sources.iterdir()) == sorted([*MINI_CORPUS, "needles.questions.yaml"]), "no temporary left"


def test_the_bank_commands_from_the_shell(tmp_path):
    sources = sources_with_bank(tmp_path, GOOD_BANK)
    run = lambda *args: subprocess.run([sys.executable, "-m", "qa", "bank", *args, "--sources", str(sources)],
                                       cwd=REPO, capture_output=True, text=True, timeout=120)
    checked = run("check")
    assert checked.returncode == 0 and "2 bank questions in 1 file(s)" in checked.stdout
    added = run("add", "how long will i be lying there", "--source", "needles", "--quote", "A session lasts 30 minutes.")
    assert added.returncode == 0, added.stderr
    refused = run("add", "how long is it", "--source", "needles", "--quote", "It lasts a day.")
    assert refused.returncode != 0 and "word for word" in refused.stderr and "Traceback" not in refused.stderr
    assert "3 bank questions" in run("check").stdout
