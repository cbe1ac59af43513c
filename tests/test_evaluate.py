"""Evaluation: question-set validation, metric definitions on hand-worked cases, report files,
thresholds and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qa.errors import QAError, QuestionSetError
from qa.eval.evaluate import check_thresholds, parse_thresholds
from qa.eval.metrics import SourceTexts, answer_metrics, is_hit, miss_reasons, ranking_metrics
from qa.eval.questionset import Question, load_questions
from tests.conftest import REPO, write_corpus


def write_lines(path, lines):
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("line, message", [
    ("{not json", "line 1: not valid JSON"),
    ('["a list"]', "line 1: expected a JSON object, got list"),
    ({"question": "q", "answerable": False}, "line 1: field 'id' must be a non-empty string"),
    ({"id": "a", "question": "", "answerable": False}, "line 1: field 'question' must be a non-empty string"),
    ({"id": "a", "question": "q", "answerable": "yes"}, "line 1: field 'answerable' must be true or false"),
    ({"id": "a", "question": "q", "answerable": True}, "line 1: field 'expected' must be a non-empty list"),
    ({"id": "a", "question": "q", "answerable": False, "safety": "severe"}, "line 1: field 'safety' must be one of emergency, urgent, crisis"),
    ({"id": "a", "question": "q", "answerable": False, "history": [{"role": "bot", "content": "x"}]}, "line 1: field 'history' must be a list"),
    ({"id": "a", "question": "q", "answerable": False, "colour": "red"}, "line 1: unknown field(s) colour"),
])
def test_each_bad_line_is_reported_with_line_and_field(tmp_path, line, message):
    with pytest.raises(QuestionSetError, match="nothing was run") as caught:
        load_questions(write_lines(tmp_path / "q.jsonl", [line]))
    assert message in str(caught.value)


def test_all_problems_are_listed_and_duplicate_ids_caught(tmp_path):
    lines = [{"id": "a", "question": "q", "answerable": False}, {"id": "a", "question": "q2", "answerable": False}, "{x"]
    with pytest.raises(QuestionSetError) as caught:
        load_questions(write_lines(tmp_path / "q.jsonl", lines))
    assert "2 problem(s)" in str(caught.value)
    assert "line 2: field 'id' 'a' repeats line 1" in str(caught.value) and "line 3: not valid JSON" in str(caught.value)


def test_the_shipped_question_sets_are_valid_and_large_enough():
    for name, minimum in (("questions.jsonl", 100), ("holdout.jsonl", 75), ("calibration.jsonl", 100)):
        questions = load_questions(REPO / "eval" / name)
        kinds = [q.kind for q in questions]
        assert len(questions) >= minimum
        assert kinds.count("safety") >= 8 and kinds.count("out_of_scope") >= 20


def test_hit_definition():
    assert is_hit("Most patients report  little to NO pain.", ("little to no pain",))
    assert not is_hit("Most patients report some pain.", ("little to no pain",))
    assert not is_hit("little to no pain " + "x" * 700, ("little to no pain",))  # over 700 characters never counts


def _row(passages=(), abstained=False, safety=None, ms=10.0, scores=()):
    disclaimer = "Not medical advice."
    response = {"question": "q", "answer_markdown": f"... {disclaimer}", "passages": list(passages), "abstained": abstained,
                "safety": {"level": safety, "message": "Call"} if safety else None, "disclaimer": disclaimer}
    return {"response": response, "ms": ms, "scores": list(scores), "scored_ranking": list(scores)}


def _p(text, source_id="a", section="S"):
    return {"text": text, "source_id": source_id, "title": "T", "section": section, "url": None, "score": 1.0}


@pytest.fixture
def sources(tmp_path):
    return SourceTexts(write_corpus(tmp_path / "src", {
        "a.md": "---\ntitle: A\n---\n## S\n\nNeedles cause little to no pain. Sessions last 30 minutes.\n",
        "b.md": "---\ntitle: B\n---\n## Safety\n\nAsk your doctor about blood thinners.\n",
    }))


def test_metrics_on_a_hand_worked_set(sources):
    questions = [
        Question("q1", "hurt?", True, ("little to no pain",), ("a",)),
        Question("q2", "thinners?", True, ("blood thinners",), ("b",)),
        Question("q3", "cost?", False),
        Question("q4", "insurance?", False),
        Question("q5", "chest pain", False, safety="emergency"),
    ]
    rows = [
        _row([_p("Needles cause little to no pain.")], scores=[("a", 0.9), ("b", 0.1)]),      # hit@1
        _row([_p("Sessions last 30 minutes."), _p("Ask your doctor about blood thinners.", "b", "Safety")],
             scores=[("a", 0.8), ("b", 0.7)]),                                                  # hit@3 only
        _row(abstained=True),                                                                   # right abstention
        _row([_p("Sessions last 30 minutes.")], scores=[("a", 0.5)]),                           # should have abstained
        _row(abstained=True, safety="urgent"),                                                  # flagged, wrong level
    ]
    m = answer_metrics(questions, rows, sources)
    assert (m["hit@1"], m["hit@3"], m["false_abstention"]) == (0.5, 1.0, 0.0)
    assert (m["oos_abstention_recall"], m["oos_abstention_precision"]) == (0.5, 1.0)
    assert (m["safety_recall"], m["safety_level_accuracy"]) == (1.0, 0.0)
    assert m["verbatim_attributed"] == 1.0 and m["disclaimer_present"] == 1.0
    r = ranking_metrics(questions, rows)
    assert r["mrr"] == pytest.approx((1 + 1 / 2) / 2) and r["recall@1"] == pytest.approx(0.5)
    assert miss_reasons(questions[1], rows[1]["response"]) == ["first passage is not a hit (hit at rank 2)"]
    assert miss_reasons(questions[3], rows[3]["response"]) == ["out of scope, but answered instead of abstaining"]
    assert miss_reasons(questions[4], rows[4]["response"]) == ["flagged as urgent, expected emergency"]


def test_verbatim_check_catches_an_altered_passage_and_a_wrong_source(sources):
    assert sources.verbatim(_p("Needles cause little to no pain."))
    assert not sources.verbatim(_p("Needles cause no pain at all."))                    # altered
    assert not sources.verbatim(_p("Ask your doctor about blood thinners.", "a"))        # wrong source
    assert not sources.verbatim(_p("Needles cause little to no pain.", section="Safety"))  # wrong section
    assert not sources.verbatim(_p("Needles cause little to no pain.", "missing"))       # unknown source


def test_thresholds_parse_and_check():
    parsed = parse_thresholds("hit3=0.9,false_abstention=0.05")
    checked = check_thresholds({"hit@3": 0.95, "false_abstention": 0.1}, parsed)
    assert [(c["name"], c["ok"]) for c in checked] == [("hit3", True), ("false_abstention", False)]
    with pytest.raises(QAError, match="Invalid threshold: 'hit9=1'. Use key=value with keys: hit1, hit3"):
        parse_thresholds("hit9=1")
    with pytest.raises(QAError, match="'high' is not a number"):
        parse_thresholds("hit3=high")


def run_cli(*args, tmp_path):
    env = {**__import__("os").environ, "QA_INDEX_DIR": str(tmp_path / "index")}
    return subprocess.run([sys.executable, "-m", "qa", "evaluate", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.mark.server
@pytest.mark.model
def test_evaluate_writes_every_report_file_and_gates_on_thresholds(tmp_path):
    questions = write_lines(tmp_path / "q.jsonl", [
        {"id": "q1", "question": "Will the needles hurt?", "answerable": True, "expected": ["little to no pain", "minimal pain"],
         "expected_sources": ["acupuncture-neuropathy-feet", "how-acupuncture-helps-neuropathy"]},
        {"id": "q2", "question": "Can I still get it?", "answerable": True, "expected": ["blood thinners"],
         "history": [{"role": "user", "content": "I take blood thinners."}]},
        {"id": "q3", "question": "What is the capital of France?", "answerable": False},
        {"id": "q4", "question": "I have crushing chest pain", "answerable": False, "safety": "emergency"},
    ])
    out = tmp_path / "out"
    result = run_cli(str(questions), "--out", str(out), "--compare", "--quiet", "--fail-under", "hit3=0.5,safety=1", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("results.jsonl", "report.json", "report.md", "run.trec", "metrics.png", "latency.png",
                 "results-bm25.jsonl", "run-dense-naive.trec"):
        assert (out / name).stat().st_size > 0, name
    rows = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4"]
    assert set(rows[0]) == {"id", "response", "ranking", "ms"} and rows[0]["ranking"][0] in (
        "acupuncture-neuropathy-feet", "how-acupuncture-helps-neuropathy", "acupuncture-peripheral-neuropathy",
        "acupuncture-mechanisms-evidence", "acupuncture-work-for-neuropathy")
    trec = (out / "run.trec").read_text().splitlines()
    qid, q0, doc, rank, score, tag = trec[0].split()
    assert (qid, q0, rank, tag) == ("q1", "Q0", "1", "full")
    report = json.loads((out / "report.json").read_text())
    assert set(report["systems"]) == {"full", "no-bank", "no-rerank", "bm25", "dense-naive"}
    assert report["systems"]["full"]["safety_recall"] == 1.0 and report["passed"] is True
    # The pipeline without re-ranking answers everything it does not triage: it has no abstention model.
    assert report["systems"]["no-rerank"]["oos_abstention_recall"] == 0.0
    assert (out / "results-no-rerank.jsonl").stat().st_size > 0
    assert "| answer hit@1 |" in (out / "report.md").read_text()
    assert "| passages shown (mean, answered) |" in (out / "report.md").read_text()

    failing = run_cli(str(questions), "--out", str(tmp_path / "out2"), "--quiet", "--fail-under", "hit1=1.01", tmp_path=tmp_path)
    assert failing.returncode == 1 and "FAIL hit@1 >= 1.01" in failing.stdout


def test_evaluate_refuses_a_malformed_set_before_running(tmp_path):
    bad = write_lines(tmp_path / "bad.jsonl", [{"id": "a", "question": "q", "answerable": "maybe"}])
    result = run_cli(str(bad), "--out", str(tmp_path / "o"), tmp_path=tmp_path)
    assert result.returncode == 2 and "line 1: field 'answerable' must be true or false" in result.stderr
    assert not (tmp_path / "index").exists()  # nothing ran: not even the index was built
