"""Offline work on the answering pipeline: question sets, evaluation and its reports, baselines, BEIR mode,
and fitting the abstention model. `python -m qa evaluate` and `python -m qa calibrate` run it; nothing here
runs on a visitor's request (qa/ keeps what does).

    questionset.py     read and validate a question set (the contract's JSONL format)
    metrics.py         hit@k, abstention, safety, verbatim checks; ranking metrics via ir-measures
    baselines.py       the full pipeline and the systems it is compared with
    evaluate.py        run a question set through them; thresholds as a gate
    report.py          results.jsonl, run.trec, report.json, report.md, charts
    beir.py            retrieval quality on a BEIR-layout dataset
    abstention_fit.py  fit the abstention model; choose its regularisation by cross-validation
    calibrate.py       refit qa/abstention.json on question sets
"""
