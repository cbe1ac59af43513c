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

Reading is for `python -m qa insights` (report.py): `read_events`. The schema is `SCHEMA` (user_version 1).
Leaves out: what an event holds (events.py) and what the report makes of the events (report.py).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import queue
import sqlite3
import sys
import threading
import time
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable

from qa.errors import QAError

from .events import AnswerEvent, RatingEvent, clip_text, utc_now

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE answers (
    id         INTEGER PRIMARY KEY,
    day        TEXT    NOT NULL,  -- UTC date, YYYY-MM-DD
    hour       INTEGER NOT NULL,  -- UTC hour, 0-23
    channel    TEXT    NOT NULL,  -- 'api' (POST /api/ask, the widget) or 'chat' (the chat page)
    outcome    TEXT    NOT NULL,  -- 'answered', 'abstained', 'safety', 'small_talk'
    detail     TEXT,              -- the safety level or the kind of small talk
    language   TEXT,              -- NULL for English, else 'es', 'fr', 'de', 'pt', 'it', 'other'
    truncated  INTEGER NOT NULL,  -- 1: cut to max_question_chars
    cached     INTEGER NOT NULL,  -- 1: served from the answer cache
    confidence TEXT,              -- 'high', 'medium', 'low', or NULL where nothing was re-ranked
    sources    TEXT    NOT NULL,  -- JSON list of the cited source ids, best first
    requests   TEXT    NOT NULL,  -- JSON list of kinds of request (requests.yaml) behind an abstention
    topics     TEXT    NOT NULL,  -- JSON list of kinds of topic (topics.yaml) behind an abstention
    question   TEXT               -- only with store_question_text = true, only for an abstention
);
CREATE INDEX answers_by_day ON answers (day);
CREATE TABLE ratings (
    id         INTEGER PRIMARY KEY,
    day        TEXT    NOT NULL,
    hour       INTEGER NOT NULL,
    rating     TEXT    NOT NULL,  -- 'up' or 'down'
    sources    TEXT    NOT NULL,  -- JSON list of the source ids the rated answer cited
    question   TEXT               -- only with store_question_text = true, only for a thumbs-down
);
CREATE INDEX ratings_by_day ON ratings (day);
CREATE TABLE imports (            -- old feedback.jsonl files read in, so that none is read twice
    path       TEXT    NOT NULL,
    size       INTEGER NOT NULL,  -- bytes read (whole lines)
    sha256     TEXT    NOT NULL,  -- of those bytes
    ratings    INTEGER NOT NULL,
    day        TEXT    NOT NULL
);
"""
_LIST_COLUMNS = {"sources", "requests", "topics"}
_BOOL_COLUMNS = {"truncated", "cached"}

BUSY_TIMEOUT = 2.0  # seconds the writer waits for another program's lock before counting it a failure
RETRY_SECONDS = 15.0
MAX_PENDING = 10_000  # events kept in memory while writing fails (about 2 MB)
MAINTENANCE_SECONDS = 24 * 3600  # retention and the old feedback log, after the first time at start
# ... and just after each UTC midnight, when a day falls out of keep_days, whenever the server started.
AFTER_MIDNIGHT_SECONDS = 1.0
_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


class InsightsError(QAError):
    """The insights cannot be made: the store is missing, unreadable or of a newer version, or an option is bad."""


class LegacyLogError(InsightsError):
    """The old feedback.jsonl is there but cannot be read: its ratings wait; the store itself is fine."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the database ----------------------------------------------------------------------------------------

def connect(path: Path, *, timeout: float = BUSY_TIMEOUT) -> sqlite3.Connection:
    """A connection to the store at `path`, created with its schema when new. Raises sqlite3 errors and
    OSError as they come (the writer sorts them out), and `InsightsError` for a newer schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), never opened behind our back.
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        _set_wal(conn, timeout)  # the report reads while the server writes
        conn.execute("PRAGMA secure_delete = ON")  # deleted events (retention) are overwritten, not left in free pages
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            with transaction(conn):
                if conn.execute("PRAGMA user_version").fetchone()[0] == 0:  # another process may have won the race
                    for statement in _statements(SCHEMA):  # not executescript: it would commit first
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version != SCHEMA_VERSION:
            raise InsightsError(
                f"{path} was written by a newer version of this program (format {version}; this one reads "
                f"{SCHEMA_VERSION}). Update the program, or set [privacy] events_file to another file.")
    except BaseException:
        conn.close()
        raise
    return conn


def _set_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """PRAGMA journal_mode = WAL, waiting up to `timeout` for other connections: switching a new file to WAL
    fails at once with "database is locked" when another process (a replica starting at the same moment) is
    doing the same, without SQLite's busy handler being asked to wait."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _statements(script: str) -> list[str]:
    """The SQL statements of `script`, split where SQLite says a statement is complete."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return statements


class transaction:
    """`with transaction(conn):` BEGIN IMMEDIATE (the write lock up front, so a busy database fails here,
    not halfway), COMMIT, or ROLLBACK on any error."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind, _value, _traceback):
        if kind is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        return False


