"""Issue 19 through the shipped nginx (deploy/nginx/acupuncture-qa.conf, run by deploy/loopback.py with only the
operator's edits): the edge refuses what the app refuses, before it reaches a replica, and adds what only
the edge can (one budget per visitor address, unknown hosts refused, HSTS, no version in `Server`).

One replica (its own limit off, as the README says to run it behind nginx) and one nginx with the shipped
per-visitor limit. All requests come from 127.0.0.1, so they share one edge budget: the test that spends it
runs last. Everything is on loopback and in tmp_path.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from pathlib import Path

import httpx
import pytest

from deploy.loopback import NginxProxy
from server.routes import AppRoute
from tests.chat_client import ChatPage
from tests.conftest import running_replica
from tests.test_security_routes import CLOSED

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                       reason="nginx is missing: run `bash tests/setup.sh`"),
]

NOT_FOUND = {"error": "Not found. This server answers the chat page at /, POST /api/ask, /healthz and the widget."}
HSTS = "max-age=31536000"


class Edge:
    def __init__(self, proxy: NginxProxy, replica, temp_dir: Path):
        self.proxy, self.replica, self.temp_dir = proxy, replica, temp_dir

    @property
    def base(self) -> str:
        return self.proxy.base

    def client(self, **headers) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=60, headers=headers)

    def replica_saw(self, path: str) -> bool:
        """Whether the replica's access log has a request for `path` (its log names paths without queries)."""
        return f" {path} HTTP/1." in self.replica.output()


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    directory = tmp_path_factory.mktemp("security-nginx")
    temp_dir = directory / "gradio-tmp"
    with running_replica(directory, rate_limit_per_minute=0, extra_env={"GRADIO_TEMP_DIR": str(temp_dir)}) as replica:
        with NginxProxy.start(directory / "nginx", replica_ports=[replica.port]) as proxy:
            yield Edge(proxy, replica, temp_dir)


