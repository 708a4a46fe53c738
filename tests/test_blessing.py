"""The blessing rule (tasks/judging.py, with each label task's decide) on answers made up here, each test one
gate: remove the gate and its test fails. The pipeline-level tests are in tests/test_blessing_gate.py."""
import math

import numpy as np
import pytest

from tasks import judging, multi_label, single_label

RULE = judging.Rule(accuracy_floor=0.5, majority_margin=0.0, tolerance=0.02, alpha=0.05, per_class=True, seed=0)
CLASSES = np.array(["negative", "neutral", "positive"])


def _labels(n, shares=(0.4, 0.35, 0.25), seed=1):
    return np.random.default_rng(seed).choice(CLASSES, size=n, p=shares)


def _answers(labels, accuracy, seed):
    """Right on about `accuracy` of the texts (a random wrong class on the others)."""
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(labels)) >= accuracy
    shifted = CLASSES[(np.searchsorted(CLASSES, labels) + rng.integers(1, 3, len(labels))) % 3]
    return np.where(wrong, shifted, labels)


def _flip(answers, labels, count, seed):
    """The same answers, `count` of the right ones made wrong."""
    changed = answers.copy()
    right = np.flatnonzero(answers == labels)
    for i in np.random.default_rng(seed).choice(right, count, replace=False):
        changed[i] = CLASSES[(np.searchsorted(CLASSES, labels[i]) + 1) % 3]
    return changed


def test_a_candidate_above_the_floor_but_clearly_worse_than_the_baseline_is_refused():
    labels = _labels(2000)
    baseline = _answers(labels, 0.80, seed=2)
    candidate = _flip(baseline, labels, 120, seed=3)  # 6 points worse, still far above the floor
    decision = single_label.decide(labels, candidate, baseline, RULE)
    assert decision.accuracy > RULE.accuracy_floor and decision.accuracy_lower > decision.majority_share
    assert decision.difference == pytest.approx(-0.06)
    assert not decision.blessed
    assert f"lower bound {decision.difference_lower:+.4f} is not above -0.02" in decision.reason


def test_a_candidate_within_the_tolerance_is_blessed():
    labels = _labels(5000)
    baseline = _answers(labels, 0.80, seed=4)
    candidate = _flip(baseline, labels, 20, seed=5)  # 0.4 points worse, on few texts
    decision = single_label.decide(labels, candidate, baseline, RULE)
    assert decision.blessed, decision.reason
    assert -RULE.tolerance < decision.difference_lower < decision.difference == pytest.approx(-0.004)
    assert (decision.candidate_only, decision.baseline_only) == (0, 20)


def test_a_model_that_answers_one_class_is_never_blessed_though_above_the_floor():
    labels = _labels(2000, shares=(0.6, 0.25, 0.15))
    one_class = np.full(len(labels), "negative")
    decision = single_label.decide(labels, one_class, None, RULE)
    assert decision.accuracy == pytest.approx(decision.majority_share) and decision.accuracy > RULE.accuracy_floor
    assert not decision.blessed
    assert "does not beat the largest class's share" in decision.reason
    learned = single_label.decide(labels, _answers(labels, 0.7, seed=6), None, RULE)
    assert learned.blessed and learned.reason.endswith("blessed (no blessed model before it)")


def test_the_floor_refuses_a_model_below_it():
    labels = _labels(2000, shares=(0.34, 0.33, 0.33))
    decision = single_label.decide(labels, _answers(labels, 0.45, seed=7), None, RULE)
    assert decision.accuracy_lower > decision.majority_share  # only the floor stands in its way
    assert not decision.blessed and "is below the floor 0.5" in decision.reason


