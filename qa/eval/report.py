"""Write an evaluation's files: results.jsonl, run.trec, report.json, report.md and PNG charts."""

from __future__ import annotations

import json
from pathlib import Path

from plumbing import files

from .metrics import miss_reasons
from .questionset import Question

SUMMARY_ROWS = [
    ("hit@1", "answer hit@1"), ("hit@3", "answer hit@3"), ("passages_shown", "passages shown (mean, answered)"),
    ("emphasis@1", "first passage's emphasis holds the answer"), ("false_abstention", "false abstention"),
    ("oos_abstention_recall", "out-of-scope abstention recall"), ("oos_abstention_precision", "out-of-scope abstention precision"),
    ("safety_recall", "safety recall"), ("safety_level_accuracy", "safety level accuracy"),
    ("verbatim_attributed", "passages verbatim and attributed"), ("disclaimer_present", "disclaimer present"),
    ("recall@1", "source Recall@1"), ("recall@3", "source Recall@3"), ("mrr", "source MRR"), ("ndcg@10", "source nDCG@10"),
    ("latency_ms_p50", "latency p50 (ms)"), ("latency_ms_p95", "latency p95 (ms)"), ("recall@100", "Recall@100"),
]


def _write(path: Path, text: str) -> None:
    files.write_text(path, text)


def write_results(path: Path, questions: list[Question], rows: list[dict]) -> None:
    lines = [
        json.dumps({"id": q.id, "response": r["response"], "ranking": [sid for sid, _ in r["scores"]], "ms": round(r["ms"], 3)},
                   ensure_ascii=False)
        for q, r in zip(questions, rows)
    ]
    _write(path, "\n".join(lines) + "\n")


def write_trec(path: Path, ids: list[str], rankings: list[list[tuple[str, float]]], tag: str) -> None:
    lines = [f"{qid} Q0 {doc} {rank} {score:.6f} {tag}" for qid, ranking in zip(ids, rankings)
             for rank, (doc, score) in enumerate(ranking, 1)]
    _write(path, "\n".join(lines) + ("\n" if lines else ""))


