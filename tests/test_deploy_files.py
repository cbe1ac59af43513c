"""The files an operator copies from deploy/: nginx accepts the site config as shipped and as the tests edit
it, also inside Debian's own nginx.conf, it has none of the mistakes that break a proxied Gradio page or a
retry, and the systemd unit is one systemd accepts, starting `app.py` with options it accepts and reporting
it started only once it answers. (tests/test_replicas.py runs the config and the replicas for real.)"""

from __future__ import annotations

import configparser
import functools
import re
import shlex
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deploy.loopback import SITE_CONFIG, DeploymentError, site_config
from tests.conftest import REPO

UNIT = REPO / "deploy" / "systemd" / "acupuncture-qa@.service"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
DEBIAN_NGINX_CONF = Path("/etc/nginx/nginx.conf")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
UVICORN_KEEP_ALIVE = 5  # s: uvicorn's default timeout_keep_alive, which app.py keeps


def blocks(text: str, name: str) -> list[str]:
    """The bodies of every `name ... { ... }` block, nested blocks included."""
    bodies = []
    for found in re.finditer(rf"(?m)^\s*{name}\b[^{{;]*\{{", text):
        depth, start = 1, found.end()
        for position in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            if depth == 0:
                bodies.append(text[start:position])
                break
    return bodies


def without_comments(text: str) -> str:
    return re.sub(r"#[^\n]*", "", text)


def test_no_location_sets_its_own_proxy_headers():
    """A location with one proxy_set_header loses all the server's (Host, X-Forwarded-For...): Gradio then
    builds its URLs from the upstream's name and the replicas see nginx as every visitor."""
    text = without_comments(SITE_CONFIG.read_text(encoding="utf-8"))
    locations = blocks(text, "location")
    assert len(locations) >= 4
    assert not [body for body in locations if "proxy_set_header" in body]
    server = blocks(text, "server")[0]
    for header in ("Host", "X-Forwarded-For", "X-Forwarded-Proto", "Upgrade", "Connection"):
        assert re.search(rf"proxy_set_header {header} ", server), header


def test_only_the_api_retries_posts_and_both_upstreams_list_the_same_replicas():
    text = without_comments(SITE_CONFIG.read_text(encoding="utf-8"))
    api = next(body for body in blocks(text, "location") if "limit_req zone" in body)
    assert "non_idempotent" in api and "proxy_pass http://qa_any_replica" in api
    assert text.count("non_idempotent") == 1
    upstreams = blocks(text, "upstream")
    servers = [sorted(re.findall(r"server (\S+)", body)) for body in upstreams]
    assert len(upstreams) == 2 and servers[0] == servers[1] and len(servers[0]) == 2
    assert "hash $binary_remote_addr consistent" in upstreams[1]  # the chat page stays on one replica


def test_nginx_drops_idle_connections_to_a_replica_before_the_replica_does():
    """Otherwise nginx may send a request on a connection the replica is closing: the request fails, and with
    max_fails=1 a healthy replica is left out for fail_timeout."""
    for body in blocks(without_comments(SITE_CONFIG.read_text(encoding="utf-8")), "upstream"):
        assert re.search(r"\bkeepalive \d+;", body)
        timeout = re.search(r"\bkeepalive_timeout (\d+)s;", body)
        assert timeout and int(timeout.group(1)) < UVICORN_KEEP_ALIVE, body


def test_every_body_is_held_to_the_apps_64_kb():
    """Every POST: a question, or a chat page event (the page sends only the message; its conversation stays
    on the server), as the app itself refuses (server/bodies.py)."""
    from server.api import MAX_BODY_BYTES

    text = without_comments(SITE_CONFIG.read_text(encoding="utf-8"))
    server = blocks(text, "server")[0]
    assert f"client_max_body_size {MAX_BODY_BYTES // 1024}k;" in server
    assert text.count("client_max_body_size") == 1


