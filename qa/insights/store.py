"""The insights store: one SQLite file (var/events.sqlite3) holding the answer and rating events (events.py).

`EventStore.record(event)` only puts the event on a queue, so a request never waits on the disk and never
fails because of it; one writer thread owns the connection and writes what has queued up in one transaction.
The same thread deletes events older than `keep_days` when it starts and then just after each UTC midnight,
and imports the old thumbs up/down log (feedback.jsonl) whenever it finds one (known by its content: never
twice). Several processes (replicas) may share one file: SQLite's locks and a busy timeout order their
writes, the schema is created under the write lock, and a writer whose file was moved aside or deleted by
another opens the new one.

When writing fails, the answers go on regardless, the failure is logged once (with what to do), and the
events wait in memory (up to `max_pending`, the oldest dropped beyond) to be written once it works again:

- the database locked by another program, the disk full, var/ read-only: retried every `retry_seconds`;
- the file corrupt (or not a database at all): moved aside as `events.sqlite3.corrupt-<UTC time>` (kept, in
  case someone wants what it held) and a new, empty store started;
- the file written by a newer version of this program (schema `user_version`): left alone, nothing written.

Not here: the database itself (database.py: schema, writing, reading, retention), the old log (legacy_log.py),
what an event holds (events.py) and what the report makes of the events (report.py).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from .database import BUSY_TIMEOUT, InsightsError, LegacyLogError, connect, insert, purge, transaction
from .events import AnswerEvent, RatingEvent, utc_now
from .legacy_log import import_feedback_log

log = logging.getLogger(__name__)

RETRY_SECONDS = 15.0
MAX_PENDING = 10_000  # events kept in memory while writing fails (about 2 MB)
MAINTENANCE_SECONDS = 24 * 3600  # retention and the old feedback log, after the first time at start
# ... and just after each UTC midnight, when a day falls out of keep_days, whenever the server started.
AFTER_MIDNIGHT_SECONDS = 1.0
_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


@dataclass
class _Flush:
    done: threading.Event
    ok: bool = False


_STOP = object()


class EventStore:
    """The process's events store; `record` from any thread, never blocking. See the module docstring.

    `legacy_feedback`: an old feedback.jsonl to import when found; `store_question_text`: the clinic opted in to
    question text (kept from the old log for thumbs-down only); without it, texts stored earlier are erased
    on start and daily, with retention."""

    def __init__(self, path: str | Path, *, keep_days: int = 90, legacy_feedback: Path | None = None,
                 store_question_text: bool = False,
                 clock: Callable[[], datetime] = utc_now, retry_seconds: float = RETRY_SECONDS,
                 max_pending: int = MAX_PENDING, busy_timeout: float = BUSY_TIMEOUT,
                 maintenance_seconds: float = MAINTENANCE_SECONDS):
        self.path = Path(path)
        self.keep_days = keep_days
        self.legacy_feedback = legacy_feedback
        self.store_question_text = store_question_text
        self.retry_seconds = retry_seconds
        self.max_pending = max_pending
        self.busy_timeout = busy_timeout
        self.maintenance_seconds = maintenance_seconds
        self._clock = clock
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending: list[AnswerEvent | RatingEvent] = []
        self._conn: sqlite3.Connection | None = None
        self._failing: str | None = None  # what the last failure was, while it lasts (logged once)
        self._lost = 0  # events dropped while failing, this streak
        self._retry_at = 0.0
        self._maintain_at = 0.0  # at once: retention and the old log when the writer starts
        self._legacy_problem: str | None = None  # why the old log could not be read (logged once)
        self._file_id: tuple[int, int] | None = None  # (device, inode) of the file self._conn has open
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="insights-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)  # flush on exit even when no server shutdown hook runs

    @property
    def closed(self) -> bool:
        return self._closed

    def record(self, event: AnswerEvent | RatingEvent) -> None:
        """Queue `event` for the writer. Never blocks, never raises: the answer path must not depend on it."""
        # A writer that died (a bug: its traceback is on stderr) would let the queue grow without end.
        if not self._closed and self._thread.is_alive():
            self._queue.put(event)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded so far has been written; False when writing fails (or too slow)."""
        if self._closed:
            return not self._pending
        marker = _Flush(threading.Event())
        self._queue.put(marker)
        deadline = time.monotonic() + timeout
        while not marker.done.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
            if not self._thread.is_alive() or time.monotonic() >= deadline:  # a dead writer answers no marker
                return False
        return marker.ok

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (one last try) and stop the writer. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        atexit.unregister(self.close)

    # -- the writer thread --

    def _run(self) -> None:
        try:
            self._serve()
        except BaseException as exc:  # logged, then re-raised: the thread dies with its traceback on stderr
            log.error(f"Insights: the events writer for {self.path} stopped on an unexpected error "
                      f"({type(exc).__name__}: {exc}); answers go on, but no more events are recorded until the "
                      "server restarts. This is a bug: please report it with the traceback that follows.")
            raise

    def _serve(self) -> None:
        while True:
            now = time.monotonic()
            wake = min(self._maintain_at, self._retry_at if self._pending else float("inf"))
            try:
                items = [self._queue.get(timeout=max(0.0, min(wake - now, self.maintenance_seconds)))]
            except queue.Empty:
                items = []
            while True:  # take whatever else has queued up: one transaction for all of it
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            flushes = [i for i in items if isinstance(i, _Flush)]
            stop = any(i is _STOP for i in items)
            self._add([i for i in items if isinstance(i, (AnswerEvent, RatingEvent))])
            if time.monotonic() >= self._maintain_at:
                self._maintain_at = time.monotonic() + self._until_next_maintenance()
                if not self._guarded(self._maintain):  # locked or read-only at start: try again soon, not tomorrow
                    self._maintain_at = time.monotonic() + self.retry_seconds
            if self._pending and (flushes or stop or time.monotonic() >= self._retry_at):
                self._guarded(self._write_pending)
            for marker in flushes:
                marker.ok = not self._pending
                marker.done.set()
            if stop:
                if self._pending:
                    log.error(f"Insights: {len(self._pending)} events could not be written to {self.path} before "
                              "the server stopped; they are lost.")
                if self._conn is not None:
                    self._conn.close()
                return

    def _add(self, events: list) -> None:
        self._pending += events
        over = len(self._pending) - self.max_pending
        if over > 0:  # memory is bounded: the oldest go first
            del self._pending[:over]
            self._lost += over

    def _until_next_maintenance(self) -> float:
        """Seconds to the next retention run: just after the next UTC midnight (a day has fallen out of
        keep_days), and at least every maintenance_seconds."""
        now = self._clock().astimezone(timezone.utc)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
        return min(self.maintenance_seconds, (midnight - now).total_seconds() + AFTER_MIDNIGHT_SECONDS)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._file_id != _file_id(self.path):
            # The file was moved or deleted under us: another replica sharing it found it corrupt and moved it
            # aside, or someone removed it. Writing on would go into the moved file, or into nothing.
            self._drop_connection()
        if self._conn is None:
            self._conn = connect(self.path, timeout=self.busy_timeout)
            self._file_id = _file_id(self.path)
        return self._conn

    def _write_pending(self) -> None:
        with transaction(self._connection()) as conn:
            insert(conn, self._pending)
        self._pending.clear()

    def _maintain(self) -> None:
        conn = self._connection()
        if self.legacy_feedback is not None:  # first, so that retention applies to what it brings in too
            try:
                import_feedback_log(conn, self.legacy_feedback, store_question_text=self.store_question_text)
                self._legacy_problem = None
            except LegacyLogError as exc:  # not the store's failure: the events are written all the same
                if self._legacy_problem != str(exc):
                    log.warning(str(exc))
                self._legacy_problem = str(exc)
        purge(conn, keep_days=self.keep_days, today=self._clock().astimezone(timezone.utc).date(),
              store_question_text=self.store_question_text)

    def _guarded(self, step: Callable[[], None]) -> bool:
        """Run a step that touches the disk, sorting out what can go wrong with it (see the module docstring);
        True when it worked."""
        try:
            step()
        except sqlite3.ProgrammingError:  # a bug in this module (bad SQL, bad bindings), not the disk: show it
            raise
        except InsightsError as exc:  # a newer schema: retried only in case someone replaces the file
            self._failed(str(exc))
            return False
        except (sqlite3.DatabaseError, OSError) as exc:
            if getattr(exc, "sqlite_errorname", "") not in _CORRUPT:
                self._failed(self._failure_message(exc))
                return False
            try:
                self._move_aside(exc)
                step()  # once, into the new file
            except (sqlite3.DatabaseError, OSError, InsightsError) as again:
                self._failed(self._failure_message(again))
                return False
        if self._failing is not None:
            lost = f"; {self._lost} events were lost meanwhile (more than {self.max_pending} waited)" if self._lost else ""
            log.info(f"Insights events are being written to {self.path} again{lost}.")
            self._failing, self._lost = None, 0
        self._retry_at = 0.0
        return True

    def _failure_message(self, exc: BaseException) -> str:
        return (f"Could not write insights events to {self.path} ({exc}). Answers are not affected; events wait in "
                f"memory (up to {self.max_pending:,}) and are written when it works again. Check that the disk has "
                f"space, that the server may write to {self.path.parent}, and that no other program holds the file.")

    def _failed(self, message: str) -> None:
        self._drop_connection()
        self._retry_at = time.monotonic() + self.retry_seconds
        if self._failing is None:  # once per failure, not once per event
            log.warning(message)
        self._failing = message

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:  # closing a broken connection: nothing more to save from it
                pass
            self._conn = None

    def _move_aside(self, exc: BaseException) -> None:
        """Rename a corrupt store (and its -wal, -shm) aside, so that the next connection starts a new one."""
        self._drop_connection()
        aside = self.path.with_name(f"{self.path.name}.corrupt-{utc_now():%Y%m%dT%H%M%SZ}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                os.replace(part, Path(f"{aside}{suffix}"))
        log.warning(f"{self.path} was not a readable database ({exc}): moved it to {aside.name} and started a new one.")
