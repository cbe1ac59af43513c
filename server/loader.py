"""The one answerer a server process uses: loaded on first use (seconds), then kept.

Loading builds the index first when it is missing or stale, then starts qa/watch.py's `IndexWatcher`,
so the server switches to a build that `python -m index build` publishes while it serves.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from qa import Answerer, Settings
from qa.watch import IndexWatcher

log = logging.getLogger(__name__)


class LazyAnswerer:
    """Holds the one `Answerer`, loading it on first use; safe to call from many threads at once."""

    def __init__(self, settings: Settings, *, load: Callable[..., Answerer] = Answerer.load):
        self.settings = settings
        self._load = load
        self._answerer: Answerer | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._answerer is not None

    def get(self) -> Answerer:
        """The answerer; the first call builds the index if needed and loads the model (seconds)."""
        if self._answerer is None:
            with self._lock:
                if self._answerer is None:  # another thread may have loaded it while we waited
                    answerer = self._load(self.settings)
                    # Follow rebuilds made by `python -m index build` while serving (qa/watch.py).
                    IndexWatcher(answerer, self.settings.index_dir).start()
                    self._answerer = answerer
        return self._answerer


def not_ready_message(exc: Exception) -> str:
    """What a visitor is told when the answerer cannot load; the reason goes to the server's log."""
    log.error(f"The answering service could not load: {exc}")
    return "Sorry, the question service is not ready right now. Please try again in a few minutes."
