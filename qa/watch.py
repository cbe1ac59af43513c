"""Follow a rebuilt index while serving: poll `OUT/current` and swap the new build in.

`python -m index build` in another process publishes a new build by repointing the
`current` link (index/store.py). `IndexWatcher` notices within `interval` seconds, loads and
verifies the new build off the request path, and hands it to `Answerer.use_index`, which
replaces everything index-dependent in one assignment: a request in flight finishes on the
index it started with. A build that fails to load is reported and the old index stays.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from index import SearchIndex, SearchIndexError
from index.store import current_build
from plumbing.environment import config_file

from .answerer import Answerer
from .coverage import coverage_warnings

log = logging.getLogger(__name__)


class IndexWatcher:
    def __init__(self, answerer: Answerer, out: str | Path, *, interval: float = 2.0):
        self.answerer = answerer
        self.out = Path(out)
        self.interval = interval
        self._seen = answerer.index.path.resolve()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """Swap in a newer build if there is one; True when a swap happened."""
        try:
            build = current_build(self.out)
        except SearchIndexError:
            return False
        if build == self._seen:
            return False
        try:
            index = SearchIndex.load(self.out, model=self.answerer.embedder.name)
        except SearchIndexError as exc:
            log.error(f"A new index build in {self.out} could not be loaded; still serving the previous one. ({exc})")
            self._seen = build  # do not retry a broken build every few seconds; a newer one will be noticed
            return False
        self.answerer.use_index(index)
        self._seen = index.path.resolve()
        log.info(f"Now answering from the rebuilt index {index.path.name} ({len(index.passages)} passages).")
        for warning in coverage_warnings(self.answerer.coverage, config_file=config_file()[0]):  # an article added or removed
            log.warning(warning)
        return True

    def start(self) -> "IndexWatcher":
        self._thread = threading.Thread(target=self._run, name="index-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()