def test_a_significant_drop_in_one_class_is_refused_unless_the_check_is_off():
    labels = _labels(3000)
    baseline = _answers(labels, 0.80, seed=8)
    candidate = baseline.copy()
    positive = np.flatnonzero((labels == "positive") & (baseline == labels))[:150]
    candidate[positive] = "neutral"  # positive's recall falls by ~0.2 ...
    fixed = np.flatnonzero((labels != "positive") & (baseline != labels))[:150]
    candidate[fixed] = labels[fixed]  # ... while as many other texts are now right: accuracy unchanged
    decision = single_label.decide(labels, candidate, baseline, RULE)
    assert decision.difference == pytest.approx(0.0)
    assert not decision.blessed and "class 'positive' recall" in decision.reason
    assert [row["class"] for row in decision.per_class if row["dropped"]] == ["positive"]
    off = single_label.decide(labels, candidate, baseline, judging.Rule(**{**RULE.__dict__, "per_class": False}))
    assert off.blessed and off.per_class == []


def test_too_small_an_eval_split_says_how_many_texts_would_resolve_the_tolerance():
    labels = _labels(200)
    baseline = _answers(labels, 0.75, seed=9)
    candidate = _answers(labels, 0.75, seed=10)  # as good, on other texts: many disagreements
    decision = single_label.decide(labels, candidate, baseline, RULE)
    half_width = decision.difference - decision.difference_lower
    assert half_width > RULE.tolerance
    assert decision.examples_needed == math.ceil(200 * (half_width / RULE.tolerance) ** 2)
    assert (f"too small to resolve the tolerance 0.02: it would take about {decision.examples_needed} eval texts"
            in decision.reason)


def test_the_paired_bound_is_the_normal_approximation_of_the_discordant_pairs():
    """60 texts only the candidate got right, 40 only the baseline, of 1,000: the difference is +0.02 and its
    95% one-sided lower bound about 0.02 - 1.645 x sd / sqrt(n) (McNemar's variance)."""
    labels = np.array(["a"] * 1000)
    candidate = np.array(["a"] * 700 + ["a"] * 60 + ["b"] * 40 + ["b"] * 200)
    baseline = np.array(["a"] * 700 + ["b"] * 60 + ["a"] * 40 + ["b"] * 200)
    rule = judging.Rule(**{**RULE.__dict__, "accuracy_floor": 0.0, "majority_margin": -1.0})
    decision = single_label.decide(labels, candidate, baseline, rule)
    sd = math.sqrt((60 + 40) / 1000 - 0.02 ** 2)
    assert decision.difference == pytest.approx(0.02)
    assert decision.difference_lower == pytest.approx(0.02 - 1.645 * sd / math.sqrt(1000), abs=0.002)
    assert single_label.decide(labels, candidate, baseline, rule) == decision  # seeded: the same every time


# Multi-label (decide_multi_label): macro F1, each test one gate.
LABELS = ("billing", "delivery", "refund", "spam")


def _label_sets(n, seed=11):
    """Each text has each label with its own chance, and at least one."""
    rng = np.random.default_rng(seed)
    has = rng.random((n, len(LABELS))) < (0.5, 0.3, 0.2, 0.1)
    has[~has.any(axis=1), 0] = True
    return has


def _as_lists(has):
    return [[name for name, yes in zip(LABELS, row) if yes] for row in has]


def _noisy(has, wrong, seed):
    """The label matrix with about `wrong` of its yes/no answers flipped."""
    return has ^ (np.random.default_rng(seed).random(has.shape) < wrong)


def _direct_macro_f1(truth, answered):
    f1 = [2 * (t & a).sum() / (2 * (t & a).sum() + (t ^ a).sum()) for t, a in zip(truth.T, answered.T)]
    return float(np.mean(f1))


def test_multi_label_decision_is_on_macro_f1_computed_directly():
    truth = _label_sets(1000)
    answered = _noisy(truth, 0.1, seed=12)
    decision = multi_label.decide(_as_lists(truth), _as_lists(answered), None, RULE)
    assert decision.metric == "macro F1" and decision.blessed, decision.reason
    assert decision.accuracy == pytest.approx(_direct_macro_f1(truth, answered))
    assert decision.accuracy_lower < decision.accuracy


