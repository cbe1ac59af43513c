"""Typed errors of the index package.

Every message says what went wrong and what to do about it; the CLIs and app.py print
them as they are. Nothing here catches anything.
"""

from __future__ import annotations


class SearchIndexError(Exception):
    """Base class of every error the index package raises on purpose."""


class SourcesError(SearchIndexError):
    """The sources cannot be read: missing or empty directory, no usable file, clashing ids."""


class UnreadableSource(Exception):
    """A source file that was opened but gives no usable text; the build names it with this reason and goes on.

    Not a `SearchIndexError`: it never reaches the user as an error, only as a line of the build's output.
    """


class ModelNotInstalledError(SearchIndexError):
    """The embedding model package is not installed."""


class IndexMissingError(SearchIndexError):
    """No built index at the given place."""


class IndexCorruptError(SearchIndexError):
    """An index file is missing, truncated or altered (its checksum does not match)."""


class IndexMismatchError(SearchIndexError):
    """The index was built with another model, format version or settings than asked for."""


class BuildLockedError(SearchIndexError):
    """Another process is building the same index right now."""


class BankError(SourcesError):
    """A question bank (`<source_id>.questions.yaml`) is malformed or quotes what its article does not say."""
