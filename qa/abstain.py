"""When the articles do not answer: a small calibrated model over retrieval evidence.

Features (all cheap, all computed for every question):

- dense_top, sentence_top: cosine of the best passage and the best sentence;
- dense_standout: how far the best passage stands out, in standard deviations above the question's
  mean cosine with all passages: a question merely in the articles' vocabulary is near all of them
  (with it, out-of-scope recall judged by leaving one of the three question sets out goes from 0.66
  to 0.71 at the same 4 % false abstention);
- lexical: best BM25 score, squashed into [0, 1);
- agreement: share of the dense top 5 that BM25 also ranks top 5;
- unknown_max, unknown_sum: the question's key terms that the corpus (and the glossary)
  has never seen, each weighted by how rare it is in everyday English, so that an unknown
  "medicare" or "cupping" counts fully and an unknown "would" or "somewhere" hardly at all;
- known_share: share of key terms the corpus knows;
- specific_support: the same over the specific terms only (those not found all over the corpus),
  each weighted by its rarity in English: what the question asks about, beyond "acupuncture"
  and "neuropathy", and whether the articles know it;
- unsupported_request: 1 when the question is a kind of request the articles are not meant for
  (prices, insurance, drug doses, booking, writing tasks: requests.yaml) in words they never use;
- rerank_top, rerank_margin: the cross-encoder's best logit among the candidates it read, and how far
  it stands above the mean of the others (qa/rerank.py): it reads question and passage together, so
  a passage that merely shares the question's words scores low;
- uncovered_topic: 1 when the question names a kind of topic the articles do not cover (other
  conditions, pregnancy, children and pets, other therapies, neuropathy drugs, what to wear or eat
  before a visit: topics.yaml) in words they never use.

A logistic regression turns them into the probability that the question is out of scope;
above `threshold` the bot abstains. Weights live in abstention.json and are refit from a
question set with `python -m qa calibrate QUESTIONS.jsonl` (for example after adding
articles); the threshold is set there to keep false abstention on answerable questions
within a target rate, and the regularisation strength is chosen by cross-validation
(`choose_l2`; with several question sets, each set is judged by a model fitted on the others):
the one that catches the most out-of-scope questions it was not fitted on, while refusing no
more than the target share of answerable ones it was not fitted on.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import AbstentionModelError
from .query import PreparedQuestion
from .retrieve import Evidence

MODEL_FILE = Path(__file__).with_name("abstention.json")
FEATURES = ("dense_top", "dense_standout", "sentence_top", "lexical", "agreement", "unknown_max", "unknown_sum", "known_share",
            "specific_support", "unsupported_request", "uncovered_topic", "rerank_top", "rerank_margin")


@lru_cache(maxsize=1)
def _english_ranks() -> dict[str, int]:
    from .spelling import english_words

    ordered = sorted(english_words().dictionary.items(), key=lambda item: -item[1])
    return {word: rank for rank, (word, _count) in enumerate(ordered)}


def preload() -> None:
    """Load the English word ranks now, so that no visitor's question waits for them."""
    _english_ranks()


def rarity(word: str) -> float:
    """0 for the ~300 most common English words, 1 from rank ~10,000 on (and for unlisted words).

    >>> rarity("would"), round(rarity("cost"), 2), rarity("reflexology")
    (0.0, 0.34, 1.0)
    """
    rank = _english_ranks().get(word.lower())
    if rank is None:
        return 1.0
    return min(1.0, max(0.0, (math.log10(rank + 1) - 2.5) / 1.5))


def features(prepared: PreparedQuestion, evidence: Evidence) -> dict[str, float]:
    weights = [rarity(t) for t in prepared.unknown_terms]
    key = len(prepared.key_terms)
    return {
        "dense_top": evidence.dense_top,
        "dense_standout": evidence.dense_standout,
        "sentence_top": evidence.sentence_top,
        "lexical": evidence.lexical_top / (evidence.lexical_top + 6.0),
        "agreement": evidence.agreement,
        "unknown_max": max(weights, default=0.0),
        "unknown_sum": sum(weights),
        "known_share": (key - len(prepared.unknown_terms)) / key if key else 1.0,
        "specific_support": _specific_support(prepared),
        "unsupported_request": 1.0 if prepared.unsupported_requests else 0.0,
        "uncovered_topic": 1.0 if prepared.uncovered_topics else 0.0,
        "rerank_top": evidence.rerank_top,
        "rerank_margin": evidence.rerank_margin,
    }


def _specific_support(prepared: PreparedQuestion) -> float:
    unknown = set(prepared.unknown_terms)
    weights = {t: 0.1 + rarity(t) for t in prepared.specific_terms}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t not in unknown) / total if total else 1.0


@dataclass
class AbstentionModel:
    weights: dict[str, float]
    bias: float
    threshold: float
    fitted_on: str = ""
    note: str = ""
    reranker: str = ""  # "name fingerprint" of the re-ranker whose scores the weights were fitted on

    @classmethod
    def neutral(cls) -> "AbstentionModel":
        """A model that never abstains: for calibration runs, which only collect features."""
        return cls({name: 0.0 for name in FEATURES}, bias=-50.0, threshold=0.5, note="neutral: never abstains")

    def probability(self, values: dict[str, float]) -> float:
        z = self.bias + sum(self.weights[name] * values[name] for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-z))

    def should_abstain(self, values: dict[str, float]) -> bool:
        return self.probability(values) >= self.threshold

    def check_reranker(self, reranker) -> None:
        """Weights fitted on one re-ranker's scores mean nothing for another's (or for none)."""
        serving = f"{reranker.name} {reranker.fingerprint}" if reranker is not None else "none"
        if self.reranker and self.reranker != serving:
            raise AbstentionModelError(
                f"The abstention model was fitted on the re-ranker {self.reranker!r}, but this pipeline re-ranks with "
                f"{serving!r}. Refit it: python -m qa calibrate eval/questions.jsonl eval/holdout.jsonl eval/calibration.jsonl")

    def save(self, path: Path = MODEL_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "AbstentionModel":
        data = json.loads(path.read_text(encoding="utf-8"))
        missing = set(FEATURES) - set(data.get("weights", {}))
        if missing:
            raise AbstentionModelError(f"{path} lacks weights for {sorted(missing)}; refit it: python -m qa calibrate eval/questions.jsonl eval/holdout.jsonl eval/calibration.jsonl")
        return cls(**data)


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
