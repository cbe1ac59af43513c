"""The feedback log: one JSON line per thumbs up/down on an answer in the chat.

Each line has the time, the rating and the ids of the sources the answer cited; the question text only
when the clinic sets `[privacy] store_question_text = true`. Nothing else about a visitor is kept.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


class FeedbackLog:
    """Appends one JSON line per thumbs up/down. Stores the question text only when the clinic opted in."""

    def __init__(self, path: Path, *, store_question_text: bool):
        self.path = path
        self.store_question_text = store_question_text
        self._lock = threading.Lock()

    def record(self, rating: str, source_ids: list[str], question: str | None = None) -> dict:
        entry: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "rating": rating,
            "source_ids": source_ids,
        }
        if self.store_question_text and question:
            entry["question"] = question
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        # One write of one line in append mode: lines from concurrent writers never interleave.
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(line)
        return entry
