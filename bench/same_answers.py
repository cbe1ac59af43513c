"""Did a change leave every answer as it was? Compare two evaluation runs answer by answer.

    python bench/same_answers.py BEFORE_DIR AFTER_DIR

Each directory is what `python -m qa evaluate ... --out DIR` wrote (or a folder of such directories, one
per question set, compared by name). Every results*.jsonl row must have the same id, answer object and
source ranking in both; only `ms` may differ, and the after run's answer objects may have fields the
before run's lack (an added field is named, not counted as a difference). Prints the first differences of
each file and exits 1 when there is any, 0 when every answer is identical.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [{k: v for k, v in json.loads(line).items() if k != "ms"} for line in handle if line.strip()]


def result_files(root: Path) -> dict[str, Path]:
    """results*.jsonl under `root`, by their path relative to it."""
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("results*.jsonl"))}


def added_fields(before: list[dict], after: list[dict]) -> set[str]:
    """Answer-object fields the after run has and the before run does not."""
    return {k for old, new in zip(before, after) for k in (new.get("response") or {}).keys() - (old.get("response") or {}).keys()}


def differences(before: list[dict], after: list[dict]) -> list[str]:
    added = added_fields(before, after)
    after = [{**row, "response": {k: v for k, v in (row.get("response") or {}).items() if k not in added}} for row in after]
    found = []
    if len(before) != len(after):
        found.append(f"{len(before)} rows before, {len(after)} after")
    for old, new in zip(before, after):
        if old != new:
            keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            response_keys = sorted(k for k in (old.get("response") or {}).keys() | (new.get("response") or {}).keys()
                                   if (old.get("response") or {}).get(k) != (new.get("response") or {}).get(k))
            found.append(f"{old.get('id')}: {', '.join(keys)} differ" + (f" (response: {', '.join(response_keys)})"
                                                                       if response_keys else ""))
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    before_root, after_root = map(Path, argv)
    before, after = result_files(before_root), result_files(after_root)
    if not before:
        print(f"No results*.jsonl under {before_root}: give the --out directory of `python -m qa evaluate`.", file=sys.stderr)
        return 2
    problems = 0
    for name in sorted(before.keys() | after.keys()):
        if name not in after or name not in before:
            print(f"{name}: only in {'before' if name in before else 'after'}")
            problems += 1
            continue
        old, new = rows(before[name]), rows(after[name])
        found = differences(old, new)
        added = added_fields(old, new)
        print(f"{name}: {len(old)} answers, " + ("identical" if not found else f"{len(found)} differ")
              + (f" (fields added: {', '.join(sorted(added))})" if added else ""))
        for line in found[:5]:
            print(f"  {line}")
        problems += bool(found)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