def test_site_config_edits_fail_loudly_when_the_shipped_line_is_gone(tmp_path, monkeypatch):
    changed = tmp_path / "site.conf"
    changed.write_text(SITE_CONFIG.read_text(encoding="utf-8").replace("listen 80;", "listen 8080;"), encoding="utf-8")
    monkeypatch.setattr("deploy.loopback.SITE_CONFIG", changed)
    with pytest.raises(DeploymentError, match="listen 80"):
        site_config(listen_port=9000, replica_ports=[9001, 9002], access_log=tmp_path / "access.log")


@pytest.mark.skipif(NGINX is None, reason="nginx is missing: run `bash tests/setup.sh`")
@pytest.mark.parametrize("replicas, edge_limit", [([9001, 9002], True), ([9001], True), ([9001, 9002], False)])
def test_nginx_accepts_the_site_config(tmp_path, replicas, edge_limit):
    site = tmp_path / "site.conf"
    site.write_text(site_config(listen_port=9000, replica_ports=replicas, access_log=tmp_path / "access.log",
                                edge_limit=edge_limit), encoding="utf-8")
    assert ("limit_req zone=qa_ask" in site.read_text()) == edge_limit
    assert site.read_text().count("server 127.0.0.1:9001 ") == 2
    main = tmp_path / "nginx.conf"
    main.write_text(f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; events {{}} "
                    f"http {{ {temp_paths(tmp_path)} include {site}; }}", encoding="utf-8")
    check = nginx_test(main, tmp_path)
    assert check.returncode == 0, check.stderr


@pytest.mark.skipif(NGINX is None or not DEBIAN_NGINX_CONF.exists(), reason="no nginx with Debian's nginx.conf")
def test_nginx_accepts_the_site_config_inside_debians_nginx_conf(tmp_path):
    """As an operator installs it: included from /etc/nginx/nginx.conf's http {} (which has its own access_log,
    gzip, mime types...), beside Debian's default site. Only the paths are moved into tmp_path."""
    site = tmp_path / "acupuncture-qa"
    site.write_text(site_config(listen_port=9000, replica_ports=[9001, 9002], access_log=tmp_path / "access.log"),
                    encoding="utf-8")
    text = DEBIAN_NGINX_CONF.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^\s*user\s+[^;]*;", "", text)  # a user to switch to only matters to a running nginx
    text = re.sub(r"(?m)^(\s*pid)\s+[^;]*;", rf"\1 {tmp_path}/nginx.pid;", text)
    text = re.sub(r"(?m)^(\s*(?:access|error)_log)\s+/var/log/nginx/([^;\s]*)", rf"\1 {tmp_path}/\2", text)
    text, found = re.subn(r"(?m)^(\s*)include /etc/nginx/sites-enabled/\*;", rf"\1include {site};", text)
    assert found == 1, f"{DEBIAN_NGINX_CONF} does not include sites-enabled/ as Debian ships it"
    text, found = re.subn(r"(?m)^http \{", f"http {{\n    {temp_paths(tmp_path)}", text)
    assert found == 1
    default_site = Path("/etc/nginx/sites-available/default")
    if default_site.exists():  # its `listen 80 default_server` beside ours
        text = text.replace(f"include {site};", f"include {site};\n    include {default_site};")
    main = tmp_path / "nginx.conf"
    main.write_text(text, encoding="utf-8")
    check = nginx_test(main, tmp_path)
    assert check.returncode == 0, check.stderr
    assert "[warn]" not in check.stderr, check.stderr