def raw(port: int, request: bytes) -> bytes:
    """What the server answers to `request` before it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        return reply


def test_every_closed_route_is_404_at_the_edge_and_never_reaches_the_replica(edge):
    with edge.client() as client:
        for (method, template), why in CLOSED.items():
            path = AppRoute(frozenset({method}), template).sample_path()
            response = client.request(method, path)
            assert response.status_code == 404, (method, path, why)
            if method != "HEAD":
                assert response.json() == NOT_FOUND, (method, path)
        # The open paths with a method the product does not use.
        for method, path in (("POST", "/"), ("DELETE", "/"), ("POST", "/healthz"), ("POST", "/widget.js"),
                             ("GET", "/gradio_api/queue/join"), ("POST", "/gradio_api/queue/data"),
                             ("POST", "/gradio_api/heartbeat/abc"), ("GET", "/gradio_api/heartbeat/a/b")):
            assert client.request(method, path).status_code == 404, (method, path)
    for path in ("/config", "/gradio_api/upload", "/gradio_api/info", "/openapi.json", "/gradio_api/deep_link",
                 "/monitoring"):
        assert not edge.replica_saw(path), path


def test_an_upload_is_refused_at_the_edge_and_nothing_is_written(edge):
    before = set(edge.temp_dir.rglob("*")) if edge.temp_dir.exists() else set()
    with edge.client() as client:
        small = client.post("/gradio_api/upload", files={"files": ("notes.txt", b"my lab results", "text/plain")})
        assert small.status_code == 404 and small.json() == NOT_FOUND
        big = client.post("/gradio_api/upload", files={"files": ("scan.bin", b"x" * 2_000_000, "application/octet-stream")})
        assert big.status_code in (404, 413)
        outside = client.get("/gradio_api/file=https://example.org/")
        assert outside.status_code == 404
    after = set(edge.temp_dir.rglob("*")) if edge.temp_dir.exists() else set()
    assert after == before
    assert not list((edge.proxy.workdir / "nginx-tmp").rglob("*.txt"))


def test_a_2_mb_chat_message_is_refused_before_a_replica_sees_it(edge):
    with edge.client() as client:
        page = ChatPage.open(client)
        body = json.dumps({"data": ["x" * 2_000_000, None], "fn_index": page.events["ask"][0],
                           "session_hash": page.session}).encode()
        refused = client.post("/gradio_api/queue/join", content=body, headers={"Content-Type": "application/json"})
        assert refused.status_code == 413
        answer = client.post("/api/ask", content=json.dumps({"question": "x" * 2_000_000}).encode(),
                             headers={"Content-Type": "application/json"})
        assert answer.status_code == 413
    assert '" 413' not in edge.replica.output()  # nginx refused both: the replica never had to


def test_an_unknown_host_is_closed_unanswered(edge):
    port = edge.proxy.port
    for head in (b"GET / HTTP/1.1\r\nHost: attacker.invalid\r\nConnection: close\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: 10.0.0.1\r\nConnection: close\r\n\r\n",
                 b"POST /api/ask HTTP/1.1\r\nHost: attacker.invalid\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 2\r\nConnection: close\r\n\r\n{}",
                 b"GET / HTTP/1.0\r\n\r\n"):
        assert raw(port, head) == b"", head
    # The chat's own host name is answered.
    assert raw(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200")
    # A forged X-Forwarded-Host does not reach the page's links.
    with edge.client(**{"X-Forwarded-Host": "attacker.invalid"}) as client:
        page = client.get("/")
        assert page.status_code == 200 and "attacker.invalid" not in page.text


def test_headers_at_the_edge(edge):
    with edge.client() as client:
        responses = {"the page": client.get("/"), "an answer": client.post("/api/ask", json={"question": "Will the needles hurt?"}),
                     "health": client.get("/healthz"), "not found": client.get("/config"),
                     "wrong type": client.post("/api/ask", content=b"{}", headers={"Content-Type": "text/plain"})}
    for name, response in responses.items():
        assert response.headers["server"] == "nginx", name  # no version
        assert response.headers["strict-transport-security"] == HSTS, name
    for name in ("the page", "an answer", "health", "wrong type"):  # the app's own, passed through
        headers = responses[name].headers
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer", name
    assert responses["wrong type"].status_code == 415
    assert responses["an answer"].headers["cache-control"] == "no-store"


def test_other_sites_get_no_cors_headers_at_the_edge(edge):
    evil = {"Origin": "https://evil.example"}
    with edge.client(**evil) as client:
        for response in (client.get("/config"), client.get("/"), client.get("/gradio_api/info"),
                         client.options("/gradio_api/queue/join", headers={"Access-Control-Request-Method": "POST"}),
                         client.post("/gradio_api/queue/join", json={"data": ["Will the needles hurt?", None]})):
            assert not [h for h in response.headers if h.startswith("access-control-")], response.request.url
            assert response.status_code in (403, 404), response.request.url


def test_the_edge_log_names_no_session_and_no_question(edge):
    with edge.client() as client:
        page = ChatPage.open(client)
        assert page.ask("My feet burn at night, would acupuncture help?").ok
        with client.stream("GET", f"/gradio_api/heartbeat/{page.session}") as heartbeat:
            assert heartbeat.status_code == 200
    # nginx logs a stream when it ends: the client has closed it, nginx notices when it next writes.
    deadline = time.monotonic() + 30
    while not re.search(r'"GET /gradio_api/heartbeat/\{session\} HTTP/1.1" (200|499)',
                        log := edge.proxy.access_log.read_text(encoding="utf-8")):
        assert time.monotonic() < deadline, log[-2000:]
        time.sleep(0.5)
    assert '"GET /gradio_api/queue/data HTTP/1.1" 200' in log
    assert page.session not in log and "session_hash" not in log and "burn" not in log


def test_one_edge_budget_per_visitor_for_the_api_and_the_chat_page(edge):
    """Last in the module: it spends 127.0.0.1's budget (30 a minute, 10 more in a burst)."""
    with edge.client() as client:
        page = ChatPage.open(client)
        outcomes = []
        for n in range(16):  # alternately, as a visitor using both the widget and the chat page
            if n % 2:
                outcomes.append(("chat", page.ask(f"How many sessions will I need? ({n})").status))
            else:
                outcomes.append(("api", client.post("/api/ask", json={"question": f"Will the needles hurt? ({n})"}).status_code))
        served = [kind for kind, status in outcomes if status == 200]
        refused = [(kind, status) for kind, status in outcomes if status != 200]
        # The burst (less what the module's other tests spent) and what the rate adds while these run; then both
        # kinds are refused, from one budget.
        assert 5 <= len(served) <= 14, outcomes
        assert refused and {status for _kind, status in refused} == {429}, outcomes
        assert {kind for kind, _status in refused} == {"api", "chat"}, outcomes
        limited = client.post("/api/ask", json={"question": "Will the needles hurt?"},
                              headers={"Origin": "https://evil.example"})
        assert limited.status_code == 429 and limited.headers["retry-after"].isdigit()
        chat_refused = client.post("/gradio_api/queue/join", json={"data": ["x", None]},
                                   headers={"Origin": "https://evil.example"})
        assert chat_refused.status_code == 429
        assert "access-control-allow-origin" not in chat_refused.headers  # only /api/ask's refusal is readable
