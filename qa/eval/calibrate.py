"""`python -m qa calibrate QUESTIONS.jsonl [MORE.jsonl ...]`: refit the abstention model.

Runs every answerable and out-of-scope question through the real pipeline, collects the
evidence features the abstention model reads (abstain.py), fits the logistic regression,
and sets the threshold that keeps false abstention on the answerable questions at or under
`--max-false-abstention` in each question set given. The regularisation strength is chosen by
cross-validation over the same questions (or given with `--l2`). Writes qa/abstention.json (or --out). Run it after adding or
changing articles, with a question set that covers them; then re-run `python -m qa evaluate`.
"""

from __future__ import annotations

from pathlib import Path

from ..abstain import MODEL_FILE, AbstentionModel
from ..wording import MEDICINE_CAUTION
from .abstention_fit import choose_l2, cross_validate, fit
from ..answerer import Answerer
from .questionset import load_questions


def calibrate(question_files: list[str], answerer: Answerer, *, max_false_abstention: float = 0.05,
              out: Path = MODEL_FILE, l2: float | None = None, repeats: int = 10) -> tuple[AbstentionModel, dict]:
    """Fit and save the model; `l2` None chooses it by cross-validation (abstain.cross_validate)."""
    rows, groups = [], []
    for path in question_files:
        for q in load_questions(path):
            if q.kind == "safety":
                continue
            result = answerer.answer(q.question, list(q.history))
            # A question about changing a prescribed medicine is answered whatever the model says (qa/medicines.py):
            # fitting on it would only teach the model about questions it never decides.
            if result.features is not None and not result.answer["notes"][:1] == [MEDICINE_CAUTION]:
                rows.append((result.features, q.kind == "out_of_scope"))
                groups.append(str(path))
    if l2 is None:
        chosen, tried = choose_l2(rows, groups, max_false_abstention=max_false_abstention, repeats=repeats)
    else:
        chosen = cross_validate(rows, groups, l2=l2, max_false_abstention=max_false_abstention, repeats=repeats)
        tried = [chosen]
    reranker = answerer.reranker if answerer.params.rerank_candidates else None
    model = fit(rows, max_false_abstention=max_false_abstention, groups=groups, fitted_on=" + ".join(question_files),
                l2=chosen.l2, reranker=f"{reranker.name} {reranker.fingerprint}" if reranker is not None else "none")
    model.note += (f"; l2 chosen by cross-validation ({chosen.method}): out-of-scope recall {chosen.oos_recall:.3f}, "
                   f"false abstention {chosen.false_abstention:.3f} on questions left out of the fit")
    model.save(out)
    abstained = [(model.should_abstain(f), oos) for f, oos in rows]
    oos = [a for a, o in abstained if o]
    answerable = [a for a, o in abstained if not o]
    summary = {
        "questions": len(rows),
        "l2": chosen.l2,
        "cv_oos_abstention_recall": round(chosen.oos_recall, 3),
        "cv_false_abstention": round(chosen.false_abstention, 3),
        "cv_method": chosen.method,
        "oos_abstention_recall_on_fit_set": round(sum(oos) / len(oos), 3) if oos else None,
        "false_abstention_on_fit_set": round(sum(answerable) / len(answerable), 3) if answerable else None,
        "threshold": model.threshold,
        "tried": [(r.l2, round(r.oos_recall, 3), round(r.false_abstention, 3)) for r in tried],
    }
    return model, summary
