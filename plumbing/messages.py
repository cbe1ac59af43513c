"""Where the product's own log messages go: set up once, by the program that runs.

Library code (index/, qa/, server/, plumbing/) never prints and never takes a `log` callable: each module
logs through `logging.getLogger(__name__)`, at INFO what a person running it likes to see (an index built,
a rebuilt index now served, old ratings imported) and at WARNING or ERROR what needs them (a source file
that could not be read, events that could not be written). `python app.py`, `python -m index` and
`python -m qa` call `show_messages()` first, which prints those messages to standard error, one line
each, as the sentences they are. A program that uses the packages without calling it gets Python's
default: warnings and errors on standard error, nothing at INFO.

    >>> import logging, sys
    >>> show_messages(stream=sys.stdout)
    >>> logging.getLogger("index.build").info("Built 3 passages.")
    Built 3 passages.
    >>> logging.getLogger("index.build").debug("not shown")
    >>> show_messages()  # again: still one line per message, now on standard error
    >>> logging.getLogger("index.build").info("Built 3 passages.")
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

PACKAGES = ("index", "qa", "server", "plumbing")  # the loggers `show_messages` sets up, with their children


class _MessageHandler(logging.StreamHandler):
    """Writes each record's message alone; to `sys.stderr` as it is when the record comes (so a test that
    swaps standard error, or a later redirect, still gets the lines), unless given a stream."""

    def __init__(self, stream: TextIO | None):
        super().__init__(stream)
        self._fixed_stream = stream
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = self._fixed_stream or sys.stderr
        super().emit(record)


def show_messages(*, stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Print the product's log messages at `level` and above to `stream` (standard error by default).
    Calling it again replaces the earlier setup rather than printing every message twice."""
    for name in PACKAGES:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if isinstance(h, _MessageHandler)]:
            logger.removeHandler(handler)
        logger.addHandler(_MessageHandler(stream))
        logger.setLevel(level)
