"""The shipped deployment, run on loopback for the tests and benchmarks: `python app.py` replicas and an nginx
that serves deploy/nginx/acupuncture-qa.conf itself, rewritten only where an operator would edit it.

    with NginxProxy.start(workdir, replica_ports=[p1, p2]) as proxy:
        httpx.post(f"{proxy.base}/api/ask", json={"question": "Will the needles hurt?"})

`site_config` makes those edits (the replica ports, the listen address, the host name, the log path; optionally the
per-visitor limit taken out) and fails loudly when the shipped file no longer has the line it edits, so the tests never
silently run a config other than the one shipped. `ReplicaProcess` is one `python app.py` with its own
port and log, started, stopped (SIGTERM), killed (SIGKILL) and restarted like systemd would.

Everything listens on 127.0.0.1 and writes only into the given directory; the system's nginx, its
configuration and its logs are never touched. Not here: the load generators (tests and bench have their own).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx

REPO = Path(__file__).resolve().parent.parent
SITE_CONFIG = REPO / "deploy" / "nginx" / "acupuncture-qa.conf"
SHIPPED_PORTS = (7861, 7862)  # the replica ports written in the shipped config
EDGE_LIMIT = "        limit_req zone=qa_ask burst=10 nodelay;\n"  # the shipped per-visitor limit (API and chat page)
SHIPPED_SERVER_NAME = "qa.example-clinic.org"
SERVER_NAME = "127.0.0.1"  # the tests' host name: the address they connect to
START_TIMEOUT = 180  # s; a replica's first start may build the index and loads the models

# The http {} around the site file: what Debian's /etc/nginx/nginx.conf provides, with every path in `workdir`.
MAIN_CONFIG = """\
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log info;
{user}
events {{ worker_connections 1024; }}
http {{
    types {{ text/html html; application/javascript js; text/css css; }}
    default_type application/octet-stream;
    client_body_temp_path {workdir}/nginx-tmp/body;
    proxy_temp_path {workdir}/nginx-tmp/proxy;
    fastcgi_temp_path {workdir}/nginx-tmp/fastcgi;
    uwsgi_temp_path {workdir}/nginx-tmp/uwsgi;
    scgi_temp_path {workdir}/nginx-tmp/scgi;
    include {site};
}}
"""


class DeploymentError(RuntimeError):
    """The loopback deployment could not be started: the message says what is missing or what failed."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _replace(text: str, old: str, new: str, *, count: int | None = None) -> str:
    found = text.count(old)
    if found == 0 or (count is not None and found != count):
        raise DeploymentError(f"{SITE_CONFIG.name} has {found} of {old!r} (expected {count or 'some'}): "
                              "update deploy/loopback.py with the shipped config")
    return text.replace(old, new)


def site_config(*, listen_port: int, replica_ports: list[int], access_log: Path, edge_limit: bool = True) -> str:
    """The shipped site config with the operator's edits: the replicas on `replica_ports`, the server (and its
    default server, for other host names) on 127.0.0.1:`listen_port`, answering the host name 127.0.0.1,
    the access log at `access_log`; `edge_limit=False` takes the per-visitor limit out, for loads whose
    clients all come from one address."""
    if not 1 <= len(replica_ports) <= len(SHIPPED_PORTS):
        raise DeploymentError(f"Between 1 and {len(SHIPPED_PORTS)} replicas, got {len(replica_ports)}.")
    text = SITE_CONFIG.read_text(encoding="utf-8")
    text = _replace(text, "    listen 80;", f"    listen 127.0.0.1:{listen_port};", count=1)
    text = _replace(text, "    listen 80 default_server;", f"    listen 127.0.0.1:{listen_port} default_server;", count=1)
    text = _replace(text, f"    server_name {SHIPPED_SERVER_NAME};", f"    server_name {SERVER_NAME};", count=1)
    text = _replace(text, "/var/log/nginx/acupuncture-qa.access.log", str(access_log), count=2)
    for index, shipped in enumerate(SHIPPED_PORTS):
        if index < len(replica_ports):
            text = _replace(text, f"127.0.0.1:{shipped} ", f"127.0.0.1:{replica_ports[index]} ", count=2)
        else:  # fewer replicas: drop the shipped server lines past them
            text, dropped = re.subn(rf"(?m)^\s*server 127\.0\.0\.1:{shipped} .*\n", "", text)
            if dropped != 2:
                raise DeploymentError(f"{SITE_CONFIG.name}: expected 2 'server 127.0.0.1:{shipped}' lines, found {dropped}")
    if not edge_limit:
        text = _replace(text, EDGE_LIMIT, "", count=2)
    return text