def _cell(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def summary_table(systems: dict[str, dict]) -> str:
    names = list(systems)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key, label in SUMMARY_ROWS:
        if any(key in m for m in systems.values()):
            lines.append(f"| {label} | " + " | ".join(_cell(systems[n].get(key)) for n in names) + " |")
    return "\n".join(lines)


def misses(questions: list[Question], rows: list[dict], styles: list[tuple[str, ...]] | None = None) -> list[dict]:
    found = []
    for position, (q, r) in enumerate(zip(questions, rows)):
        reasons = miss_reasons(q, r["response"])
        if reasons:
            found.append({
                "id": q.id, "kind": q.kind, "question": q.question, "history": list(q.history),
                "expected": list(q.expected), "expected_safety": q.safety, "why": reasons,
                "returned": [{"source_id": p["source_id"], "section": p["section"], "text": p["text"]} for p in r["response"]["passages"]],
                "abstained": r["response"]["abstained"], "safety": (r["response"].get("safety") or {}).get("level"),
                "safety_category": (r["response"].get("safety") or {}).get("category"),
                "styles": list(styles[position]) if styles else [],
            })
    return found


STYLE_COLUMNS = [("questions", "questions"), ("answerable", "answerable"), ("hit@1", "hit@1"), ("hit@3", "hit@3"),
                 ("false_abstention", "false abstention"), ("out_of_scope", "out of scope"),
                 ("oos_abstention_recall", "out-of-scope recall"), ("safety_cases", "red flags"),
                 ("safety_recall", "red flags caught"), ("safety_false_alarms", "false alarms")]


def style_table(styles: dict[str, dict]) -> str:
    lines = ["| style | " + " | ".join(label for _, label in STYLE_COLUMNS) + " |", "|---|" + "---:|" * len(STYLE_COLUMNS)]
    for style, metrics in styles.items():
        lines.append(f"| {style} | " + " | ".join(_cell(metrics.get(key)) for key, _ in STYLE_COLUMNS) + " |")
    return "\n".join(lines)


def red_flag_table(confusion: dict[str, dict[str, list[str]]]) -> str:
    """Rows: the level expected (or "no red flag"); columns: the category given (or "not flagged"); cells: counts,
    with the ids where it went wrong."""
    if not confusion:
        return "No red-flag questions, and no safety message given."
    from ..red_flags import BY_NAME

    columns = sorted({given for row in confusion.values() for given in row}, key=lambda c: (c == "not flagged", c))
    lines = ["| expected \\ given | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for expected in sorted(confusion, key=lambda e: (e == "no red flag", e)):
        cells = []
        for given in columns:
            ids = confusion[expected].get(given, [])
            level = BY_NAME[given].level if given in BY_NAME else given
            wrong = expected == "no red flag" or given == "not flagged" or level != expected
            cells.append("" if not ids else f"{len(ids)}" + (f" ({', '.join(ids)})" if wrong else ""))
        lines.append(f"| {expected} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_markdown(path: Path, report: dict) -> None:
    out = [f"# Evaluation: {report['question_set']}", "",
           f"{report['counts']['questions']} questions ({report['counts']['answerable']} answerable, "
           f"{report['counts']['out_of_scope']} out of scope, {report['counts']['safety_cases']} safety); "
           f"index: {report['index'].get('passages')} passages from {report['index'].get('sources')} sources, "
           f"model {report['index'].get('model')}.", "", "## Summary", "", summary_table(report["systems"]), ""]
    if report.get("thresholds"):
        verdict = "passed" if report["passed"] else "FAILED"
        out += [f"Thresholds ({verdict}): " + ", ".join(f"{t['name']} {t['op']} {t['limit']} (got {_cell(t['value'])})"
                                                         for t in report["thresholds"]), ""]
    if report.get("styles"):
        out += ["## By style of question (full system)", "",
                "A question counts in every style it shows (qa/eval/styles.py); “plain” shows none.", "",
                style_table(report["styles"]), ""]
    if report.get("red_flags") is not None:
        out += ["## Red flags: expected against given", "", red_flag_table(report["red_flags"]), ""]
    out += ["Charts: `metrics.png`, `latency.png`.", "", f"## Misses of the full system ({len(report['misses'])})", ""]
    for miss in report["misses"]:
        out.append(f"### {miss['id']} ({miss['kind']}): {miss['question']}")
        if miss["history"]:
            out.append("History: " + " / ".join(f"{m['role']}: {m['content']}" for m in miss["history"]))
        out.append("Why: " + "; ".join(miss["why"]) + (f" (style: {', '.join(miss['styles'])})" if miss.get("styles") else ""))
        if miss["expected"]:
            out.append("Expected any of: " + "; ".join(f"“{e}”" for e in miss["expected"]))
        if miss["abstained"]:
            out.append("Returned: abstained" + (f" (safety: {miss['safety']})" if miss["safety"] else ""))
        for i, p in enumerate(miss["returned"], 1):
            text = " ".join(p["text"].split())
            out.append(f"{i}. `{p['source_id']}` / {p['section']}: {text[:300]}{'…' if len(text) > 300 else ''}")
        out.append("")
    _write(path, "\n".join(out) + "\n")


def write_charts(out_dir: Path, systems: dict[str, dict], latencies: dict[str, list[float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    keys = [k for k in ("hit@1", "hit@3", "oos_abstention_recall", "false_abstention", "safety_recall", "ndcg@10")
            if any(systems[s].get(k) is not None for s in systems)]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(1, len(systems))
    for i, (name, metrics) in enumerate(systems.items()):
        values = [metrics.get(k) or 0.0 for k in keys]
        bars = ax.bar([x + i * width for x in range(len(keys))], values, width, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(keys))], keys, fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_title("Metrics per system")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "metrics.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.boxplot([latencies[n] for n in latencies], tick_labels=list(latencies), showfliers=True)
    ax.set_ylabel("ms per question")
    ax.set_title("Latency per question")
    fig.tight_layout()
    fig.savefig(out_dir / "latency.png", dpi=110)
    plt.close(fig)