def temp_paths(directory: Path) -> str:
    return " ".join(f"{kind}_temp_path {directory}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))


def nginx_test(main: Path, directory: Path) -> subprocess.CompletedProcess:
    """`nginx -t` on `main`, with even the log nginx opens before reading it (-e) in `directory`."""
    return subprocess.run([NGINX, "-t", "-p", str(directory), "-e", str(directory / "startup-error.log"), "-c", str(main)],
                          capture_output=True, text=True)


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_systemd_unit_has_no_trailing_comments():
    """systemd reads `User=qa  # comment` as the user "qa  # comment": comments go on lines of their own."""
    for section in unit().values():
        for key, value in section.items():
            assert "#" not in value, f"{key}={value}"


def test_systemd_unit_runs_one_replica_per_port_and_stops_gracefully(app_module):
    service = unit()["Service"]
    command = shlex.split(service["ExecStart"].replace("%i", "7861"))
    assert command[1] == "app.py"
    args = app_module.parse_args(command[2:], environ={})  # the options exist, and the port comes from %i
    assert (args.host, args.port) == ("127.0.0.1", 7861)
    # A file-descriptor limit set, above what the connection cap can hold (a slow upload held 2 each; issue 19).
    assert int(service["LimitNOFILE"]) >= 2 * args.max_connections + 256
    assert service["Restart"] == "on-failure" and service["KillSignal"] == "SIGTERM"
    app_source = (REPO / "app.py").read_text(encoding="utf-8")
    graceful = int(re.search(r"timeout_graceful_shutdown=(\d+)", app_source).group(1))
    assert int(service["TimeoutStopSec"]) > graceful  # systemd waits for the graceful stop before SIGKILL
    # Every replica reads the one shared index and the one clinic file.
    environment = [line.removeprefix("Environment=") for line in UNIT.read_text(encoding="utf-8").splitlines()
                   if line.startswith("Environment=")]
    assert {entry.split("=", 1)[0] for entry in environment} >= {"QA_INDEX_DIR", "QA_CONFIG"}
    # Started means answering (deploy/wait_ready.py), so restarting the replicas one by one is safe.
    wait = shlex.split(service["ExecStartPost"].replace("%i", "7861"))
    assert wait[1:] == ["deploy/wait_ready.py", "7861"] and (REPO / wait[1]).exists()
    # The index's directory is writable under ProtectSystem=strict: it is the unit's StateDirectory.
    index_parent = Path(next(e for e in environment if e.startswith("QA_INDEX_DIR=")).split("=", 1)[1]).parent
    assert service["ProtectSystem"] == "strict" and index_parent == Path("/var/lib") / service["StateDirectory"]


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is missing")
def test_systemd_accepts_the_unit(tmp_path):
    """`systemd-analyze verify` on an instance of the unit, with this checkout and this Python in place of
    the marked paths (it checks that the commands exist). Unknown keys are only warnings: none are allowed."""
    text = UNIT.read_text(encoding="utf-8").replace("/opt/acupuncture-qa/.venv/bin/python", sys.executable)
    text = text.replace("/opt/acupuncture-qa", str(REPO))
    instance = tmp_path / "acupuncture-qa@7861.service"
    instance.write_text(text, encoding="utf-8")
    check = subprocess.run([SYSTEMD_ANALYZE, "verify", str(instance)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert instance.name not in check.stderr, check.stderr


class _Health(BaseHTTPRequestHandler):
    """/healthz: 503 for the first `loading` requests, then 200."""

    def __init__(self, *args, state: dict, **kwargs):
        self.state = state
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self.state["asked"] += 1
        self.send_response(503 if self.state["asked"] <= self.state["loading"] else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_wait_ready_returns_once_the_replica_answers_and_gives_up_after_its_timeout():
    state = {"asked": 0, "loading": 2}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Health, state=state))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    script = [sys.executable, str(REPO / "deploy" / "wait_ready.py")]
    try:
        ready = subprocess.run([*script, str(httpd.server_address[1]), "--timeout", "20"], capture_output=True,
                               text=True, timeout=30)
        assert ready.returncode == 0 and state["asked"] == 3, (ready.stderr, state)
    finally:
        httpd.shutdown()
        httpd.server_close()
    closed = subprocess.run([*script, str(httpd.server_address[1]), "--timeout", "1"], capture_output=True, text=True,
                            timeout=30)
    assert closed.returncode == 1 and "did not answer /healthz in 1 s" in closed.stderr
