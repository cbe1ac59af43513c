"""Atomic writes (plumbing/files.py): a crash while writing leaves the old file whole and no stray temporary."""

from __future__ import annotations

import json
import os

import pytest

from plumbing import files
from qa.abstain import AbstentionModel


def test_a_write_replaces_the_file_whole(tmp_path):
    target = tmp_path / "report.json"
    files.write_json(target, {"a": 1})
    files.write_json(target, {"a": 2, "b": [1, 2]})
    assert json.loads(target.read_text()) == {"a": 2, "b": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_crash_before_the_rename_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "abstention.json"
    target.write_text("old", encoding="utf-8")

    def crash(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        files.write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["abstention.json"]


def test_the_abstention_weights_are_written_atomically(tmp_path, monkeypatch):
    model = AbstentionModel.neutral()
    path = tmp_path / "m.json"
    model.save(path)
    written = []
    monkeypatch.setattr(files, "publish", lambda tmp, dst: written.append((tmp.name, dst)) or os.rename(tmp, dst))
    model.save(path)
    assert written and written[0][1] == path and written[0][0].startswith(".m.json.")
    assert AbstentionModel.load(path) == model
