"""The "not covered" reply after a clinic adds or removes articles (issue 22, item 3): `[answer] coverage` is
used for the articles it was written for (`coverage_sources`), any other article is named by its title, and
the server says at start (and after a rebuild it follows) which articles the sentence was not written for."""

from __future__ import annotations

import doctest
import shutil

import httpx
import pytest

import qa.coverage
from index import SearchIndex, build_index
from qa import Answerer, Settings
from qa.abstain import FEATURES, AbstentionModel
from qa.coverage import Coverage, coverage_warnings
from qa.watch import IndexWatcher
from tests.conftest import REPO, FakeEmbedder, FakeReranker, fake_index, running_replica, write_corpus

ALWAYS = AbstentionModel({name: 0.0 for name in FEATURES}, bias=20.0, threshold=0.5)  # refuses every question
FILES = {
    "needles.md": "---\ntitle: About <Needles>\n---\nThe needles are thin and sterile. Most people feel little pain.\n",
    "qi.md": "# Qi\n\nQi is the energy that flows along meridians. It is central to the theory.\n",
}
COVERAGE = "what the needles feel like"


def refusal(index, **settings) -> str:
    bot = Answerer(index, FakeEmbedder(), Settings(coverage=COVERAGE, **settings), abstention=ALWAYS, reranker=FakeReranker({}))
    answer = bot.ask("How much does parking cost?")
    assert answer["abstained"] is True
    return answer["message"]


def test_examples_in_docstrings():
    assert doctest.testmod(qa.coverage).failed == 0


def test_articles_the_sentence_was_written_for_get_the_sentence_alone(tmp_path):
    message = refusal(fake_index(tmp_path, FILES), coverage_sources=("needles", "qi"))
    assert f"They cover {COVERAGE}. You could ask" in message and "also has" not in message


def test_an_added_article_is_named_by_its_title_after_the_sentence(tmp_path):
    message = refusal(fake_index(tmp_path, FILES), coverage_sources=("needles",))
    assert f"They cover {COVERAGE}. The library also has “Qi”. You could ask" in message


def test_when_none_it_was_written_for_is_left_the_titles_alone_are_given_escaped(tmp_path):
    message = refusal(fake_index(tmp_path, FILES), coverage_sources=("acupuncture-neuropathy-feet",))
    assert "The articles I have are “About &lt;Needles&gt;” and “Qi”. You could ask" in message
    assert COVERAGE not in message


def test_the_notes_name_missing_and_gone_articles_and_the_keys_to_change():
    coverage = Coverage.of({"needles": "About Needles", "first-visit": "Your first visit"},
                           Settings(coverage_sources=("needles", "old-leaflet")))
    added, gone = coverage_warnings(coverage, config_file="/etc/qa/clinic.toml")
    assert added.startswith("Note: [answer] coverage in /etc/qa/clinic.toml was not written for 1 article(s) in the index: "
                            "“Your first visit”.")
    assert 'add "first-visit" to [answer] coverage_sources, then restart.' in added
    assert '("old-leaflet")' in gone and "remove them from coverage_sources" in gone
    assert coverage_warnings(Coverage.of({"needles": "N"}, Settings(coverage_sources=("needles",))), config_file="x") == []


def test_the_shipped_settings_were_written_for_the_shipped_articles():
    ids = {path.name.removesuffix(".md") for path in (REPO / "sources").glob("*.md")}
    assert set(Settings().coverage_sources) == ids
    from qa import load_settings

    assert set(load_settings(REPO / "clinic.toml", environ={}).coverage_sources) == ids


def test_a_rebuild_the_server_follows_updates_the_reply_and_says_so(tmp_path, logged):
    sources = write_corpus(tmp_path / "src", {"needles.md": FILES["needles.md"]})
    build_index(sources, tmp_path / "idx", embedder=FakeEmbedder(), progress=False)
    bot = Answerer(SearchIndex.load(tmp_path / "idx"), FakeEmbedder(), Settings(coverage=COVERAGE, coverage_sources=("needles",)),
                   abstention=ALWAYS, reranker=FakeReranker({}))
    assert "also has" not in bot.ask("parking?")["message"]
    write_corpus(sources, {"qi.md": FILES["qi.md"]})
    build_index(sources, tmp_path / "idx", embedder=FakeEmbedder(), progress=False)
    said = logged("qa.watch")
    assert IndexWatcher(bot, tmp_path / "idx").check()
    assert "The library also has “Qi”." in bot.ask("parking?")["message"]
    assert any(line.startswith("Note: [answer] coverage") and "“Qi”" in line for line in said), said


@pytest.mark.server
def test_python_app_py_names_an_added_handout_at_start_and_in_its_refusals(tmp_path):
    """A clinic adds its own page to sources/ and starts the server without touching clinic.toml."""
    sources = tmp_path / "sources"
    shutil.copytree(REPO / "sources", sources)
    (sources / "parking.md").write_text(
        "# Getting to Riverside Clinic\n\nThe clinic is on Elm Street, two minutes from the bus station. "
        "There is step-free access from the car park behind the building.\n", encoding="utf-8")
    with running_replica(tmp_path / "server", extra_env={"QA_SOURCES_DIR": str(sources)}) as server:
        refused = httpx.post(server.base + "/api/ask", json={"question": "Do you take Medicare insurance?"}, timeout=60).json()
        output = server.output()
    assert refused["abstained"] is True and refused["safety"] is None
    assert "The library also has “Getting to Riverside Clinic”." in refused["message"]
    assert "They cover what peripheral neuropathy is" in refused["message"]
    assert 'Note: [answer] coverage in ' in output and 'add "parking" to [answer] coverage_sources' in output
