"""The insights store's database: the SQLite schema, connecting (WAL, a busy timeout), writing, reading and
retention of the answer and rating events (events.py), and the insights errors.

One file (var/events.sqlite3) that several processes may share: SQLite's locks and the busy timeout order
their writes, and the schema is created under the write lock. Reading is for `python -m qa insights`
(report.py) and `python -m qa bank suggest`: `open_for_reading`, `read_events`. The schema is `SCHEMA`.

Not here: the writer thread that the server records through (store.py), the old feedback log (legacy_log.py).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import astuple, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Iterable

from qa.errors import QAError

from .events import AnswerEvent, RatingEvent

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


class InsightsError(QAError):
    """The insights cannot be made: the store is missing, unreadable or of a newer version, or an option is bad."""


class LegacyLogError(InsightsError):
    """The old feedback.jsonl is there but cannot be read: its ratings wait; the store itself is fine."""



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


def purge(conn: sqlite3.Connection, *, keep_days: int, today: date, store_question_text: bool = True) -> int:
    """Delete the events of days before `today - keep_days` (an event from exactly `keep_days` days ago
    stays until tomorrow) and, unless `store_question_text` (the clinic's opt-in), the question texts kept while the
    opt-in was on: a clinic that turns it off keeps no text from then on. The number of rows changed."""
    cutoff = (today - timedelta(days=keep_days)).isoformat()
    with transaction(conn):
        deleted = sum(conn.execute(f"DELETE FROM {table} WHERE day < ?", (cutoff,)).rowcount
                      for table in ("answers", "ratings"))
        if not store_question_text:
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
