"""Fitting the abstention model (qa/abstain.py) on question sets: the logistic regression, its threshold, and
the regularisation chosen by cross-validation. Offline work: `python -m qa calibrate` (qa/eval/calibrate.py)
runs it; serving only loads the fitted weights.

With several question sets, each set is judged by a model fitted on the others (`cross_validate`), and
`choose_l2` takes the regularisation that catches the most out-of-scope questions it was not fitted on
while refusing no more than the target share of answerable ones it was not fitted on.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from ..abstain import FEATURES, AbstentionModel


def _lowest_threshold(probabilities: np.ndarray, max_false_abstention: float) -> float:
    """The lowest threshold that refuses at most `max_false_abstention` of these in-scope rows."""
    ordered = np.sort(probabilities)[::-1]
    allowed = int(math.floor(max_false_abstention * len(ordered)))
    return float(ordered[allowed]) + 1e-6 if allowed < len(ordered) else 0.0


def fit(rows: list[tuple[dict[str, float], bool]], *, max_false_abstention: float = 0.05, l2: float = 0.3,
        groups: list[str] | None = None, fitted_on: str = "", reranker: str = "") -> AbstentionModel:
    """Fit on (features, out_of_scope) pairs. The threshold is the lowest that keeps false
    abstention on in-scope rows at or under `max_false_abstention` in every group (question
    set) at once, so one style of asking cannot pay for another."""
    X = np.array([[values[name] for name in FEATURES] for values, _ in rows], dtype=float)
    y = np.array([out for _, out in rows], dtype=float)
    if y.min() == y.max():
        raise ValueError("Calibration needs both answerable and out-of-scope questions.")
    mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-9
    Z = (X - mean) / scale
    w, b = np.zeros(Z.shape[1]), 0.0
    for _ in range(5000):  # plain gradient descent: a dozen features, a few hundred rows
        p = 1 / (1 + np.exp(-(Z @ w + b)))
        w -= 0.3 * (Z.T @ (p - y) / len(y) + l2 * w)
        b -= 0.3 * float((p - y).mean())
    weights = w / scale
    bias = b - float((mean / scale) @ w)
    probs = 1 / (1 + np.exp(-(X @ weights + bias)))
    labels = np.array(groups if groups is not None else [""] * len(rows))
    threshold = max(_lowest_threshold(probs[(y == 0) & (labels == g)], max_false_abstention)
                    for g in sorted(set(labels[y == 0])))
    return AbstentionModel(
        weights={name: round(float(v), 6) for name, v in zip(FEATURES, weights)},
        bias=round(bias, 6),
        threshold=round(threshold, 6),
        fitted_on=fitted_on,
        reranker=reranker,
        note=f"logistic regression, l2={l2}; threshold keeps false abstention <= {max_false_abstention:.0%} in each fit set",
    )


L2_CHOICES = (0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
RECALL_TOLERANCE = 0.01


@dataclass(frozen=True)
class CrossValidation:
    l2: float
    oos_recall: float        # share of out-of-scope rows refused by a model not fitted on them
    false_abstention: float  # share of answerable rows refused by a model not fitted on them
    method: str = ""


def cross_validate(rows: list[tuple[dict[str, float], bool]], groups: list[str], *, l2: float,
                   max_false_abstention: float = 0.05, folds: int = 5, repeats: int = 10, seed: int = 0) -> CrossValidation:
    """Every row judged by models fitted without it.

    With two or more question sets: leave one set out (fit on the others, judge the one left out), averaged over
    the sets, which asks what a new way of asking does to the model. With one set (or when leaving a set out
    would leave no answerable or no out-of-scope rows to fit on): `folds`-fold, reshuffled `repeats` times."""
    names = sorted(set(groups))
    by_set = [([i for i, g in enumerate(groups) if g != name], [i for i, g in enumerate(groups) if g == name]) for name in names]
    if len(names) >= 2 and all(len({rows[i][1] for i in train}) == 2 for train, _ in by_set):
        recalls, refusals = [], []
        for train, held in by_set:
            model = fit([rows[i] for i in train], groups=[groups[i] for i in train], l2=l2,
                        max_false_abstention=max_false_abstention)
            judged = [(model.should_abstain(rows[i][0]), rows[i][1]) for i in held]
            caught = [a for a, out in judged if out]
            refused = [a for a, out in judged if not out]
            recalls.append(sum(caught) / len(caught) if caught else None)
            refusals.append(sum(refused) / len(refused) if refused else None)
        recalls = [r for r in recalls if r is not None]
        refusals = [r for r in refusals if r is not None]
        return CrossValidation(l2, sum(recalls) / max(1, len(recalls)), sum(refusals) / max(1, len(refusals)),
                               f"leave one of {len(names)} question sets out, averaged over the sets")
    rng = random.Random(seed)
    caught, refused = [], []
    for _ in range(repeats):
        order = list(range(len(rows)))
        rng.shuffle(order)
        for fold in range(folds):
            held = set(order[fold::folds])
            train = [i for i in order if i not in held]
            model = fit([rows[i] for i in train], groups=[groups[i] for i in train], l2=l2,
                        max_false_abstention=max_false_abstention)
            for i in held:
                values, out_of_scope = rows[i]
                (caught if out_of_scope else refused).append(model.should_abstain(values))
    return CrossValidation(l2, sum(caught) / max(1, len(caught)), sum(refused) / max(1, len(refused)),
                           f"{folds}-fold x {repeats} reshuffles")


def choose_l2(rows: list[tuple[dict[str, float], bool]], groups: list[str], *, max_false_abstention: float = 0.05,
              choices: tuple[float, ...] = L2_CHOICES, repeats: int = 10) -> tuple[CrossValidation, list[CrossValidation]]:
    """Among the regularisations whose cross-validated false abstention stays within the target, the strongest
    whose cross-validated out-of-scope recall is within RECALL_TOLERANCE of the best (a simpler model unless a
    weaker one catches clearly more); if none stays within the target, the one with the least false abstention."""
    results = [cross_validate(rows, groups, l2=l2, max_false_abstention=max_false_abstention, repeats=repeats) for l2 in choices]
    within = [r for r in results if r.false_abstention <= max_false_abstention]
    if not within:
        return min(results, key=lambda r: r.false_abstention), results
    best_recall = max(r.oos_recall for r in within)
    return max((r for r in within if r.oos_recall >= best_recall - RECALL_TOLERANCE), key=lambda r: r.l2), results
