"""The files an operator copies from deploy/: nginx accepts the site config as shipped and as the tests edit
it, it has none of the mistakes that break a proxied Gradio page or a retry, and the systemd unit starts
`app.py` with options it accepts. (tests/test_replicas.py runs both for real.)"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.loopback import SITE_CONFIG, DeploymentError, site_config
from tests.conftest import REPO

UNIT = REPO / "deploy" / "systemd" / "acupuncture-qa@.service"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


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
                    f"http {{ client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy; include {site}; }}",
                    encoding="utf-8")
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


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
    assert service["Restart"] == "on-failure" and service["KillSignal"] == "SIGTERM"
    app_source = (REPO / "app.py").read_text(encoding="utf-8")
    graceful = int(re.search(r"timeout_graceful_shutdown=(\d+)", app_source).group(1))
    assert int(service["TimeoutStopSec"]) > graceful  # systemd waits for the graceful stop before SIGKILL
    # Every replica reads the one shared index and the one clinic file.
    environment = [line.removeprefix("Environment=") for line in UNIT.read_text(encoding="utf-8").splitlines()
                   if line.startswith("Environment=")]
    assert {entry.split("=", 1)[0] for entry in environment} >= {"QA_INDEX_DIR", "QA_CONFIG"}
