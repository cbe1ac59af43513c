"""Writing files so that a crash never leaves a half-written one: write a temporary file beside the target,
flush it to disk, then rename it over the target in one step (`os.replace` is atomic on POSIX and Windows).
Readers see the old file or the new one, never a mix. Used for the index manifest, the ONNX export, the
abstention weights and every evaluation output.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "report.json"
    >>> write_json(target, {"hit@1": 0.75})
    >>> print(target.read_text(), end="")
    {
      "hit@1": 0.75
    }
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


def temporary_beside(path: Path) -> Path:
    """A name for a temporary file next to `path` (same folder, so the rename stays on one file system)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def publish(tmp: Path, path: Path) -> None:
    """Flush `tmp` to disk and rename it over `path`."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    path = Path(path)
    tmp = temporary_beside(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, data, *, indent: int = 2) -> None:
    write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")
