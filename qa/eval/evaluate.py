"""`python -m qa evaluate`: run a question set through the system (and baselines), score it,
and write the report files. Thresholds (`--fail-under`) turn it into a gate.

Question-set mode writes into OUT: results.jsonl (contract rows of the full system),
run.trec, report.json, report.md, metrics.png, latency.png, and with --compare also
results-<baseline>.jsonl and run-<baseline>.trec.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from tqdm import tqdm

from plumbing import files

from ..answerer import Answerer
from ..config import Settings
from ..errors import QAError
from .metrics import SourceTexts, answer_metrics, ranking_metrics
from .questionset import Question, load_questions
from .report import misses, write_charts, write_markdown, write_results, write_trec
from .styles import by_style, red_flag_confusion, styles_of
from .baselines import Bm25Baseline, FirstStageSystem, FullSystem, NaiveDenseBaseline, NoBankSystem, System

# --fail-under keys: name -> (metric, "min" | "max")
THRESHOLD_KEYS = {
    "hit1": ("hit@1", "min"), "hit3": ("hit@3", "min"), "oos": ("oos_abstention_recall", "min"),
    "oos_precision": ("oos_abstention_precision", "min"), "false_abstention": ("false_abstention", "max"),
    "safety": ("safety_recall", "min"), "verbatim": ("verbatim_attributed", "min"),
    "disclaimer": ("disclaimer_present", "min"), "recall3": ("recall@3", "min"), "mrr": ("mrr", "min"),
    "ndcg10": ("ndcg@10", "min"), "p95_ms": ("latency_ms_p95", "max"),
}


def parse_thresholds(text: str | None) -> list[tuple[str, str, str, float]]:
    """`"hit3=0.9,oos=0.9"` -> [(key, metric, op, limit)]; unknown keys or bad numbers raise QAError."""
    if not text:
        return []
    parsed = []
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or key not in THRESHOLD_KEYS:
            raise QAError(f"Invalid threshold: {part.strip()!r}. Use key=value with keys: {', '.join(THRESHOLD_KEYS)}.")
        try:
            limit = float(value)
        except ValueError as exc:
            raise QAError(f"Invalid threshold value in {part.strip()!r}: {value!r} is not a number.") from exc
        metric, op = THRESHOLD_KEYS[key]
        parsed.append((key, metric, op, limit))
    return parsed


def check_thresholds(metrics: dict, thresholds) -> list[dict]:
    checked = []
    for key, metric, op, limit in thresholds:
        value = metrics.get(metric)
        ok = value is not None and (value >= limit if op == "min" else value <= limit)
        checked.append({"name": key, "metric": metric, "op": ">=" if op == "min" else "<=", "limit": limit, "value": value, "ok": ok})
    return checked


def run_system(system: System, questions: list[Question], *, progress: bool = True) -> list[dict]:
    rows = []
    for question in tqdm(questions, desc=f"{system.name:>12}", unit="q", disable=not progress, file=sys.stderr):
        rows.append(system.run(question))
    return rows


def evaluate(questions_path: str | Path, out: str | Path, settings: Settings, *, compare: bool = False,
             fail_under: str | None = None, progress: bool = True, answerer: Answerer | None = None) -> dict:
    thresholds = parse_thresholds(fail_under)  # bad thresholds fail before anything runs
    questions = load_questions(questions_path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    answerer = answerer or Answerer.load(settings, progress=progress)
    sources = SourceTexts(settings.sources_dir)
    systems: list[System] = [FullSystem(answerer)]
    if compare:
        systems += [NoBankSystem(answerer), FirstStageSystem(answerer), Bm25Baseline(answerer.index, settings),
                    NaiveDenseBaseline(settings.sources_dir, answerer.embedder, settings)]
    FullSystem(answerer).run(questions[0])  # warm-up, so the first latency is not a cold start
    metrics, latencies, all_rows = {}, {}, {}
    for system in systems:
        rows = run_system(system, questions, progress=progress)
        all_rows[system.name] = rows
        metrics[system.name] = answer_metrics(questions, rows, sources) | ranking_metrics(questions, rows)
        latencies[system.name] = [r["ms"] for r in rows]
        suffix = "" if system.name == "full" else f"-{system.name}"
        write_results(out / f"results{suffix}.jsonl", questions, rows)
        write_trec(out / f"run{suffix}.trec", [q.id for q in questions], [r["scores"] for r in rows], system.name)
    checked = check_thresholds(metrics["full"], thresholds)
    styles = [styles_of(q, answerer.prepare(q.question, list(q.history))) for q in questions]
    full_rows = all_rows["full"]
    per_style = {
        style: answer_metrics([questions[i] for i in members], [full_rows[i] for i in members], sources)
        for style, members in by_style(questions, styles).items()
    }
    manifest = answerer.index.manifest
    report = {
        "question_set": str(questions_path),
        "counts": {k: metrics["full"][k] for k in ("questions", "answerable", "out_of_scope", "safety_cases")},
        "index": {"path": str(answerer.index.path), "passages": manifest.get("passages"),
                  "sources": manifest.get("source_count"), "model": manifest.get("model", {}).get("name")},
        "systems": metrics,
        "thresholds": checked,
        "passed": all(t["ok"] for t in checked),
        "styles": per_style,
        "red_flags": red_flag_confusion(questions, full_rows),
        "misses": misses(questions, full_rows, styles),
    }
    files.write_json(out / "report.json", report)
    write_markdown(out / "report.md", report)
    write_charts(out, metrics, latencies)
    return report


def settings_for(settings: Settings, *, sources: str | None, index: str | None) -> Settings:
    changes = {}
    if sources:
        changes["sources_dir"] = Path(sources)
    if index:
        changes["index_dir"] = Path(index)
    return dataclasses.replace(settings, **changes) if changes else settings
