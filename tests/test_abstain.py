"""The abstention model: features, fitting, threshold choice, saving and loading."""

from __future__ import annotations

import json

import pytest

from qa.abstain import FEATURES, AbstentionModel, rarity
from qa.eval.abstention_fit import fit


def _features(**values):
    base = {name: 0.5 for name in FEATURES}
    return base | values


def test_rarity_ignores_everyday_words_and_counts_rare_ones():
    assert rarity("would") == 0.0 and rarity("the") == 0.0
    assert rarity("reflexology") == 1.0 and rarity("zzqxj") == 1.0
    assert 0.0 < rarity("cost") < 1.0


def test_fit_separates_and_keeps_false_abstention_within_the_target():
    rows = [(_features(unknown_max=0.0, dense_top=0.7 + i / 100), False) for i in range(20)]
    rows += [(_features(unknown_max=1.0, dense_top=0.3 + i / 100), True) for i in range(20)]
    model = fit(rows, max_false_abstention=0.05)
    refused = [model.should_abstain(f) for f, out in rows if not out]
    caught = [model.should_abstain(f) for f, out in rows if out]
    assert sum(refused) / len(refused) <= 0.05 and all(caught)
    assert model.weights["unknown_max"] > 0 and model.weights["dense_top"] < 0


def test_fit_needs_both_kinds():
    with pytest.raises(ValueError, match="needs both answerable and out-of-scope"):
        fit([(_features(), False), (_features(), False)])


def test_save_load_roundtrip_and_missing_weights(tmp_path):
    model = AbstentionModel({name: 1.0 for name in FEATURES}, bias=-1.0, threshold=0.6)
    model.save(tmp_path / "m.json")
    assert AbstentionModel.load(tmp_path / "m.json") == model
    data = json.loads((tmp_path / "m.json").read_text())
    del data["weights"]["dense_top"]
    (tmp_path / "m.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"lacks weights for \['dense_top'\]; refit it: python -m qa calibrate"):
        AbstentionModel.load(tmp_path / "m.json")


@pytest.mark.parametrize("content, says", [
    (None, "is missing. Restore it"),
    ("{", "cannot be read (JSONDecodeError"),
    (b"\xff\xfe", "cannot be read (UnicodeDecodeError"),
    ("[]", "is not an abstention model (no weights)"),
    ('{"weights": 3}', "is not an abstention model (no weights)"),
])
def test_a_broken_model_file_is_one_error_with_the_command_that_remakes_it(tmp_path, content, says):
    from qa.errors import AbstentionModelError, QAError

    path = tmp_path / "abstention.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(AbstentionModelError) as refused:
        AbstentionModel.load(path)
    assert isinstance(refused.value, QAError) and says in str(refused.value)
    assert str(refused.value).endswith("python -m qa calibrate eval/questions.jsonl eval/holdout.jsonl eval/calibration.jsonl")
    weights = {name: 1.0 for name in FEATURES}
    path.write_text(json.dumps({"weights": weights, "bias": 0.0, "threshold": 0.5, "colour": "red"}), encoding="utf-8")
    with pytest.raises(AbstentionModelError, match="is not an abstention model"):
        AbstentionModel.load(path)


def test_the_shipped_model_loads_and_the_neutral_model_never_abstains():
    assert set(AbstentionModel.load().weights) == set(FEATURES)
    assert not AbstentionModel.neutral().should_abstain(_features(unknown_max=1.0, unsupported_request=1.0, dense_top=0.0))


def _separable_rows(count=30):
    rows = [(_features(unknown_max=0.0, dense_top=0.6 + i / 100), False) for i in range(count)]
    rows += [(_features(unknown_max=1.0, dense_top=0.2 + i / 100), True) for i in range(count)]
    return rows, ["set-a" if i % 2 else "set-b" for i in range(2 * count)]


def test_cross_validation_judges_rows_by_models_fitted_without_them():
    from qa.eval.abstention_fit import cross_validate

    rows, groups = _separable_rows()
    result = cross_validate(rows, groups, l2=0.3, repeats=2)
    # Each threshold sits just above the answerable rows it was fitted on, so a held-out one may cross it.
    assert result.oos_recall == 1.0 and 0.0 <= result.false_abstention <= 0.1
    # Labels that carry no signal: a model fitted on the other rows cannot catch the held-out ones reliably.
    noise = [(values, i % 3 == 0) for i, (values, _) in enumerate(rows)]
    assert cross_validate(noise, groups, l2=0.3, repeats=2).oos_recall < 0.7


def test_choose_l2_prefers_the_strongest_regularisation_that_is_about_as_good():
    from qa.eval.abstention_fit import L2_CHOICES, choose_l2

    rows, groups = _separable_rows()
    chosen, tried = choose_l2(rows, groups, repeats=1)
    assert [r.l2 for r in tried] == list(L2_CHOICES)
    within = [r for r in tried if r.false_abstention <= 0.05]
    if within:  # the strongest regularisation among those within the target and about as good as the best
        best = max(r.oos_recall for r in within)
        assert chosen in within and chosen.oos_recall >= best - 0.01
        assert all(r.l2 <= chosen.l2 for r in within if r.oos_recall >= best - 0.01)
    else:  # none within the target: the one refusing fewest
        assert chosen.false_abstention == min(r.false_abstention for r in tried)


def test_with_several_question_sets_each_is_judged_by_a_model_fitted_on_the_others():
    from qa.eval.abstention_fit import cross_validate

    rows, groups = _separable_rows()
    assert cross_validate(rows, groups, l2=0.3).method.startswith("leave one of 2 question sets out")
    assert cross_validate(rows, ["one set"] * len(rows), l2=0.3, repeats=1).method == "5-fold x 1 reshuffles"
    # A set holding all the out-of-scope rows cannot be left out (nothing out of scope would remain to fit on).
    lopsided = ["answerable only" if not out else "out of scope only" for _, out in rows]
    assert cross_validate(rows, lopsided, l2=0.3, repeats=1).method == "5-fold x 1 reshuffles"
