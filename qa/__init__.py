"""Answer questions about acupuncture for neuropathy with verbatim, cited passages.

Public API:
    Answerer.load(settings) -> Answerer     load model + index (building it when stale)
    Answerer.ask(question, history) -> dict the contract's answer object
    load_settings(path=None) -> Settings    clinic.toml + environment (config.py)
"""

from .answerer import Answerer, Result
from .config import Settings, load_settings
from .errors import ConfigError, QAError, QuestionSetError

__all__ = ["Answerer", "ConfigError", "QAError", "QuestionSetError", "Result", "Settings", "load_settings"]
