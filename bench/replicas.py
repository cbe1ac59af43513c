"""Replicas behind nginx against the app alone, in one run: answers/s and latency of `POST /api/ask` with wrk.

Builds the index once (`python -m index build --out DIR`), starts two `python app.py` replicas on it
(rate limit off) and two private nginx processes running deploy/nginx/acupuncture-qa.conf (deploy/loopback.py),
one in front of a single replica and one in front of both (without the per-visitor limit: wrk's connections share
one address). Then, level by level, the same wrk load (distinct questions, so the answer cache serves none;
bench/http_load.py's script) goes to:

- the app directly (the baseline),
- nginx -> 1 replica (the cost of the proxy hop),
- nginx -> 2 replicas (what a second process on the same machine buys),

and `GET /healthz` directly and through nginx at one connection (the hop alone, with no model work).
Also each replica's resident memory after the load: every replica holds its own models and index.

    python bench/replicas.py            # 10 s per level
    python bench/replicas.py --quick    # 3 s per level

Needs wrk and nginx (Debian: apt-get install wrk nginx). Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402,F401  (the repository on sys.path)
from http_load import LUA, LUA_GET, run_wrk  # noqa: E402  (same folder)

from deploy.loopback import DeploymentError, NginxProxy, ReplicaProcess, free_port  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
LEVELS = (1, 4, 16)


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def clinic_without_limit(workdir: Path) -> Path:
    """clinic.toml with the limit off and the old feedback log in `workdir`: the replicas keep their events
    beside their index in `workdir`, and would otherwise import the checkout's var/feedback.jsonl into that
    throwaway store and rename it (it is imported once), taking it from the real server."""
    text = (REPO / "clinic.toml").read_text(encoding="utf-8")
    replacements = {"rate_limit_per_minute": "0", "feedback_file": json.dumps(str(workdir / "feedback.jsonl"))}
    for key, value in replacements.items():
        text, found = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        if found != 1:
            raise SystemExit(f"clinic.toml has no single '{key} = ...' line to change")
    path = workdir / "clinic.toml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per level instead of 10")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not (shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}")):
            raise SystemExit(f"{tool} is not installed: apt-get install {tool}")
    seconds = 3 if args.quick else 10
    questions = [json.loads(line)["question"] for line in (REPO / "eval" / "questions.jsonl").read_text().splitlines()[:60]]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        post_script, get_script = workdir / "post.lua", workdir / "get.lua"
        post_script.write_text(LUA % ("{" + ", ".join(json.dumps(json.dumps(q)[:-1]) for q in questions) + "}"))
        get_script.write_text(LUA_GET)
        print("Building the index once ...", flush=True)
        built = subprocess.run([sys.executable, "-m", "index", "build", "--out", str(workdir / "index")], cwd=REPO,
                               capture_output=True, text=True)
        if built.returncode != 0:
            raise SystemExit(f"python -m index build failed:\n{built.stderr[-3000:]}")
        env = ReplicaProcess.environment(index_dir=workdir / "index", config=clinic_without_limit(workdir))
        replicas = [ReplicaProcess(free_port(), env, workdir / f"replica-{n}.log") for n in (1, 2)]
        stack.callback(lambda: [r.stop() for r in replicas])
        print("Starting two replicas ...", flush=True)
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.wait_ready()
        one = stack.enter_context(NginxProxy.start(workdir / "nginx-1", replica_ports=[replicas[0].port], edge_limit=False))
        two = stack.enter_context(NginxProxy.start(workdir / "nginx-2", replica_ports=[r.port for r in replicas],
                                                   edge_limit=False))
        targets = {"app directly": replicas[0].base, "nginx -> 1 replica": one.base, "nginx -> 2 replicas": two.base}
        for base in targets.values():  # warm-up: first answers load lazily built parts
            for question in questions[:6]:
                httpx.post(f"{base}/api/ask", json={"question": question}, timeout=60)
        for replica in replicas:
            for question in questions[:6]:
                httpx.post(f"{replica.base}/api/ask", json={"question": question}, timeout=60)

        print(f"\nPOST /api/ask, {os.cpu_count()} cores, {seconds} s per level, wrk, distinct questions\n")
        print(f"{'clients':>7} | {'target':<20} | {'answers/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
        for clients in LEVELS:
            for name, base in targets.items():
                result = run_wrk(base, "/api/ask", post_script, clients, seconds)
                print(f"{clients:>7} | {name:<20} | {result['per_second']:>9.1f} {result['p50']:>8.1f} "
                      f"{result['p95']:>8.1f} {result['p99']:>8.1f} {result['errors']:>6}", flush=True)

        print("\nThe proxy hop alone: GET /healthz at 1 connection (no model work)\n")
        print(f"{'target':<20} | {'requests/s':>10} {'p50 ms':>7} {'p95 ms':>7}")
        for name, base in (("app directly", replicas[0].base), ("nginx -> 1 replica", one.base)):
            result = run_wrk(base, "/healthz", get_script, 1, max(2, seconds // 2))
            print(f"{name:<20} | {result['per_second']:>10.1f} {result['p50']:>7.2f} {result['p95']:>7.2f}", flush=True)

        print("\nResident memory after the load (each replica holds its own models and index):")
        for replica in replicas:
            print(f"  replica on port {replica.port}: {rss_mib(replica.process.pid):.0f} MiB")
        print(f"  nginx (master + worker): {sum(rss_mib(p) for p in nginx_pids(two)):.0f} MiB")
    return 0


def nginx_pids(proxy: NginxProxy) -> list[int]:
    master = proxy.process.pid
    children = Path(f"/proc/{master}/task/{master}/children")
    return [master] + [int(pid) for pid in children.read_text().split()] if children.exists() else [master]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DeploymentError as exc:  # a replica or nginx would not start: the message says why
        sys.exit(f"Cannot run the benchmark: {exc}")
