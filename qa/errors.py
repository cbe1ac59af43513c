"""Typed errors of the qa package (index errors come from index.errors)."""

from __future__ import annotations


class QAError(Exception):
    """Base class of the errors qa raises on purpose."""


class ConfigError(QAError):
    """The clinic settings file or an environment variable holds a bad value."""


class QuestionSetError(QAError):
    """A question-set file is malformed; the message names the line and the field."""


class RerankerModelError(QAError):
    """The re-ranking model's files are missing, of another version, or altered."""


class AbstentionModelError(QAError, ValueError):
    """The abstention weights do not fit this pipeline (missing features, another re-ranker): refit them."""
