"""Command line: `python -m qa ask`, `evaluate`, `calibrate`, `insights` and `bank` (check, add, suggest).

Typed errors from the libraries become one line on stderr and exit status 2; nothing raises
past this module. What the libraries log (progress, warnings) prints to stderr too, one line each
(plumbing/messages.py); results print to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys

from index import SearchIndexError
from plumbing.messages import show_messages

from .errors import QAError
from .history import validate as validate_history


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qa", description="Answer questions from the article library.")
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer object as JSON")
    ask.add_argument("--history", help='earlier turns as JSON: [{"role": "user", "content": "..."}, ...]')
    evaluate = commands.add_parser("evaluate", help="run a question set (or a BEIR dataset) and write metrics and a report")
    evaluate.add_argument("questions", nargs="?", help="question set, JSONL (see the contract)")
    evaluate.add_argument("--out", required=True, help="directory for results.jsonl, report.json, report.md, run.trec, charts")
    evaluate.add_argument("--sources", help="sources directory (default: from settings)")
    evaluate.add_argument("--index", help="index directory (default: from settings)")
    evaluate.add_argument("--compare", action="store_true", help="also run the pipeline without re-ranking, and the BM25-only and naive dense baselines")
    evaluate.add_argument("--fail-under", help='thresholds, e.g. "hit3=0.9,oos=0.9,false_abstention=0.05"; exit 1 when one fails')
    evaluate.add_argument("--beir", help="a BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/test.tsv)")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")
    calibrate = commands.add_parser("calibrate", help="refit the abstention model (qa/abstention.json) on question sets")
    calibrate.add_argument("questions", nargs="+", help="question sets (JSONL) with answerable and out-of-scope questions")
    calibrate.add_argument("--max-false-abstention", type=float, default=0.05, help="target share of answerable questions refused (default: %(default)s)")
    calibrate.add_argument("--out", help="where to write the model (default: qa/abstention.json)")
    calibrate.add_argument("--l2", type=float, help="regularisation strength (default: chosen by cross-validation)")
    calibrate.add_argument("--cv-repeats", type=int, default=10, help="reshuffles of the 5-fold cross-validation (default: %(default)s)")
    insights = commands.add_parser("insights", help="what visitors asked, from the server's events: a summary, and insights.md with charts")
    insights.add_argument("--since", default="30d", help="how far back: days or weeks, like 30d or 4w (default: %(default)s, today included)")
    insights.add_argument("--out", help="directory for insights.md and its charts (default: insights/ beside the events file, var/insights/)")
    insights.add_argument("--events", help="the events store (default: [privacy] events_file, var/events.sqlite3)")
    bank = commands.add_parser("bank", help="the question bank beside the articles: check it, add to it, or list what to add")
    bank_commands = bank.add_subparsers(dest="bank_command", required=True)
    bank_check = bank_commands.add_parser("check", help="validate every <source_id>.questions.yaml (as the build does)")
    bank_check.add_argument("--sources", help="sources directory (default: from settings)")
    bank_add = bank_commands.add_parser("add", help="append one question, checked, to an article's bank")
    bank_add.add_argument("question", help="the question as a patient types it")
    bank_add.add_argument("--source", required=True, help="the article's source id (its file name without extension)")
    bank_add.add_argument("--quote", required=True, action="append",
                          help="a sentence of the article that answers it, word for word (repeat for two)")
    bank_add.add_argument("--sources", help="sources directory (default: from settings)")
    bank_suggest = bank_commands.add_parser("suggest", help="questions a reviewer should consider adding, with ready `bank add` lines")
    bank_suggest.add_argument("--results", help="an evaluation's results.jsonl or report.json: its answerable misses")
    bank_suggest.add_argument("--events", help="the insights store (default: [privacy] events_file); texts only when store_question_text is on")
    bank_suggest.add_argument("--since", default="30d", help="how far back in the store (default: %(default)s)")
    return parser


def _bank(args) -> None:
    from pathlib import Path

    from . import bank
    from .config import load_settings

    settings = load_settings()
    sources = Path(getattr(args, "sources", None) or settings.sources_dir)
    if args.bank_command == "check":
        print(bank.check(sources))
        return
    if args.bank_command == "add":
        path = bank.add(sources, args.source, args.question, args.quote)
        print(f"Added to {path}. Rebuild the index to use it: python -m index build")
        return
    from .insights.report import parse_since

    days = parse_since(args.since)
    asked = bank.misses_of(Path(args.results)) if args.results else []
    events = Path(args.events) if args.events else settings.events_file
    if settings.store_question_text or args.events:
        if events.exists():
            asked += bank.stored_questions(events, days=days)
    elif not args.results:
        raise QAError("Nothing to suggest from: give --results of an evaluation, or turn on [privacy] store_question_text "
                      "so that the questions the articles did not cover are kept for review.")
    from .answerer import Answerer

    answerer = Answerer.load(settings, progress=False)
    suggestions = bank.suggest(asked, answerer)
    print(f"{len(suggestions)} question(s) to review. Add one only if the sentence really answers it, in the patient's "
          "words, and never copy a question from a set that judges the bank.\n")
    for s in suggestions:
        print(f"- {s.question}\n  ({s.why})")
        for source_id, sentence, cosine in s.candidates:
            print(f"    {cosine:.2f} {source_id}: {sentence[:140]}")
        print(f"  {s.add_line()}\n")


def _history(raw: str | None) -> list[dict] | None:
    if raw is None:
        return None
    try:
        history = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise QAError(f"--history is not valid JSON ({exc.msg}). Example: '[{{\"role\": \"user\", \"content\": \"I take warfarin\"}}]'") from exc
    return validate_history(history, name="--history")  # HistoryError (a QAError) names the message at fault


def _ask(args) -> None:
    from .answerer import Answerer

    history = _history(args.history)
    answerer = Answerer.load(progress=False)
    answer = answerer.ask(args.question, history)
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        print(answer["answer_markdown"])


def _evaluate(args) -> int:
    from .config import load_settings
    from .eval.evaluate import evaluate, settings_for
    from .eval.report import summary_table

    settings = settings_for(load_settings(), sources=args.sources, index=args.index)
    if args.beir:
        from .eval.beir import evaluate_beir

        evaluate_beir(args.beir, args.out, index_dir=args.index, progress=not args.quiet)
        from pathlib import Path

        print(Path(args.out, "report.md").read_text(encoding="utf-8"))
        return 0
    if not args.questions:
        raise QAError("Give a question set (QUESTIONS.jsonl) or --beir DIR.")
    report = evaluate(args.questions, args.out, settings, compare=args.compare, fail_under=args.fail_under,
                      progress=not args.quiet)
    print(summary_table(report["systems"]))
    print(f"\nReport: {args.out}/report.md ({len(report['misses'])} misses listed)")
    for threshold in report["thresholds"]:
        mark = "ok  " if threshold["ok"] else "FAIL"
        print(f"{mark} {threshold['metric']} {threshold['op']} {threshold['limit']} (got {threshold['value']})")
    return 0 if report["passed"] else 1


def _calibrate(args) -> None:
    from pathlib import Path

    from .abstain import MODEL_FILE, AbstentionModel
    from .answerer import Answerer
    from .eval.calibrate import calibrate

    if not 0 <= args.max_false_abstention < 1:
        raise QAError(f"--max-false-abstention must be between 0 and 1, got {args.max_false_abstention}")
    if args.l2 is not None and args.l2 < 0:
        raise QAError(f"--l2 must be 0 or more, got {args.l2}")
    if args.cv_repeats < 1:
        raise QAError(f"--cv-repeats must be 1 or more, got {args.cv_repeats}")
    answerer = Answerer.load(abstention=AbstentionModel.neutral(), progress=False)
    out = Path(args.out) if args.out else MODEL_FILE
    model, summary = calibrate(args.questions, answerer, max_false_abstention=args.max_false_abstention, out=out,
                               l2=args.l2, repeats=args.cv_repeats)
    print(f"Wrote {out}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))


def _insights(args) -> None:
    from pathlib import Path

    from .config import load_settings
    from .insights.report import make_report, parse_since

    days = parse_since(args.since)  # before anything is read: a typo is reported at once
    report = make_report(load_settings(), days=days, events_path=Path(args.events) if args.events else None,
                         out=Path(args.out) if args.out else None)
    print(report.text)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    show_messages()  # the libraries' progress and warnings, one line each on stderr
    try:
        if args.command == "ask":
            _ask(args)
        elif args.command == "evaluate":
            return _evaluate(args)
        elif args.command == "calibrate":
            _calibrate(args)
        elif args.command == "insights":
            _insights(args)
        elif args.command == "bank":
            _bank(args)
    except (SearchIndexError, QAError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
