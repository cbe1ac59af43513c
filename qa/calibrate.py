"""`python -m qa calibrate QUESTIONS.jsonl [MORE.jsonl ...]`: refit the abstention model.

Runs every answerable and out-of-scope question through the real pipeline, collects the
evidence features the abstention model reads (abstain.py), fits the logistic regression,
and sets the threshold that keeps false abstention on the answerable questions at or under
`--max-false-abstention` in each question set given. Writes qa/abstention.json (or --out). Run it after adding or
changing articles, with a question set that covers them; then re-run `python -m qa evaluate`.
"""

from __future__ import annotations

from pathlib import Path

from .abstain import MODEL_FILE, AbstentionModel, fit
from .answerer import Answerer
from .questionset import load_questions


def calibrate(question_files: list[str], answerer: Answerer, *, max_false_abstention: float = 0.05,
              out: Path = MODEL_FILE) -> tuple[AbstentionModel, dict]:
    rows, groups = [], []
    for path in question_files:
        for q in load_questions(path):
            if q.kind == "safety":
                continue
            result = answerer.answer(q.question, list(q.history))
            if result.features is not None:
                rows.append((result.features, q.kind == "out_of_scope"))
                groups.append(str(path))
    model = fit(rows, max_false_abstention=max_false_abstention, groups=groups, fitted_on=" + ".join(question_files))
    model.save(out)
    abstained = [(model.should_abstain(f), oos) for f, oos in rows]
    oos = [a for a, o in abstained if o]
    answerable = [a for a, o in abstained if not o]
    summary = {
        "questions": len(rows),
        "oos_abstention_recall_on_fit_set": round(sum(oos) / len(oos), 3) if oos else None,
        "false_abstention_on_fit_set": round(sum(answerable) / len(answerable), 3) if answerable else None,
        "threshold": model.threshold,
    }
    return model, summary