def _row(event: AnswerEvent | RatingEvent) -> tuple:
    return tuple(json.dumps(list(v), ensure_ascii=False) if f.name in _LIST_COLUMNS else
                 int(v) if f.name in _BOOL_COLUMNS else v
                 for f, v in zip(fields(event), astuple(event)))


def _insert_sql(kind: type) -> str:
    names = [f.name for f in fields(kind)]
    table = "answers" if kind is AnswerEvent else "ratings"
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


def insert(conn: sqlite3.Connection, events: Iterable[AnswerEvent | RatingEvent]) -> None:
    """Insert `events` (inside the caller's transaction)."""
    events = list(events)
    for kind in (AnswerEvent, RatingEvent):
        rows = [_row(e) for e in events if isinstance(e, kind)]
        if rows:
            conn.executemany(_insert_sql(kind), rows)


def purge(conn: sqlite3.Connection, *, keep_days: int, today: date, keep_text: bool = True) -> int:
    """Delete the events of days before `today - keep_days` (an event from exactly `keep_days` days ago
    stays until tomorrow) and, unless `keep_text` (the clinic's opt-in), the question texts kept while the
    opt-in was on: a clinic that turns it off keeps no text from then on. The number of rows changed."""
    cutoff = (today - timedelta(days=keep_days)).isoformat()
    with transaction(conn):
        deleted = sum(conn.execute(f"DELETE FROM {table} WHERE day < ?", (cutoff,)).rowcount
                      for table in ("answers", "ratings"))
        if not keep_text:
            deleted += sum(conn.execute(f"UPDATE {table} SET question = NULL WHERE question IS NOT NULL").rowcount
                           for table in ("answers", "ratings"))
    if deleted:
        # The deleted rows may still be in the write-ahead log: fold it into the file and empty it.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return deleted


def read_events(conn: sqlite3.Connection, *, since: str) -> tuple[list[AnswerEvent], list[RatingEvent]]:
    """The answer and rating events of UTC days from `since` (YYYY-MM-DD) on, oldest first."""
    found = []
    for kind, table in ((AnswerEvent, "answers"), (RatingEvent, "ratings")):
        names = [f.name for f in fields(kind)]
        rows = conn.execute(f"SELECT {', '.join(names)} FROM {table} WHERE day >= ? ORDER BY day, hour, id", (since,))
        found.append([kind(**{n: tuple(json.loads(v)) if n in _LIST_COLUMNS else bool(v) if n in _BOOL_COLUMNS else v
                              for n, v in zip(names, row)}) for row in rows])
    return found[0], found[1]


