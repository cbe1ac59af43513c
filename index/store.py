"""The on-disk layout of a built index, and how it is published and checked.

    OUT/
      current -> builds/<build id>     symlink, swapped atomically when a build finishes
      builds/<build id>/
        manifest.json                  format version, model, settings, sources, file checksums
        dense.faiss                    FAISS index of passage vectors
        sentence_vectors.npy           one unit vector per sentence (allow_pickle=False)
        passages.jsonl, sentences.jsonl
        bm25/                          bm25s files
      .build.lock                      held (flock) while a build runs

A build writes a fresh `builds/.tmp-*` directory and only then repoints `current`, so a
crash or kill mid-build leaves the previous index in place, and a server that is reading
the previous build keeps a whole, consistent set of files. The build before the current
one is kept for readers that resolved `current` just before the swap.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from plumbing import files
from .errors import BuildLockedError, IndexCorruptError, IndexMissingError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CURRENT = "current"
BUILDS = "builds"
LOCK = ".build.lock"
TMP_PREFIX = ".tmp-"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(build_dir: Path) -> dict[str, str]:
    """sha256 of every file of a build except the manifest, by relative path."""
    return {
        str(p.relative_to(build_dir)): file_sha256(p)
        for p in sorted(build_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def write_json_atomic(path: Path, data: dict) -> None:
    files.write_json(path, data)


def current_build(out: Path) -> Path:
    """The directory `OUT/current` points at; `IndexMissingError` when there is none."""
    link = Path(out) / CURRENT
    if not link.exists():
        raise IndexMissingError(f"No index in {out}. Build it: python -m index build --out {out}")
    return link.resolve()


def read_manifest(build_dir: Path) -> dict:
    path = build_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"The index manifest {path} is missing. Rebuild: python -m index build --out {build_dir.parent.parent}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"The index manifest {path} is damaged ({exc}). Rebuild: python -m index build --out {build_dir.parent.parent}") from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"The index manifest {path} is not a JSON object. Rebuild: python -m index build --out {build_dir.parent.parent}")
    return manifest


def verify_files(build_dir: Path, manifest: dict) -> None:
    """Check every file against the manifest's checksums before FAISS or numpy touch it."""
    expected = manifest.get("files")
    out = build_dir.parent.parent
    if not isinstance(expected, dict) or not expected:
        raise IndexCorruptError(f"The manifest in {build_dir} lists no files. Rebuild: python -m index build --out {out}")
    for name, digest in expected.items():
        path = build_dir / name
        if not path.is_file():
            raise IndexCorruptError(f"Index file {path} is missing. Rebuild: python -m index build --out {out}")
        if file_sha256(path) != digest:
            raise IndexCorruptError(
                f"Index file {path} is corrupt or truncated (checksum mismatch). Rebuild: python -m index build --out {out}"
            )


@contextmanager
def build_lock(out: Path, *, wait_seconds: float = 0.0):
    """Hold OUT/.build.lock for the duration of a build (released by the OS if the process dies)."""
    out.mkdir(parents=True, exist_ok=True)
    handle = open(out / LOCK, "a+")
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BuildLockedError(
                        f"Another process is building the index in {out}. Wait for it to finish, then try again."
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        handle.close()


def new_build_dir(out: Path) -> Path:
    builds = out / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    for stale in builds.glob(TMP_PREFIX + "*"):  # left by a killed build; we hold the lock
        shutil.rmtree(stale, ignore_errors=True)
    path = builds / f"{TMP_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def publish(out: Path, tmp_dir: Path) -> Path:
    """Move a finished build into place and point `current` at it, atomically."""
    final = tmp_dir.with_name(tmp_dir.name[len(TMP_PREFIX):])
    os.replace(tmp_dir, final)
    _fsync_dir(final.parent)
    link_tmp = out / f".{CURRENT}.{os.getpid()}.tmp"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    previous = (out / CURRENT).resolve() if (out / CURRENT).exists() else None
    os.symlink(os.path.relpath(final, out), link_tmp)
    os.replace(link_tmp, out / CURRENT)
    _fsync_dir(out)
    for old in (out / BUILDS).iterdir():
        if old.is_dir() and old != final and old != previous and not old.name.startswith(TMP_PREFIX):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
