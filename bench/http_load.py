"""HTTP load on `POST /api/ask` with wrk (a real load generator), against a real `python app.py`.

Starts the server on a free loopback port with the built index and a copy of clinic.toml whose
rate limit is off, then runs wrk at 1, 4, 16 and 64 concurrent connections (bounded: a fixed
duration each), cycling through questions from eval/questions.jsonl. Each request's question is
made distinct by a number at its end ("Will the needles hurt? 1764620000-1-17": the run, the wrk
thread, the request), so that the answer cache never serves one. Prints answers/s, p50/p95/p99
latency and errors per level, beside `GET /healthz` at the same concurrency as the baseline (the
cost of the HTTP stack alone). Target on this machine, with the cross-encoder re-ranking every
answer: >= 8 answers/s at 16 clients with zero errors.

    python bench/http_load.py            # 10 s per level
    python bench/http_load.py --quick    # 3 s per level

Needs wrk (Debian: apt-get install wrk). Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
LEVELS = (1, 4, 16, 64)

LUA = r"""
local questions = %s
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local i = 0
local tag = nil
request = function()
  -- unique across wrk's threads and across runs (levels), so no answer comes from the cache
  tag = tag or (tostring(os.time()) .. "-" .. tostring(id))
  i = i + 1
  local body = '{"question": ' .. questions[(i %% #questions) + 1] .. ' ' .. tag .. '-' .. i .. '"}'
  return wrk.format("POST", "/api/ask", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%f, "p50": %%f, "p95": %%f, "p99": %%f, ' ..
    '"errors": %%d}\n', summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
"""

LUA_GET = r"""
done = function(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "seconds": %f, "p50": %f, "p95": %f, "p99": %f, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workdir: Path) -> tuple[subprocess.Popen, str]:
    clinic = (REPO / "clinic.toml").read_text(encoding="utf-8")
    clinic = re.sub(r"(?m)^rate_limit_per_minute = .*$", "rate_limit_per_minute = 0", clinic)
    clinic = re.sub(r"(?m)^feedback_file = .*$", f"feedback_file = {json.dumps(str(workdir / 'feedback.jsonl'))}", clinic)
    (workdir / "clinic.toml").write_text(clinic, encoding="utf-8")
    port = free_port()
    env = dict(os.environ, QA_CONFIG=str(workdir / "clinic.toml"))
    log = open(workdir / "server.log", "wb")
    process = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"app.py exited: {(workdir / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("app.py did not start in 300 s")


def run_wrk(base: str, path: str, script: Path, clients: int, seconds: int) -> dict:
    threads = min(clients, 2)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "10s",
                          "-s", str(script), f"{base}{path}"], capture_output=True, text=True, timeout=seconds + 60)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")
    result = json.loads(line[len("RESULT "):])
    result["per_second"] = result["requests"] / result["seconds"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per level instead of 10")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    seconds = 3 if args.quick else 10
    questions = [json.loads(l)["question"] for l in (REPO / "eval" / "questions.jsonl").read_text().splitlines()[:60]]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        post_script, get_script = workdir / "post.lua", workdir / "get.lua"
        # Each question as a JSON string without its closing quote: the script appends a number, then the quote.
        lua_list = "{" + ", ".join(json.dumps(json.dumps(q)[:-1]) for q in questions) + "}"
        post_script.write_text(LUA % lua_list)
        get_script.write_text(LUA_GET)
        process, base = start_server(workdir)
        try:
            for q in questions[:10]:  # warm-up
                httpx.post(f"{base}/api/ask", json={"question": q}, timeout=30)
            print(f"POST /api/ask on {base} ({os.cpu_count()} cores, {seconds} s per level); baseline GET /healthz\n")
            print(f"{'clients':>7} | {'answers/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6} | "
                  f"{'healthz/s':>9} {'p50 ms':>7} {'p95 ms':>7}")
            for clients in LEVELS:
                ask = run_wrk(base, "/api/ask", post_script, clients, seconds)
                health = run_wrk(base, "/healthz", get_script, clients, max(2, seconds // 3))
                print(f"{clients:>7} | {ask['per_second']:>9.1f} {ask['p50']:>8.1f} {ask['p95']:>8.1f} {ask['p99']:>8.1f} "
                      f"{ask['errors']:>6} | {health['per_second']:>9.1f} {health['p50']:>7.1f} {health['p95']:>7.1f}", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
