"""Several replicas behind nginx, for real: two `python app.py` processes sharing one index built with
`python -m index build --out DIR`, and a private nginx running deploy/nginx/acupuncture-qa.conf
(deploy/loopback.py: only the ports, the listen address and the log path are changed; the load tests
take the per-visitor edge limit out, since all their clients share one address).

Everything is on loopback and in tmp_path. Loads are bounded in count and time. A request fails when
the client sees anything but a 200: an error status, a dropped connection or a timeout.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from deploy.loopback import SITE_CONFIG, NginxProxy, ReplicaProcess, free_port
from tests.conftest import CHROMIUM, LOCAL_HOSTS, REPO, ask_in_panel, clinic_file, clinic_page, static_site

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                       reason="nginx is missing: run `bash tests/setup.sh`"),
]

CLIENTS = 16
LOAD = 600  # requests per load test
LOAD_SECONDS = 240  # a bound on any one load, far above what it takes
QUESTIONS = [json.loads(line)["question"] for line in (REPO / "eval" / "questions.jsonl").read_text().splitlines()
             if json.loads(line).get("answerable")][:40]
# How long nginx leaves out a replica that failed (the shipped fail_timeout). nginx keeps time in whole
# seconds, so a replica is sure to be tried again only a second or so past it.
FAIL_TIMEOUT = int(re.search(r"fail_timeout=(\d+)s", SITE_CONFIG.read_text(encoding="utf-8")).group(1))
# Every question asked in this module is new to the replicas' answer caches: each carries a number of its own.
_numbers = itertools.count()


def new_question(text: str) -> str:
    return f"{text} ({next(_numbers)})"


# --- the deployment: one index, two replicas, nginx -----------------------------------------------------

@dataclass
class Cluster:
    workdir: Path
    index_dir: Path
    replicas: list[ReplicaProcess]
    proxy: NginxProxy  # the load tests' nginx (no per-visitor limit)

    def restart(self, replica: ReplicaProcess) -> None:
        """Started again, like systemd would, and given a few questions directly: its first answers, slower
        than the rest, are not what nginx shares the load by."""
        replica.start().wait_ready()
        for question in QUESTIONS[:3]:
            assert httpx.post(f"{replica.base}/api/ask", json={"question": new_question(question)}, timeout=60).status_code == 200

    def restart_stopped(self) -> None:
        """Every replica running again: a test that stops one leaves the next tests two, pass or fail."""
        for replica in self.replicas:
            if not replica.running:
                self.restart(replica)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("replicas")
    index_dir = workdir / "index"
    # The README's first command: the index is built once, before any replica starts.
    built = subprocess.run([sys.executable, "-m", "index", "build", "--out", str(index_dir)], cwd=REPO,
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    config = clinic_file(workdir, rate_limit_per_minute=0)  # behind nginx the limit is at the edge
    env = ReplicaProcess.environment(index_dir=index_dir, config=config)
    replicas = [ReplicaProcess(free_port(), env, workdir / f"replica-{n}.log") for n in (1, 2)]
    try:
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.wait_ready()
        with NginxProxy.start(workdir / "nginx", replica_ports=[r.port for r in replicas], edge_limit=False) as proxy:
            yield Cluster(workdir, index_dir, replicas, proxy)
    finally:
        for replica in replicas:
            replica.stop()


@dataclass
class LoadResult:
    outcomes: list[object] = field(default_factory=list)  # per request: its status code, or the exception's name
    answers: list[dict] = field(default_factory=list)  # the 200s' answer objects, in the order they came

    @property
    def failures(self) -> Counter:
        return Counter(outcome for outcome in self.outcomes if outcome != 200)


class Load:
    """CLIENTS threads posting questions new to the answer caches (so they serve none) through nginx, until
    `total` requests are done or `stop()` is called. Leaving the `with` block on an error stops it."""

    def __init__(self, base: str, total: int = LOAD):
        self.base, self.total = base, total
        self.result = LoadResult()
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, exc_type, *_exc) -> None:
        if exc_type is None:
            self.join()
        else:  # the test failed mid-load: stop now instead of finishing the load, and keep the test's error
            self.stop()
            self.join(check=False)

    def join(self, *, check: bool = True) -> LoadResult:
        deadline = time.monotonic() + LOAD_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not check or not any(t.is_alive() for t in self._threads), f"the load did not finish in {LOAD_SECONDS} s"
        return self.result

    def stop(self) -> None:
        self._stop.set()

    def wait_for(self, done: int) -> None:
        """Until `done` requests have come back (the load is then mid-way)."""
        deadline = time.monotonic() + LOAD_SECONDS
        while len(self.result.outcomes) < done:
            assert any(t.is_alive() for t in self._threads), f"the load ended after {len(self.result.outcomes)} requests"
            assert time.monotonic() < deadline, f"only {len(self.result.outcomes)} requests in {LOAD_SECONDS} s"
            time.sleep(0.01)

    def _client(self) -> None:
        with httpx.Client(base_url=self.base, timeout=60) as client:
            while not self._stop.is_set():
                with self._lock:
                    number, self._next = self._next, self._next + 1
                if number >= self.total:
                    return
                answer = None
                try:
                    response = client.post("/api/ask", json={"question": new_question(QUESTIONS[number % len(QUESTIONS)])})
                    outcome = response.status_code
                    if outcome == 200:
                        answer = response.json()
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                except ValueError:  # a 200 that is not JSON: a failure too, and this client goes on
                    outcome = "200 without JSON"
                with self._lock:
                    self.result.outcomes.append(outcome)
                    if answer is not None:
                        self.result.answers.append(answer)


def served_by(cluster: Cluster, since: int) -> Counter:
    """How many of the requests logged after line `since` each replica answered (the last one nginx tried)."""
    return Counter(tried[-1] for tried in cluster.proxy.upstreams()[since:] if tried)


# --- 1. through the proxy, everything a visitor and an embedding site see -------------------------------

def test_both_replicas_answer_through_nginx_with_cors_and_frame_ancestors(cluster):
    before = len(cluster.proxy.upstreams())
    allowed, refused = "http://127.0.0.1:5173", "https://elsewhere.example"
    with httpx.Client(base_url=cluster.proxy.base, timeout=60) as client:
        for _ in range(8):
            response = client.post("/api/ask", json={"question": new_question("Will the needles hurt?")},
                                   headers={"Origin": allowed})
            assert response.status_code == 200
            answer = response.json()
            assert answer["passages"] and answer["disclaimer"] and not answer["abstained"]
            assert response.headers["access-control-allow-origin"] == allowed
            assert "frame-ancestors 'self' http://localhost:* http://127.0.0.1:*" in response.headers["content-security-policy"]

        other = client.post("/api/ask", json={"question": "Will the needles hurt?"}, headers={"Origin": refused})
        assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
        preflight = client.options("/api/ask", headers={"Origin": allowed, "Access-Control-Request-Method": "POST",
                                                        "Access-Control-Request-Headers": "content-type"})
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == allowed
        assert client.options("/api/ask", headers={"Origin": refused, "Access-Control-Request-Method": "POST"}
                              ).status_code == 400

        # The widget's check before it shows its button: readable by an allowed site only, through the edge too.
        check = client.get("/widget.json", headers={"Origin": allowed})
        assert check.status_code == 200 and check.headers["access-control-allow-origin"] == allowed and check.json()["title"]
        not_here = client.get("/widget.json", headers={"Origin": refused})
        assert not_here.status_code == 403 and "access-control-allow-origin" not in not_here.headers
        assert "allowed_origins" in not_here.json()["error"]

        for path, kind in (("/widget.js", "application/javascript"), ("/embed.js", "application/javascript"),
                           ("/embed.css", "text/css"), ("/embed", "text/html"), ("/", "text/html")):
            asset = client.get(path)
            assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind), path
        embed = client.get("/embed")
        assert "frame-ancestors 'self' http://localhost:* http://127.0.0.1:*" in embed.headers["content-security-policy"]
        health = client.get("/healthz").json()
        assert health["status"] == "ok" and health["passages"] > 0 and health["sources"] == 5

        too_big = client.post("/api/ask", content=b'{"question": "' + b"x" * 70_000 + b'"}',
                              headers={"Content-Type": "application/json"})
        assert too_big.status_code == 413  # nginx refuses it before a replica reads it
        # The chat page's events too: the page sends only the message (issue 19; test_security_nginx.py).
        long_chat = client.post("/gradio_api/queue/join", json={"padding": "x" * 100_000})
        assert long_chat.status_code == 413
    counts = served_by(cluster, before)
    assert set(counts) == {r.address for r in cluster.replicas}, f"not both replicas answered: {counts}"


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: run `bash tests/setup.sh`")
def test_chat_page_and_widget_work_through_nginx_in_a_browser(cluster, browser, tmp_path):
    """Gradio's page keeps its queue in one process: nginx must keep a page on one replica."""
    context = browser.new_context(viewport={"width": 1100, "height": 1200})
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(cluster.proxy.base + "/", wait_until="load")
        page.get_by_role("button", name="Will the needles hurt?").click()
        answer = page.locator("#qa-chat .qa-answer").first
        answer.locator("blockquote").first.wait_for()
        assert "Sources" in answer.inner_text()

        site = tmp_path / "site"
        site.mkdir()
        (site / "index.html").write_text(clinic_page(cluster.proxy.base), encoding="utf-8")
        with static_site(site) as origin:
            clinic = context.new_page()
            clinic.set_default_timeout(60_000)
            clinic.goto(origin + "/", wait_until="load")
            clinic.locator("[data-qa-chat-widget] .bubble").click()
            reply = ask_in_panel(clinic.frame_locator("[data-qa-chat-widget] iframe"), "How many sessions will I need?")
            assert "qa-answer" in reply.get_attribute("class") and reply.locator("blockquote").count() >= 1
    finally:
        context.close()
    from urllib.parse import urlsplit

    outside = [url for url in requests if urlsplit(url).scheme not in ("data", "blob")
               and urlsplit(url).hostname not in LOCAL_HOSTS]
    assert not outside, f"pages contacted other hosts: {outside}"


