"""The old thumbs up/down log (feedback.jsonl, before the insights store): read into the store once, by its
content (never twice, whatever path it is found at), then renamed *.migrated.

Not here: the store it is read into (database.py), when the server looks for it (store.py's maintenance).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from .database import LegacyLogError, insert, transaction
from .events import RatingEvent, clip_text, utc_now

log = logging.getLogger(__name__)


def import_feedback_log(conn: sqlite3.Connection, path: Path, *, store_question_text: bool) -> int:
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
            event = _legacy_rating(line, store_question_text=store_question_text)
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
        log.info(f"Imported {len(events)} thumbs up/down from {path} into the insights store"
            + (f" ({skipped} lines that were not ratings skipped)" if skipped else "") + f"; {where}.")
    return len(events)


def _migrated_name(path: Path) -> Path:
    moved = path.with_name(path.name + ".migrated")
    if moved.exists():
        moved = path.with_name(f"{path.name}.migrated-{utc_now():%Y%m%dT%H%M%SZ}")
    return moved


def _legacy_rating(line: str, *, store_question_text: bool) -> RatingEvent | None:
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
        kept = clip_text(text) if store_question_text and entry.get("rating") == "down" and isinstance(text, str) else None
        return RatingEvent(day=when.date().isoformat(), hour=when.hour, rating=entry["rating"],
                           sources=tuple(dict.fromkeys(sources)), question=kept)
    except (ValueError, KeyError, TypeError, AttributeError):  # not JSON, no time, a bad rating or date
        return None
