"""Command line: `python -m qa ask`, `python -m qa evaluate`, `python -m qa calibrate`.

Typed errors from the libraries become one line on stderr and exit status 2; nothing raises
past this module.
"""

from __future__ import annotations

import argparse
import json
import sys

from index import SearchIndexError

from .errors import QAError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qa", description="Answer questions from the article library.")
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer object as JSON")
    ask.add_argument("--history", help='earlier turns as JSON: [{"role": "user", "content": "..."}, ...]')
    return parser


def _history(raw: str | None) -> list[dict] | None:
    if raw is None:
        return None
    try:
        history = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise QAError(f"--history is not valid JSON ({exc.msg}). Example: '[{{\"role\": \"user\", \"content\": \"I take warfarin\"}}]'") from exc
    if not isinstance(history, list) or not all(isinstance(m, dict) for m in history):
        raise QAError('--history must be a JSON list of {"role": ..., "content": ...} objects.')
    return history


def _ask(args) -> None:
    from .answerer import Answerer

    history = _history(args.history)
    answerer = Answerer.load(log=lambda m: print(m, file=sys.stderr), progress=False)
    answer = answerer.ask(args.question, history)
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        print(answer["answer_markdown"])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "ask":
            _ask(args)
    except (SearchIndexError, QAError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
