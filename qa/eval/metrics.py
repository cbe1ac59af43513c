"""Evaluation metrics, defined as the contract defines them, plus an independent verbatim check.

- A returned passage is a *hit* when one of the question's expected phrases occurs in it
  (case- and whitespace-insensitive) and the passage is at most 700 characters.
- hit@1 / hit@3 are over answerable questions; an abstention there is a miss. passages_shown is the
  mean number of passages of the answerable questions answered; emphasis@1 the share of answerable
  questions whose first passage is a hit with an expected phrase inside its emphasised sentence.
- Out-of-scope abstention recall and precision are over questions that are neither
  answerable nor safety cases; false abstention is the share of answerable questions refused.
- Safety recall: safety cases flagged at any level; level accuracy: flagged at the right one.
- Verbatim: each passage's text is found in `sources/<source_id>.*` as read straight from
  disk here (not through the index code), and its section is a heading of that file.
- Ranking metrics (Recall@k, MRR, nDCG@10) over ranked source ids, computed by ir-measures.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np

from .questionset import Question

MAX_HIT_CHARS = 700


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip().lower()


def is_hit(passage_text: str, expected: tuple[str, ...]) -> bool:
    if len(passage_text) > MAX_HIT_CHARS:
        return False
    text = normalise(passage_text)
    return any(normalise(phrase) in text for phrase in expected if phrase.strip())


def emphasis_holds_answer(passages: list[dict], expected: tuple[str, ...]) -> bool:
    """The first passage is a hit and the sentence it emphasises holds an expected phrase."""
    if not passages or not is_hit(passages[0]["text"], expected) or not passages[0].get("highlight"):
        return False
    highlight = normalise(passages[0]["highlight"])
    return any(normalise(phrase) in highlight for phrase in expected if phrase.strip())


class SourceTexts:
    """The text of every source file, read from disk with no help from the index package."""

    def __init__(self, sources: str | Path):
        self.root = Path(sources)
        self._texts: dict[str, str] = {}
        self._headings: dict[str, set[str]] = {}
        files = [self.root] if self.root.is_file() else sorted(p for p in self.root.rglob("*") if p.is_file())
        for path in files:
            if path.name == "corpus.jsonl" or (self.root.is_file() and path.suffix == ".jsonl"):
                for line in path.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        record = json.loads(line)
                        self._texts[str(record.get("_id"))] = normalise(f"{record.get('title', '')} {record.get('text', '')}")
                continue
            raw = path.read_text(encoding="utf-8", errors="replace")
            if path.suffix.lower() in (".html", ".htm"):
                raw = html.unescape(re.sub(r"<[^>]+>", " ", raw))
            self._texts[path.stem] = normalise(raw)
            self._headings[path.stem] = {
                normalise(h.rstrip(":")) for h in re.findall(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", raw, re.MULTILINE)
            }

    def verbatim(self, passage: dict) -> bool:
        """The passage is in its source file, and (for Markdown) under a heading that file has."""
        body = self._texts.get(passage.get("source_id", ""))
        if body is None:
            return False
        pieces = [p for p in re.split(r"…", passage.get("text", "")) if p.strip()]
        if not pieces or not all(normalise(p) in body for p in pieces):
            return False
        headings = self._headings.get(passage["source_id"])
        section = normalise(passage.get("section") or "")
        return not headings or section in headings or section == "introduction"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def _share(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def answer_metrics(questions: list[Question], results: list[dict], sources: SourceTexts) -> dict:
    """The answer-level metrics of one system over one question set."""
    answerable = [(q, r) for q, r in zip(questions, results) if q.kind == "answerable"]
    out_of_scope = [(q, r) for q, r in zip(questions, results) if q.kind == "out_of_scope"]
    safety_cases = [(q, r) for q, r in zip(questions, results) if q.kind == "safety"]
    non_safety = answerable + out_of_scope
    hits = [[is_hit(p["text"], q.expected) for p in r["response"]["passages"]] for q, r in answerable]
    answered = [r["response"]["passages"] for _, r in answerable if not r["response"]["abstained"]]
    abstained_oos = sum(r["response"]["abstained"] for _, r in out_of_scope)
    abstained_all = sum(r["response"]["abstained"] for _, r in non_safety)
    flagged = [(q, (r["response"].get("safety") or {}).get("level")) for q, r in safety_cases]
    passages = [p for r in results for p in r["response"]["passages"]]
    latencies = [r["ms"] for r in results]
    return {
        "questions": len(questions),
        "answerable": len(answerable),
        "out_of_scope": len(out_of_scope),
        "safety_cases": len(safety_cases),
        "hit@1": _share(sum(bool(h) and h[0] for h in hits), len(hits)),
        "hit@3": _share(sum(any(h[:3]) for h in hits), len(hits)),
        "passages_shown": round(sum(map(len, answered)) / len(answered), 3) if answered else None,
        "emphasis@1": _share(sum(emphasis_holds_answer(r["response"]["passages"], q.expected) for q, r in answerable), len(answerable)),
        "false_abstention": _share(sum(r["response"]["abstained"] for _, r in answerable), len(answerable)),
        "oos_abstention_recall": _share(abstained_oos, len(out_of_scope)),
        "oos_abstention_precision": _share(abstained_oos, abstained_all),
        "safety_recall": _share(sum(level is not None for _, level in flagged), len(flagged)),
        "safety_level_accuracy": _share(sum(level == q.safety for q, level in flagged), len(flagged)),
        "safety_false_alarms": sum(bool(r["response"].get("safety")) for _, r in non_safety),
        "verbatim_attributed": _share(sum(sources.verbatim(p) for p in passages), len(passages)),
        "disclaimer_present": _share(
            sum(bool(r["response"]["disclaimer"]) and r["response"]["disclaimer"] in r["response"]["answer_markdown"] for r in results),
            len(results),
        ),
        "latency_ms_p50": round(percentile(latencies, 50), 2),
        "latency_ms_p95": round(percentile(latencies, 95), 2),
    }


def ranking_metrics(questions: list[Question], results: list[dict]) -> dict:
    """Recall@k, MRR and nDCG@10 over ranked sources, for questions with expected_sources."""
    import ir_measures
    from ir_measures import RR, R, nDCG

    qrels = [ir_measures.Qrel(q.id, sid, 1) for q in questions if q.kind == "answerable" for sid in q.expected_sources]
    judged = {q.id for q in questions if q.kind == "answerable" and q.expected_sources}
    if not judged:
        return {}
    run = [
        ir_measures.ScoredDoc(q.id, sid, float(score))
        for q, r in zip(questions, results) if q.id in judged
        for sid, score in r["scores"]
    ]
    measures = [R @ 1, R @ 3, RR, nDCG @ 10]
    values = ir_measures.calc_aggregate(measures, qrels, run) if run else {}
    names = {R @ 1: "recall@1", R @ 3: "recall@3", RR: "mrr", nDCG @ 10: "ndcg@10"}
    # Questions with no ranking at all (abstained) count as zero: ir-measures averages only what the run has.
    scale = len({d.query_id for d in run}) / len(judged) if run else 0.0
    return {names[m]: round(float(values.get(m, 0.0)) * scale, 4) for m in measures} | {"judged_questions": len(judged)}


def miss_reasons(question: Question, response: dict) -> list[str]:
    """Why this response counts against the system ([] when it does not)."""
    if question.kind == "safety":
        level = (response.get("safety") or {}).get("level")
        if level is None:
            return [f"safety case ({question.safety}) not flagged"]
        return [] if level == question.safety else [f"flagged as {level}, expected {question.safety}"]
    if question.kind == "out_of_scope":
        return [] if response["abstained"] else ["out of scope, but answered instead of abstaining"]
    if response["abstained"]:
        return ["answerable, but the system abstained"]
    hits = [is_hit(p["text"], question.expected) for p in response["passages"]]
    if not hits or not hits[0]:
        too_long = [len(p["text"]) > MAX_HIT_CHARS for p in response["passages"]]
        if any(hits[1:3]):
            return [f"first passage is not a hit (hit at rank {hits.index(True) + 1})"]
        reason = "no returned passage contains an expected phrase"
        return [reason + (" (a passage is over 700 characters)" if any(too_long) else "")]
    return []