def open_for_reading(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """The store for the report (created when `create`: there is an old feedback log to import into it);
    `InsightsError` says what to do when it is missing or unreadable."""
    if not path.exists() and not create:
        raise InsightsError(
            f"There are no insights yet: {path} does not exist. The chat server (python app.py) records one event "
            "per answer there as it serves; or pass --events FILE.")
    try:
        return connect(path)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise InsightsError(f"Cannot read {path} ({exc}). If it is corrupt, the server moves it aside and starts "
                            "a new one when it next starts; if it is locked, try again in a moment.") from exc


# --- the old feedback log --------------------------------------------------------------------------------

def import_feedback_log(conn: sqlite3.Connection, path: Path, *, keep_text: bool,
                        log: Callable[[str], None] = _stderr) -> int:
    """Read the thumbs up/down of an old feedback.jsonl into the store, once, then rename the file
    *.migrated. Lines read before (the same bytes at the start of the file) are never read again, even when
    the rename failed and the file kept growing, and whatever the path it is found at now (another spelling of
    it in clinic.toml, a .migrated file copied back). Returns the number of ratings imported."""
    if not path.is_file():
        return 0
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # another replica sharing it has just imported and renamed it
        return 0
    except OSError as exc:
        raise LegacyLogError(f"Cannot read the old feedback log {path} ({exc}): its thumbs up/down are not imported "
                             "yet. Let the server read it (check its owner and permissions), or move it away.") from exc
    data = data[: data.rfind(b"\n") + 1]  # whole lines only: a line being appended is read next time
    with transaction(conn):
        start = 0
        # By content, not by path: the longest import that is a prefix of this file.
        for size, digest in conn.execute("SELECT size, sha256 FROM imports ORDER BY size DESC"):
            if size <= len(data) and hashlib.sha256(data[:size]).hexdigest() == digest:
                start = size
                break
        events, skipped = [], 0
        for line in data[start:].decode("utf-8", errors="replace").splitlines():
            event = _legacy_rating(line, keep_text=keep_text)
            if event is None:
                skipped += line.strip() != ""
            else:
                events.append(event)
        if start < len(data):
            insert(conn, events)
            conn.execute("INSERT INTO imports (path, size, sha256, ratings, day) VALUES (?, ?, ?, ?, ?)",
                         (str(path), len(data), hashlib.sha256(data).hexdigest(), len(events), utc_now().date().isoformat()))
    moved = _migrated_name(path)
    try:
        os.replace(path, moved)
        where = f"renamed it {moved.name}: delete that once you have checked (retention does not apply to it)"
    except OSError as exc:
        where = f"could not rename it ({exc}); it will not be read twice"
    if start < len(data):
        log(f"Imported {len(events)} thumbs up/down from {path} into the insights store"
            + (f" ({skipped} lines that were not ratings skipped)" if skipped else "") + f"; {where}.")
    return len(events)


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _migrated_name(path: Path) -> Path:
    moved = path.with_name(path.name + ".migrated")
    if moved.exists():
        moved = path.with_name(f"{path.name}.migrated-{utc_now():%Y%m%dT%H%M%SZ}")
    return moved


def _legacy_rating(line: str, *, keep_text: bool) -> RatingEvent | None:
    """A line of the old log ({"time", "rating", "source_ids", "question"?}) as a rating event; None when it
    is not one. The text follows today's rule: kept only for a thumbs-down, and only when opted in."""
    try:
        entry = json.loads(line)
        when = datetime.fromisoformat(entry["time"])
        when = (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
        sources = entry.get("source_ids") or []
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            return None
        text = entry.get("question")
        kept = clip_text(text) if keep_text and entry.get("rating") == "down" and isinstance(text, str) else None
        return RatingEvent(day=when.date().isoformat(), hour=when.hour, rating=entry["rating"],
                           sources=tuple(dict.fromkeys(sources)), question=kept)
    except (ValueError, KeyError, TypeError, AttributeError):  # not JSON, no time, a bad rating or date
        return None


# --- the writer --------------------------------------------------------------------------------------------

@dataclass
class _Flush:
    done: threading.Event
    ok: bool = False


_STOP = object()


class EventStore:
    """The process's events store; `record` from any thread, never blocking. See the module docstring.

    `legacy_feedback`: an old feedback.jsonl to import when found; `keep_legacy_text`: the clinic opted in to
    question text (kept from the old log for thumbs-down only); without it, texts stored earlier are erased
    on start and daily, with retention."""

    def __init__(self, path: str | Path, *, keep_days: int = 90, legacy_feedback: Path | None = None,
                 keep_legacy_text: bool = False, log: Callable[[str], None] = _stderr,
                 clock: Callable[[], datetime] = utc_now, retry_seconds: float = RETRY_SECONDS,
                 max_pending: int = MAX_PENDING, busy_timeout: float = BUSY_TIMEOUT,
                 maintenance_seconds: float = MAINTENANCE_SECONDS):
        self.path = Path(path)
        self.keep_days = keep_days
        self.legacy_feedback = legacy_feedback
        self.keep_legacy_text = keep_legacy_text
        self.retry_seconds = retry_seconds
        self.max_pending = max_pending
        self.busy_timeout = busy_timeout
        self.maintenance_seconds = maintenance_seconds
        self._log, self._clock = log, clock
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
            self._log(f"Insights: the events writer for {self.path} stopped on an unexpected error "
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
                    self._log(f"Insights: {len(self._pending)} events could not be written to {self.path} before "
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
                import_feedback_log(conn, self.legacy_feedback, keep_text=self.keep_legacy_text, log=self._log)
                self._legacy_problem = None
            except LegacyLogError as exc:  # not the store's failure: the events are written all the same
                if self._legacy_problem != str(exc):
                    self._log(str(exc))
                self._legacy_problem = str(exc)
        purge(conn, keep_days=self.keep_days, today=self._clock().astimezone(timezone.utc).date(),
              keep_text=self.keep_legacy_text)

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
            self._log(f"Insights events are being written to {self.path} again{lost}.")
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
            self._log(message)
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
        self._log(f"{self.path} was not a readable database ({exc}): moved it to {aside.name} and started a new one.")