@dataclass
class NginxProxy:
    """A private nginx (master and one worker) serving the site config on 127.0.0.1:`port`."""

    workdir: Path
    port: int
    process: subprocess.Popen
    access_log: Path
    error_log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    @contextmanager
    def start(cls, workdir: Path, *, replica_ports: list[int], edge_limit: bool = True) -> Iterator["NginxProxy"]:
        binary = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
        if binary is None:
            raise DeploymentError("nginx is not installed: run `bash tests/setup.sh` (Debian: apt-get install nginx)")
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "nginx-tmp").mkdir(exist_ok=True)
        port = free_port()
        access_log = workdir / "nginx-access.log"
        site = workdir / "site.conf"
        site.write_text(site_config(listen_port=port, replica_ports=replica_ports, access_log=access_log,
                                    edge_limit=edge_limit), encoding="utf-8")
        # As root, nginx's worker would run as "nobody" and could not write into workdir.
        user = f"user {_user_name()};" if os.geteuid() == 0 else ""
        main = workdir / "nginx.conf"
        main.write_text(MAIN_CONFIG.format(workdir=workdir, user=user, site=site), encoding="utf-8")
        error_log = workdir / "nginx-error.log"
        # -e: the log nginx writes before it has read the config is ours too, not /var/log/nginx/error.log.
        command = [binary, "-p", str(workdir), "-e", str(error_log), "-c", str(main)]
        check = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise DeploymentError(f"nginx refused the config: {check.stderr.strip()}")
        stderr_log = workdir / "nginx-stderr.log"
        with open(stderr_log, "wb") as stderr:
            # A session of its own: if the master has to be killed, its worker goes with it (killpg).
            process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=stderr,
                                       start_new_session=True)
        proxy = cls(workdir, port, process, access_log, error_log)
        try:
            _wait_for_nginx(proxy, stderr_log)
            yield proxy
        finally:
            process.send_signal(signal.SIGQUIT)  # graceful: finish open requests, then exit
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def upstreams(self) -> list[list[str]]:
        """Per logged request, the replicas nginx tried for it, in order ("127.0.0.1:PORT")."""
        tried = []
        for line in self.access_log.read_text(encoding="utf-8").splitlines():
            found = re.search(r"upstream=(\S.*?) upstream_status=", line)
            if found and found.group(1) != "-":
                tried.append(re.findall(r"127\.0\.0\.1:\d+", found.group(1)))
        return tried

    def errors(self) -> list[str]:
        """The error log's lines of level error or worse, oldest first (the log only grows: slice it by count)."""
        if not self.error_log.exists():
            return []
        return [line for line in self.error_log.read_text(encoding="utf-8").splitlines()
                if re.search(r"\[(error|crit|alert|emerg)\]", line)]


def _user_name() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _wait_for_nginx(proxy: NginxProxy, stderr_log: Path, timeout: float = 20) -> None:
    """Until nginx listens. Its pid file is written only once its sockets are bound: a port that answers
    before that is someone else's (free_port can only pick a port that was free a moment ago)."""
    pid_file = proxy.workdir / "nginx.pid"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proxy.process.poll() is not None:
            said = stderr_log.read_text(errors="replace").strip() or "(nothing: see its error log)"
            raise DeploymentError(f"nginx exited with {proxy.process.returncode}: {said[-2000:]}\n"
                                  f"(error log: {proxy.error_log})")
        if pid_file.exists() and pid_file.read_text().strip() == str(proxy.process.pid):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", proxy.port)) == 0:
                    return
        time.sleep(0.05)
    raise DeploymentError(f"nginx did not listen on port {proxy.port} in {timeout} s")


@dataclass
class ReplicaProcess:
    """One `python app.py --port PORT` with the given environment; its output goes to `log`."""

    port: int
    env: dict[str, str]
    log: Path
    command_prefix: list[str] = field(default_factory=list)  # runs it under another command (say, setpriv)
    args: list[str] = field(default_factory=list)  # more of app.py's options (say, --max-connections 16)
    process: subprocess.Popen | None = field(default=None, repr=False)

    @classmethod
    def environment(cls, *, index_dir: Path, config: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
        """This process's environment for a replica: the shared index and clinic file, nothing inherited that
        would move the server to another address or trust other proxies. Unbuffered output, as the systemd
        unit has it: what the replica prints is in its log when it happens."""
        env = dict(os.environ, QA_INDEX_DIR=str(index_dir), QA_CONFIG=str(config), PYTHONUNBUFFERED="1", **(extra or {}))
        for name in ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "GRADIO_WATCH_DIRS", "FORWARDED_ALLOW_IPS"):
            env.pop(name, None)
        return env

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "ReplicaProcess":
        if self.running:  # a second process on the port would fail to bind, and the first would be lost track of
            raise DeploymentError(f"app.py on port {self.port} is already running (pid {self.process.pid})")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([*self.command_prefix, sys.executable, "app.py", "--port", str(self.port),
                                             *self.args], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> "ReplicaProcess":
        """Until `GET /healthz` answers 200; `DeploymentError` with the log's end if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise DeploymentError(f"app.py on port {self.port} exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise DeploymentError(f"app.py on port {self.port} did not answer /healthz in {timeout} s:\n{self.tail()}")
            time.sleep(0.25)

    def output(self) -> str:
        """Everything it has printed, over all its starts (they share the log)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, chars: int = 3000) -> str:
        return self.output()[-chars:] or "(no log)"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as systemd stops a unit; waits and returns the exit code."""
        self.process.terminate()
        return self.process.wait(timeout=timeout)

    def kill(self) -> int:
        """SIGKILL: the process dies at once, mid-request."""
        self.process.kill()
        return self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stopped whatever state it is in (for cleanup)."""
        if self.running:
            try:
                self.terminate(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
