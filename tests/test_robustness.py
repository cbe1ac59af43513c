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
from qa.abstain import FEATURES, AbstentionModel
from qa.answerer import Answerer
from qa.config import Settings
from qa.watch import IndexWatcher
from tests.conftest import REPO, FakeEmbedder, write_corpus

NEVER = AbstentionModel({name: 0.0 for name in FEATURES}, bias=-20.0, threshold=0.5)
quiet = dict(log=lambda _m: None, progress=False)


def test_a_rebuild_while_answering_switches_atomically_with_no_failed_request(tmp_path):
    sources = write_corpus(tmp_path / "src", {"a.md": "# A\n\nThe old text talks about needles and pain.\n"})
    out = tmp_path / "idx"
    build_index(sources, out, embedder=FakeEmbedder(), **quiet)
    answerer = Answerer(SearchIndex.load(out), FakeEmbedder(), Settings(), abstention=NEVER)
    watcher = IndexWatcher(answerer, out, interval=0.05, log=lambda _m: None).start()
    seen, errors, stop = [], [], threading.Event()

    def ask_forever():
        while not stop.is_set():
            try:
                passages = answerer.ask("needles pain")["passages"]
                seen.append(passages[0]["text"] if passages else None)
            except Exception as exc:  # the test's point: record any failure at all
                errors.append(exc)

    workers = [threading.Thread(target=ask_forever) for _ in range(4)]
    for w in workers:
        w.start()
    time.sleep(0.3)
    (sources / "a.md").write_text("# A\n\nThe new text talks about needles and pain.\n", encoding="utf-8")
    build_index(sources, out, embedder=FakeEmbedder(), **quiet)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not seen or "new" not in (seen[-1] or "")):
        time.sleep(0.05)
    time.sleep(0.2)
    stop.set()
    for w in workers:
        w.join()
    watcher.stop()
    assert errors == []
    assert set(seen) == {"The old text talks about needles and pain.", "The new text talks about needles and pain."}
    switch = seen.index("The new text talks about needles and pain.")
    # After the first new answer, every later one is new, give or take the requests already in flight.
    assert seen[switch + 8 :].count("The old text talks about needles and pain.") == 0


def test_a_broken_new_build_keeps_the_old_index(tmp_path):
    sources = write_corpus(tmp_path / "src", {"a.md": "# A\n\nNeedles and pain.\n"})
    out = tmp_path / "idx"
    build_index(sources, out, embedder=FakeEmbedder(), **quiet)
    answerer = Answerer(SearchIndex.load(out), FakeEmbedder(), Settings(), abstention=NEVER)
    messages = []
    watcher = IndexWatcher(answerer, out, log=messages.append)
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
build_index({sources!r}, {out!r}, embedder=Slow(), log=lambda m: None, progress=False)
"""


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
    assert set(answer) == {"question", "answer_markdown", "passages", "abstained", "safety", "disclaimer"}
    assert isinstance(answer["answer_markdown"], str) and answer["disclaimer"] in answer["answer_markdown"]
    assert isinstance(answer["abstained"], bool) and len(answer["passages"]) <= 3
    assert answer["safety"] is None or answer["safety"]["level"] in ("emergency", "urgent", "crisis")
    assert "<script" not in answer["answer_markdown"].lower()
