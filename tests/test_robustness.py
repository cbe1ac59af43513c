"""Robustness: rebuilds under load, builds killed with SIGKILL, fuzzed input to the pipeline."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import SearchIndex, build_index
from qa.abstain import AbstentionModel
from qa.answerer import Answerer
from qa.config import Settings
from qa.retrieve import RetrievalParams
from qa.watch import IndexWatcher
from tests.conftest import REPO, FakeEmbedder, FakeReranker, write_corpus

NEVER = AbstentionModel.neutral()
quiet = dict(progress=False)


def test_a_rebuild_while_answering_switches_atomically_with_no_failed_request(tmp_path, logged):
    def write(version):
        for name in ("a", "b"):
            (sources / f"{name}.md").write_text(f"# {name}\n\nThe {version} text of {name} talks about needles and pain.\n",
                                               encoding="utf-8")

    sources = tmp_path / "src"
    sources.mkdir()
    write("old")
    out = tmp_path / "idx"
    build_index(sources, out, embedder=FakeEmbedder(), **quiet)
    # Near-duplicate merging off, so each answer shows both documents' passages.
    answerer = Answerer(SearchIndex.load(out), FakeEmbedder(), Settings(), abstention=NEVER,
                        reranker=FakeReranker({}), params=RetrievalParams(duplicate_cosine=1.01))
    said = logged("qa.watch")
    watcher = IndexWatcher(answerer, out, interval=0.05).start()
    seen, errors, stop = [], [], threading.Event()

    def ask_forever():
        while not stop.is_set():
            started = time.monotonic()
            try:
                texts = [p["text"] for p in answerer.ask("needles pain")["passages"]]
                seen.append((started, texts))
            except Exception as exc:  # the point of the test: record any failure at all
                errors.append(exc)

    workers = [threading.Thread(target=ask_forever) for _ in range(4)]
    for w in workers:
        w.start()
    time.sleep(0.3)
    write("new")
    build_index(sources, out, embedder=FakeEmbedder(), **quiet)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not said:
        time.sleep(0.01)
    swapped_at = time.monotonic()  # at or after the swap: the watcher logs once it has swapped
    time.sleep(0.3)
    stop.set()
    for w in workers:
        w.join()
    watcher.stop()
    assert errors == [] and len([m for m in said if m.startswith("Now answering")]) == 1, said
    versions = []
    for started, texts in seen:
        assert len(texts) == 2
        kinds = {"old" if " old " in t else "new" for t in texts}
        assert len(kinds) == 1, f"an answer mixed two indexes: {texts}"  # one index per request
        versions.append((started, kinds.pop()))
    assert {v for _, v in versions} == {"old", "new"}
    # Every request that started after the swap was answered from the new index.
    assert all(v == "new" for started, v in versions if started > swapped_at)


def test_a_broken_new_build_keeps_the_old_index(tmp_path, logged):
    sources = write_corpus(tmp_path / "src", {"a.md": "# A\n\nNeedles and pain.\n"})
    out = tmp_path / "idx"
    build_index(sources, out, embedder=FakeEmbedder(), **quiet)
    answerer = Answerer(SearchIndex.load(out), FakeEmbedder(), Settings(), abstention=NEVER, reranker=FakeReranker({}))
    messages = logged("qa.watch")
    watcher = IndexWatcher(answerer, out)
    old = answerer.index.path
    new = build_index(sources, out, embedder=FakeEmbedder(), **quiet).path
    (new / "dense.faiss").write_bytes(b"broken")
    assert watcher.check() is False and answerer.index.path == old
    assert "could not be loaded; still serving the previous one" in messages[0]


KILLED_BUILD = """
import sys, time
sys.path.insert(0, {repo!r})
from tests.conftest import FakeEmbedder
from index import build_index

class Slow(FakeEmbedder):
    def embed(self, texts, *, progress=False):
        out = []
        for i in range(0, len(texts), 4):
            time.sleep(0.02)
            out.append(super().embed(texts[i:i + 4]))
        import numpy as np
        return np.vstack(out) if out else super().embed([])

print("building", flush=True)
build_index({sources!r}, {out!r}, embedder=Slow(), progress=False)
"""


@pytest.mark.server  # builds in subprocesses and kills them
def test_killing_a_build_at_random_points_leaves_the_previous_index_loadable(tmp_path):
    files = {f"doc{i}.md": f"# Doc {i}\n\n" + " ".join(f"Sentence {j} about topic {i} and needles." for j in range(30)) for i in range(8)}
    sources = write_corpus(tmp_path / "src", files)
    out = tmp_path / "idx"
    build_index(sources, out, embedder=FakeEmbedder(), **quiet)
    before = [p.text for p in SearchIndex.load(out).passages]
    rng = random.Random(7)
    killed_mid_build = 0
    for attempt in range(5):
        # Change every source so the killed build has real work (and a real swap) ahead of it.
        for i in range(8):
            (sources / f"doc{i}.md").write_text(files[f"doc{i}.md"] + f" Revision {attempt}.\n", encoding="utf-8")
        script = KILLED_BUILD.format(repo=str(REPO), sources=str(sources), out=str(out))
        process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "building"  # past the imports: the build itself is running
        time.sleep(rng.uniform(0.0, 2.0))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed_mid_build += 1
        process.wait()
        index = SearchIndex.load(out)  # verifies every checksum
        texts = [p.text for p in index.passages]
        # Either the previous index, untouched, or the finished new one: never a mix or a broken one.
        assert texts == before or (len(texts) == len(before) and f"Revision {attempt}." in " ".join(texts))
        before = texts
    assert killed_mid_build >= 3
    # The next normal build cleans up what the kills left behind.
    build_index(sources, out, embedder=FakeEmbedder(), **quiet)
    assert not list((out / "builds").glob(".tmp-*"))


history_item = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", ""]), "content": st.text(max_size=300)}),
    st.dictionaries(st.text(max_size=10), st.one_of(st.none(), st.integers(), st.text(max_size=50)), max_size=3),
    st.text(max_size=20), st.integers(), st.none(),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.one_of(st.text(max_size=3000), st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=50),
                          st.none(), st.integers(), st.binary(max_size=50)),
       history=st.one_of(st.none(), st.lists(history_item, max_size=5), st.text(max_size=20)))
def test_the_pipeline_never_raises_and_always_keeps_the_contract(real_answerer, question, history):
    answer = real_answerer.ask(question, history)
    assert set(answer) == {"question", "answer_markdown", "passages", "abstained", "safety", "disclaimer", "notes", "message", "suggestions"}
    assert isinstance(answer["answer_markdown"], str) and answer["disclaimer"] in answer["answer_markdown"]
    assert isinstance(answer["abstained"], bool) and len(answer["passages"]) <= 3
    assert answer["safety"] is None or answer["safety"]["level"] in ("emergency", "urgent", "crisis")
    assert "<script" not in answer["answer_markdown"].lower()
