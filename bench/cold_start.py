"""Cold start: from `python app.py` to the first answer, with the index already built and without.

Three timings in one run, each a fresh process on a free loopback port:
- index build for the corpus: `python -m index build` into an empty directory;
- first start ever: launch -> first `POST /api/ask` answered, with no index and no ONNX export yet
  (both are made by that start);
- the normal start: the same with the index built and the export cached.
Baseline: `python -c "import torch, sentence_transformers"` (the import cost no start can avoid).
Target: cold start with a built index <= 15 s.

    python bench/cold_start.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_load import free_port  # noqa: E402  (same folder)

REPO = Path(__file__).resolve().parent.parent


def first_answer_seconds(index_dir: Path) -> float:
    port = free_port()
    env = dict(os.environ, QA_INDEX_DIR=str(index_dir))
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - started < 600:
            if process.poll() is not None:
                raise SystemExit(f"app.py exited with {process.returncode}")
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/api/ask", json={"question": "Will the needles hurt?"}, timeout=30)
                if response.status_code == 200 and response.json()["passages"]:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit("no answer within 600 s")
    finally:
        process.terminate()
        process.wait(timeout=20)


def timed(command: list[str], env: dict | None = None) -> float:
    started = time.monotonic()
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    baseline, build = "import torch + sentence-transformers (baseline)", "index build (5 articles)"
    first_ever = "first answer, first start ever (no index, no ONNX export)"
    normal = "first answer, index built and export cached (normal)"
    rows: dict[str, list[float]] = {baseline: [], build: [], first_ever: [], normal: []}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:  # the ONNX export is cached in tmp/onnx, beside both indexes
            rows[baseline].append(timed([sys.executable, "-c", "import torch, sentence_transformers"]))
            rows[build].append(timed([sys.executable, "-m", "index", "build", "--out", f"{tmp}/built", "--quiet"]))
            rows[first_ever].append(first_answer_seconds(Path(tmp) / "fresh"))  # builds tmp/fresh, exports the model
            rows[normal].append(first_answer_seconds(Path(tmp) / "built"))
    print(f"{'':58} {'median s':>9} {'min s':>7} {'max s':>7}   ({args.runs} runs, {os.cpu_count()} cores)")
    for name, values in rows.items():
        print(f"{name:58} {statistics.median(values):>9.2f} {min(values):>7.2f} {max(values):>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
