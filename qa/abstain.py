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
  before a visit: topics.yaml) in words they never use;
- bank_top: cosine of the nearest question of the question bank (index/bank.py; 0 without one): a question
  close to one the articles were written down as answering is evidence that they answer it.

A logistic regression turns them into the probability that the question is out of scope;
above `threshold` the bot abstains. Weights live in abstention.json and are refit from a
question set with `python -m qa calibrate QUESTIONS.jsonl` (for example after adding
articles); the threshold is set there to keep false abstention on answerable questions
within a target rate, and the regularisation strength is chosen by cross-validation
(qa/eval/abstention_fit.py). This module only computes the features and applies fitted weights.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path


from plumbing import files

from .errors import AbstentionModelError
from .query import PreparedQuestion
from .retrieve import Evidence

MODEL_FILE = Path(__file__).with_name("abstention.json")
# The command that remakes MODEL_FILE (README: "Adding your own articles"), named by every error about it.
REFIT = "python -m qa calibrate eval/questions.jsonl eval/holdout.jsonl eval/calibration.jsonl"
FEATURES = ("dense_top", "dense_standout", "sentence_top", "lexical", "agreement", "unknown_max", "unknown_sum", "known_share",
            "specific_support", "unsupported_request", "uncovered_topic", "rerank_top", "rerank_margin", "bank_top")


@lru_cache(maxsize=1)
def _english_ranks() -> dict[str, int]:
    from .spelling import english_words

    ordered = sorted(english_words().dictionary.items(), key=lambda item: -item[1])
    return {word: rank for rank, (word, _count) in enumerate(ordered)}


EVERYDAY_RANKS = 20_000  # the English words a typo is matched against (rarity 1 from rank 10,000 anyway)


def preload() -> None:
    """Load the English word ranks now, so that no visitor's question waits for them."""
    _english_ranks()
    _everyday_words()


def rarity(word: str) -> float:
    """0 for the ~300 most common English words, 1 from rank ~10,000 on (and for unlisted words).

    >>> rarity("would"), round(rarity("cost"), 2), rarity("reflexology")
    (0.0, 0.34, 1.0)
    """
    rank = _english_ranks().get(word.lower())
    if rank is None:
        rank = _misspelt_rank(word.lower())
    if rank is None:
        return 1.0
    return min(1.0, max(0.0, (math.log10(rank + 1) - 2.5) / 1.5))


@lru_cache(maxsize=1)
def _everyday_words():
    """The spelling fixer (qa/spelling.py) over the everyday English words, counted by how common they are."""
    from collections import Counter

    from .spelling import SpellFixer

    ranks = _english_ranks()
    return SpellFixer(Counter({w: EVERYDAY_RANKS - r for w, r in ranks.items() if r < EVERYDAY_RANKS}))


@lru_cache(maxsize=4096)
def _misspelt_rank(word: str) -> int | None:
    """The rank of the everyday English word `word` is a misspelling of ("diffrence": "difference"), or None: a
    typo of a common word is as common as the word, not a rare term the articles do not know.

    >>> _misspelt_rank("diffrence") == _english_ranks()["difference"]
    True
    """
    fixed = _everyday_words().fix_word(word)
    return None if fixed is None else _english_ranks()[fixed]


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
        "bank_top": evidence.bank_top,
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
                f"{serving!r}. Refit it: {REFIT}")

    def save(self, path: Path = MODEL_FILE) -> None:
        files.write_json(path, asdict(self))  # a crash mid-write never leaves half a model

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "AbstentionModel":
        """The model in `path`; AbstentionModelError, with the command that remakes it, when the file is missing,
        unreadable, not a model, or lacks a feature's weight."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise AbstentionModelError(f"The abstention model {path} is missing. Restore it (git checkout -- {path}) "
                                       f"or refit it: {REFIT}") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise AbstentionModelError(f"The abstention model {path} cannot be read ({exc.__class__.__name__}: {exc}). "
                                       f"Restore it (git checkout -- {path}) or refit it: {REFIT}") from None
        if not isinstance(data, dict) or not isinstance(data.get("weights"), dict):
            raise AbstentionModelError(f"{path} is not an abstention model (no weights). Refit it: {REFIT}")
        missing = set(FEATURES) - set(data["weights"])
        if missing:
            raise AbstentionModelError(f"{path} lacks weights for {sorted(missing)}; refit it: {REFIT}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise AbstentionModelError(f"{path} is not an abstention model ({exc}). Refit it: {REFIT}") from None
