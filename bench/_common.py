"""Helpers shared by the bench scripts: the repository on sys.path, percentiles, memory, machine facts, tables.

Every script runs as `python bench/NAME.py`, which puts bench/ (not the repository) on
sys.path; importing this module first fixes that. Nothing here times anything by itself.
"""

from __future__ import annotations

import time

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from plumbing.cpu import int8_description  # noqa: E402

QUESTIONS = REPO_ROOT / "eval" / "questions.jsonl"
HOLDOUT = REPO_ROOT / "eval" / "holdout.jsonl"


def p50_p95(samples_ms) -> tuple[float, float]:
    """Median and 95th percentile of a list of milliseconds.

    >>> p50_p95([1, 2, 3, 4, 100])
    (3.0, 80.8)
    """
    p50, p95 = np.percentile(np.asarray(samples_ms, dtype=float), [50, 95])
    return round(float(p50), 3), round(float(p95), 3)


def interleaved_samples(paths: dict, questions: list, rounds: int) -> dict[str, list[float]]:
    """Milliseconds per call of each path, the paths interleaved question by question (rotating which
    goes first), so a busy moment on the machine hits every path alike."""
    samples: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for r in range(rounds):
        for i, q in enumerate(questions):
            shift = (i + r) % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                paths[name](q)
                samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def memory_mb() -> dict[str, float]:
    """This process's resident memory now (VmRSS) and at its peak (VmHWM), in MiB (Linux /proc)."""
    values = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[{"VmRSS": "rss", "VmHWM": "peak"}[key]] = int(rest.split()[0]) / 1024
    return values


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every timing."""
    with open("/proc/loadavg", encoding="ascii") as handle:
        return " ".join(handle.read().split()[:3])


def machine() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="ascii") as handle:
        total_kib = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "int8": int8_description(),  # the cross-encoder's int8 kernel, which sets its speed (plumbing/cpu.py)
        "nproc": str(os.cpu_count()),
        "memory": f"{total_kib / 1024**2:.1f} GiB",
        "python": platform.python_version(),
        "load": load_average(),
    }


def print_header(title: str, mode: str) -> None:
    m = machine()
    print(f"# {title} ({mode})")
    print(f"{m['date']}; {m['cpu']} ({m['int8']}), {m['nproc']} CPUs, {m['memory']}; Python {m['python']}; load average {m['load']}")


def table(headers: list[str], rows: list[list]) -> str:
    """A plain, aligned text table (numbers right-aligned), also valid Markdown.

    >>> print(table(["a", "bb"], [["x", 1.5]]))
    | a |   bb |
    |---|------|
    | x | 1.50 |
    """
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in rows) if rows else False for i in range(len(headers))]
    def line(values):
        return "| " + " | ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric)) + " |"
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(out + [line(r) for r in cells])


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        if abs(value) >= 1e-3:
            return f"{value:.3f}"
        return f"{value:.1e}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    return str(value)


def run_worker(script: str, *args: str) -> object:
    """Run `script --worker ARGS` in a fresh process (so one measurement never warms up the next); its last
    line of output, parsed as JSON. A failed worker's stderr is shown and ends the run."""
    result = subprocess.run([sys.executable, script, "--worker", *args], capture_output=True, text=True, cwd=REPO_ROOT)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"worker {' '.join(args)} failed (exit {result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])