# --- 5. the edge limit, per visitor ----------------------------------------------------------------------

def test_nginx_limits_each_visitor_and_answers_429_with_retry_after(cluster):
    """The shipped limit (30 a minute, bursts of 10) on one visitor; another visitor is still answered."""
    allowed = "http://127.0.0.1:5173"

    def visitor(address: str) -> httpx.Client:
        return httpx.Client(base_url=edge.base, timeout=60, transport=httpx.HTTPTransport(local_address=address))

    def question(client: httpx.Client) -> httpx.Response:
        return client.post("/api/ask", json={"question": new_question("Will the needles hurt?")}, headers={"Origin": allowed})

    def preflight(client: httpx.Client) -> httpx.Response:
        return client.options("/api/ask", headers={"Origin": allowed, "Access-Control-Request-Method": "POST"})

    with NginxProxy.start(cluster.workdir / "nginx-edge", replica_ports=[r.port for r in cluster.replicas]) as edge:
        with visitor("127.0.0.1") as first, visitor("127.0.0.2") as second:
            # 16 questions and 4 preflights at once. nginx decides as each request arrives, and they all arrive
            # within far less than the 2 s in which the limit gives a place back, however long the answers take:
            # 1 + 10 (the burst) are answered, the rest refused; a preflight counted would take a question's place.
            with ThreadPoolExecutor(20) as pool:
                asked = [pool.submit(question, first) for _ in range(16)]
                preflights = [pool.submit(preflight, first) for _ in range(4)]
                statuses = [future.result().status_code for future in asked]
            assert all(future.result().status_code == 200 for future in preflights), "a preflight was limited"
            assert set(statuses) <= {200, 429} and statuses.count(200) >= 11 and statuses.count(429) >= 2, statuses
            refused = next(future.result() for future in asked if future.result().status_code == 429)
            assert refused.headers["retry-after"] == "2"
            assert "try again" in refused.json()["error"]
            # The widget on an allowed site can read the 429 (and its Retry-After) instead of a CORS failure.
            assert refused.headers["access-control-allow-origin"] == allowed
            assert "retry-after" in refused.headers["access-control-expose-headers"].lower()
            # Another visitor is answered meanwhile; what it claims in X-Forwarded-For is replaced by its address.
            assert second.post("/api/ask", json={"question": new_question("How many sessions will I need?")},
                               headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200
            assert first.get("/healthz").status_code == 200  # only questions are limited
    # The replicas see each visitor's own address (X-Forwarded-For), not nginx's, for their own limiter and logs.
    logs = "".join(replica.output() for replica in cluster.replicas)
    assert '127.0.0.2:0 - "POST /api/ask' in logs and "203.0.113.9" not in logs


# --- 2 and 3. a replica dies, or is stopped, mid-load ----------------------------------------------------

def test_a_replica_killed_mid_load_loses_no_request(cluster):
    victim, survivor = cluster.replicas
    before, errors_before = len(cluster.proxy.upstreams()), len(cluster.proxy.errors())
    try:
        with Load(cluster.proxy.base) as load:
            load.wait_for(LOAD // 4)
            assert victim.kill() == -9
            killed_at = len(load.result.outcomes)
        result = load.result
        assert len(result.outcomes) == LOAD and not result.failures, result.failures
        # Requests were in flight on the victim when it died: nginx saw them cut off mid-answer (not refused at
        # connect, as later ones were) ...
        cut = [line for line in cluster.proxy.errors()[errors_before:]
               if f'upstream: "http://{victim.address}/api/ask"' in line and "connect() failed" not in line]
        assert cut, "no request was in flight on the victim when it died"
        # ... and handed each to the survivor.
        tried = cluster.proxy.upstreams()[before:]
        retried = [t for t in tried if t[0] == victim.address and t[-1] == survivor.address]
        assert len(retried) >= len(cut), f"{len(cut)} requests cut, {len(retried)} retried"
        # Once the requests under way at the kill (at most one per client) are logged, the victim answers none.
        assert served_by(cluster, before + killed_at + CLIENTS)[victim.address] == 0
    finally:
        cluster.restart_stopped()


def test_a_replica_stopped_with_sigterm_finishes_its_requests_and_takes_traffic_after_a_restart(cluster):
    stopped, _other = cluster.replicas
    before = len(cluster.proxy.upstreams())
    try:
        with Load(cluster.proxy.base) as load:
            load.wait_for(LOAD // 4)
            # uvicorn ends its graceful shutdown by dying of the signal it got, which systemd counts as a clean stop.
            assert stopped.terminate() in (0, -signal.SIGTERM)
        load_ended = time.monotonic()
        assert len(load.result.outcomes) == LOAD and not load.result.failures, load.result.failures
        # It shut down gracefully, finishing the answers it had accepted: its own log has answers after
        # "Shutting down", and uvicorn never had to cancel one (it says "Cancel N running task(s)" when it does).
        log = stopped.output()
        after_stop = log[log.rindex("Shutting down"):]
        assert '"POST /api/ask HTTP/1.1" 200' in after_stop
        assert "Finished server process" in after_stop and "Cancel" not in after_stop
        assert served_by(cluster, before)[stopped.address] > 0  # it was serving when stopped

        cluster.restart(stopped)
        # nginx tries a replica it left out again once fail_timeout has passed since it last failed, at the
        # latest when the load ended (no request, no new failure).
        time.sleep(max(0.0, load_ended + FAIL_TIMEOUT + 2 - time.monotonic()))
        before = len(cluster.proxy.upstreams())
        with Load(cluster.proxy.base, total=200) as load:
            pass
        assert not load.result.failures, load.result.failures
        counts = served_by(cluster, before)
        assert counts[stopped.address] >= 40, f"the restarted replica took too little traffic: {counts}"
    finally:
        cluster.restart_stopped()


# --- 4. a rebuild published while both serve -------------------------------------------------------------

def test_a_rebuild_under_load_switches_both_replicas_and_no_answer_mixes_two_indexes(cluster, tmp_path):
    """The new build differs from the old in every article's title, so each answer shows which it came from."""
    revised = tmp_path / "sources"
    shutil.copytree(REPO / "sources", revised)
    old_titles, new_titles = set(), set()
    for path in revised.glob("*.md"):
        text = path.read_text(encoding="utf-8")
        line = next(row for row in text.splitlines() if row.startswith("title:"))
        title = line.removeprefix("title:").strip().strip("\"'")
        old_titles.add(title)
        new_titles.add(f"{title} (revised)")
        path.write_text(text.replace(line, f"title: {json.dumps(title + ' (revised)')}", 1), encoding="utf-8")

    def titles_of(answer: dict) -> set[str]:
        return {passage["title"] for passage in answer["passages"]}

    def answers_from_new_index(replica: ReplicaProcess) -> bool:
        response = httpx.post(f"{replica.base}/api/ask", json={"question": new_question("Will the needles hurt?")}, timeout=60)
        assert response.status_code == 200, response.text
        answer = response.json()
        return titles_of(answer) <= new_titles and bool(answer["passages"])

    with Load(cluster.proxy.base, total=10_000) as load:
        load.wait_for(50)
        build = subprocess.run([sys.executable, "-m", "index", "build", "--sources", str(revised),
                                "--out", str(cluster.index_dir)], cwd=REPO, capture_output=True, text=True, timeout=600)
        assert build.returncode == 0, build.stderr
        deadline = time.monotonic() + 60  # each replica looks for a new build every 2 s
        while not all(answers_from_new_index(r) for r in cluster.replicas):
            assert time.monotonic() < deadline, "a replica did not switch to the new build in 60 s"
            time.sleep(0.5)
        switched = len(load.result.answers)
        load.wait_for(len(load.result.outcomes) + 100)
        load.stop()
    result = load.result
    assert not result.failures, result.failures
    with_passages = [a for a in result.answers if a["passages"]]
    assert len(with_passages) > 0.8 * len(result.answers)
    mixed = [a["question"] for a in with_passages if not (titles_of(a) <= old_titles or titles_of(a) <= new_titles)]
    assert not mixed, f"answers that mix two indexes: {mixed[:5]}"
    assert any(titles_of(a) <= old_titles for a in with_passages[:20]), "the load did not start on the old index"
    # At the switch at most one request per client was under way, possibly on the old index; every later one is new.
    after = [a for a in result.answers[switched + CLIENTS:] if a["passages"]]
    assert after and all(titles_of(a) <= new_titles for a in after), "an answer from the old index after the switch"
    for replica in cluster.replicas:
        assert "Now answering from the rebuilt index" in replica.output()