def test_multi_label_floor_refuses_a_weak_model():
    truth = _label_sets(1000)
    decision = multi_label.decide(_as_lists(truth), _as_lists(_noisy(truth, 0.45, seed=13)), None, RULE)
    assert decision.accuracy < RULE.accuracy_floor and not decision.blessed
    assert f"macro F1 {decision.accuracy:.4f} is below the floor 0.5" in decision.reason


def test_multi_label_model_that_answers_every_label_is_never_blessed_though_above_the_floor():
    truth = _label_sets(1000)
    rule = judging.Rule(**{**RULE.__dict__, "accuracy_floor": 0.3})
    decision = multi_label.decide(_as_lists(truth), [list(LABELS)] * 1000, None, rule)
    assert decision.accuracy == pytest.approx(decision.majority_share) and decision.accuracy > rule.accuracy_floor
    assert not decision.blessed and "(the macro F1 of answering every label for every text)" in decision.reason


def test_multi_label_candidate_clearly_worse_than_the_baseline_is_refused_and_a_close_one_blessed():
    truth = _label_sets(2000)
    baseline = _noisy(truth, 0.05, seed=14)
    worse = baseline ^ (np.random.default_rng(15).random(truth.shape) < 0.08)
    refused = multi_label.decide(_as_lists(truth), _as_lists(worse), _as_lists(baseline), RULE)
    assert refused.difference < -0.05 and not refused.blessed
    assert f"lower bound {refused.difference_lower:+.4f} is not above -0.02" in refused.reason
    same = multi_label.decide(_as_lists(truth), _as_lists(baseline), _as_lists(baseline), RULE)
    assert same.blessed and same.difference == 0.0, same.reason


def test_multi_label_per_label_gate_refuses_one_label_that_collapsed():
    truth = _label_sets(4000)
    baseline = _noisy(truth, 0.03, seed=16)
    candidate = baseline.copy()
    candidate[:, 3] = False  # never answers "spam" any more: 1 label of 4, a small move of the macro average
    rule = judging.Rule(**{**RULE.__dict__, "tolerance": 0.3})  # the macro gate lets it through
    decision = multi_label.decide(_as_lists(truth), _as_lists(candidate), _as_lists(baseline), rule)
    assert [row["class"] for row in decision.per_class if row["dropped"]] == ["spam"]
    assert not decision.blessed and "label 'spam' F1 0.0000 is significantly more than 0.3 below" in decision.reason
    off = multi_label.decide(_as_lists(truth), _as_lists(candidate), _as_lists(baseline),
                                      judging.Rule(**{**rule.__dict__, "per_class": False}))
    assert off.blessed, off.reason


def test_the_per_class_test_is_bonferroni_corrected_for_the_number_of_classes():
    """Eight classes, one of them 10 texts in 200 worse: a drop significant at alpha alone (what one class of
    eight would show by chance in a third of the runs), not at alpha / 8. Blessed; with the level the
    correction gives one class (alpha = 8 x 0.05 over eight), the same drop refuses the model."""
    classes = np.array([f"class{i}" for i in range(8)])
    labels = np.repeat(classes, 200)
    right = np.random.default_rng(1).random(len(labels)) < 0.8
    baseline = np.where(right, labels, "wrong")
    candidate = baseline.copy()
    candidate[np.flatnonzero((labels == "class0") & right)[:10]] = "wrong"
    rule = judging.Rule(**{**RULE.__dict__, "accuracy_floor": 0.0, "majority_margin": -1.0})
    decision = single_label.decide(labels, candidate, baseline, rule)
    assert decision.blessed, decision.reason
    assert -rule.tolerance <= decision.per_class[0]["upper"] < 0
    uncorrected = single_label.decide(labels, candidate, baseline, judging.Rule(**{**rule.__dict__, "alpha": 0.4}))
    assert uncorrected.per_class[0]["dropped"] and "class 'class0' recall" in uncorrected.reason
