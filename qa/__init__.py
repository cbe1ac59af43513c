"""Answer questions about acupuncture for neuropathy with verbatim, cited passages.

Public API:
    Answerer.load(settings) -> Answerer     load model + index (building it when stale)
    Answerer.ask(question, history) -> dict the contract's answer object
    load_settings(path=None) -> Settings    clinic.toml + environment (config.py)

Importing `qa` (or one of its light modules: errors, config, markup, wording) loads no model runtime, FAISS or
BM25: `Answerer` and `Result` are imported from qa/answerer.py on first use (PEP 562).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from .config import Settings, load_settings
from .errors import ConfigError, QAError, QuestionSetError

if TYPE_CHECKING:  # what editors and type checkers see; at run time, __getattr__ below
    from .answerer import Answerer, Result

_HEAVY = {"Answerer": "answerer", "Result": "answerer"}

__all__ = ["Answerer", "ConfigError", "QAError", "QuestionSetError", "Result", "Settings", "load_settings"]


def __getattr__(name: str):
    if name not in _HEAVY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_HEAVY[name]}", __name__), name)
    globals()[name] = value
    return value
