"""The blessing rule: may this candidate replace the model serving now? Pure numbers, no TensorFlow.

Both models answer the same eval examples. Without a blessed model before it, the candidate must reach the
absolute floor, and the lower confidence bound of its accuracy must beat the share of the eval split's
largest class by `majority_margin`: a model that answers one class scores exactly that share, so it is
never blessed. With a baseline, the candidate must also be non-inferior to it: the one-sided lower
confidence bound of (candidate - baseline) accuracy above -tolerance, and (unless turned off) no class's
recall significantly more than the tolerance below the baseline's (its upper confidence bound below
-tolerance: a drop that is both real and larger than the margin; a small drop on a large split is
statistically significant but no reason to refuse).

The test is a paired bootstrap: resampling whole eval examples keeps each text's two answers together, so
the interval reflects only the texts on which the models disagree (McNemar's discordant pairs), not the
spread of each accuracy alone. For a mean of per-text differences in {-1, 0, +1} the bootstrap
distribution is a multinomial over those three counts, drawn here directly (exact, fast, seeded). The
per-class recall test uses the same draw on each class's texts, at alpha / classes (Bonferroni), so that
with many classes one of them dropping by chance does not refuse a good model.

A multi-label model (decide_multi_label) is judged the same way on macro F1 (the mean of each label's F1),
which is not a mean over texts: the bootstrap resamples texts (a multinomial weight per text and draw) and
recomputes both models' macro F1 on each resample. The floor applies to macro F1; the one-answer model it
must beat answers every label for every text (each label's F1 then 2p / (1 + p), p its share of texts).
"""
import dataclasses
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

BOOTSTRAP_DRAWS = 10_000


@dataclasses.dataclass(frozen=True)
class Rule:
    accuracy_floor: float  # absolute
    majority_margin: float  # the accuracy's lower bound must beat the largest class's share by this
    tolerance: float  # how much below the baseline's accuracy a candidate may be (non-inferiority margin)
    alpha: float  # one-sided: the bounds are (1 - alpha) confidence bounds
    per_class: bool  # refuse a significant drop of any class's recall
    seed: int


@dataclasses.dataclass
class Decision:
    blessed: bool
    reason: str  # one line: the numbers, the rule, the verdict
    examples: int
    accuracy: float
    accuracy_lower: float
    majority_share: float
    baseline_accuracy: Optional[float] = None
    difference: Optional[float] = None
    difference_lower: Optional[float] = None
    candidate_only: Optional[int] = None  # texts only the candidate got right
    baseline_only: Optional[int] = None  # texts only the baseline got right
    per_class: List[Dict] = dataclasses.field(default_factory=list)
    examples_needed: Optional[int] = None  # set when the split is too small to resolve the tolerance
    # What the accuracy fields measure: "accuracy", or "macro F1" for a multi-label model (majority_share is
    # then the macro F1 of answering every label; candidate_only and baseline_only are not counted).
    metric: str = "accuracy"

    def to_json(self) -> Dict:
        return dataclasses.asdict(self)


def _bootstrap_means(counts: Sequence[int], values: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Bootstrap distribution of the mean of a sample that holds counts[i] copies of values[i]."""
    n = int(sum(counts))
    if n == 0:
        return np.zeros(BOOTSTRAP_DRAWS)
    draws = rng.multinomial(n, np.asarray(counts, float) / n, size=BOOTSTRAP_DRAWS)
    return draws @ np.asarray(values, float) / n


def _paired(candidate_right: np.ndarray, baseline_right: np.ndarray, rng: np.random.Generator):
    """Counts of the texts only the candidate / only the baseline got right, and the bootstrap of the
    difference of accuracies."""
    only_candidate = int(np.sum(candidate_right & ~baseline_right))
    only_baseline = int(np.sum(~candidate_right & baseline_right))
    same = len(candidate_right) - only_candidate - only_baseline
    return only_candidate, only_baseline, _bootstrap_means([only_candidate, same, only_baseline], [1, 0, -1], rng)


def _class_recalls(labels: np.ndarray, candidate_right: np.ndarray, baseline_right: np.ndarray, rule: Rule,
                   rng: np.random.Generator) -> List[Dict]:
    classes = sorted(set(labels.tolist()))
    level = rule.alpha / max(len(classes), 1)
    rows = []
    for name in classes:
        mine = labels == name
        only_candidate, only_baseline, draws = _paired(candidate_right[mine], baseline_right[mine], rng)
        upper = float(np.quantile(draws, 1 - level))
        rows.append({"class": name, "examples": int(mine.sum()), "recall": float(candidate_right[mine].mean()),
                     "baseline_recall": float(baseline_right[mine].mean()),
                     "difference": (only_candidate - only_baseline) / int(mine.sum()), "upper": upper,
                     "dropped": upper < -rule.tolerance})
    return rows


def decide(labels: Sequence[str], candidate: Sequence[str], baseline: Optional[Sequence[str]], rule: Rule) -> Decision:
    """labels: the eval texts' true classes; candidate / baseline: each model's answer for the same texts."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return Decision(False, "the eval split is empty: nothing to judge the model on", 0, 0.0, 0.0, 0.0)
    rng = np.random.default_rng(rule.seed)
    right = np.asarray(candidate) == labels
    n = len(labels)
    accuracy = float(right.mean())
    lower = float(np.quantile(_bootstrap_means([int(right.sum()), n - int(right.sum())], [1, 0], rng), rule.alpha))
    majority = max(np.unique(labels, return_counts=True)[1]) / n
    level = f"{1 - rule.alpha:.0%}"
    problems = _absolute_problems("accuracy", accuracy, lower, rule, f"the largest class's share {majority:.4f}",
                                  majority, "(one class for every text would score that)")
    decision = Decision(False, "", n, accuracy, lower, float(majority))
    summary = f"accuracy {accuracy:.4f} ({level} lower bound {lower:.4f}; largest class {majority:.4f}) on {n} texts"
    if baseline is not None:
        summary = _compare(decision, labels, right, np.asarray(baseline) == labels, rule, rng, problems)
    return _judged(decision, summary, problems, baseline is not None)


def _absolute_problems(metric: str, score: float, lower: float, rule: Rule, one_answer: str, one_answer_score: float,
                       why: str) -> List[str]:
    """The checks that need no baseline: the floor, and the lower bound above what one fixed answer scores."""
    problems = []
    if score < rule.accuracy_floor:
        problems.append(f"{metric} {score:.4f} is below the floor {rule.accuracy_floor}")
    if lower <= one_answer_score + rule.majority_margin:
        problems.append(f"its {1 - rule.alpha:.0%} lower bound {lower:.4f} does not beat {one_answer}"
                        f"{f' + {rule.majority_margin}' if rule.majority_margin else ''} {why}")
    return problems


def _judged(decision: Decision, summary: str, problems: List[str], has_baseline: bool) -> Decision:
    decision.blessed = not problems
    verdict = "blessed" if decision.blessed else "not blessed: " + "; ".join(problems)
    decision.reason = f"{summary}: {verdict}" + ("" if has_baseline else " (no blessed model before it)")
    return decision


def _compare(decision: Decision, labels: np.ndarray, right: np.ndarray, baseline_right: np.ndarray, rule: Rule,
             rng: np.random.Generator, problems: List[str]) -> str:
    """Fills in the paired comparison with the baseline; adds its problems; returns its summary line."""
    n = len(labels)
    only_candidate, only_baseline, draws = _paired(right, baseline_right, rng)
    difference = (only_candidate - only_baseline) / n
    lower = float(np.quantile(draws, rule.alpha))
    decision.baseline_accuracy, decision.difference, decision.difference_lower = (
        float(baseline_right.mean()), difference, lower)
    decision.candidate_only, decision.baseline_only = only_candidate, only_baseline
    level = f"{1 - rule.alpha:.0%}"
    if lower <= -rule.tolerance:
        problems.append(f"its {level} lower bound {lower:+.4f} is not above -{rule.tolerance}")
    half_width = difference - lower
    if half_width >= rule.tolerance:  # even a model equal to the baseline could not be shown non-inferior
        decision.examples_needed = math.ceil(n * (half_width / rule.tolerance) ** 2)
    if rule.per_class:
        decision.per_class = _class_recalls(labels, right, baseline_right, rule, rng)
        for row in decision.per_class:
            if row["dropped"]:
                problems.append(f"class {row['class']!r} recall {row['recall']:.4f} is significantly more than "
                                f"{rule.tolerance} below the baseline's {row['baseline_recall']:.4f}")
    too_small = ""
    if decision.examples_needed:
        too_small = (f" (the eval split is too small to resolve the tolerance {rule.tolerance}: it would take "
                     f"about {decision.examples_needed} eval texts)")
    return (f"accuracy {decision.accuracy:.4f} vs the last blessed model's {decision.baseline_accuracy:.4f}, "
            f"difference {difference:+.4f} ({level} lower bound {lower:+.4f}, tolerance {rule.tolerance}; "
            f"{only_candidate} texts only it got right, {only_baseline} only the baseline) on {n} texts{too_small}")


def _label_matrix(label_sets: Sequence[Sequence[str]], classes: Sequence[str]) -> np.ndarray:
    return np.array([[name in labels for name in classes] for labels in map(set, label_sets)], dtype=bool).reshape(
        len(label_sets), len(classes))


def _label_f1(truth: np.ndarray, answered: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each label's F1 under each row of weights (a count per text): [draws, labels]. A label that no text
    has and no answer gives scores 0, as in TFMA."""
    true_positives = weights @ (truth & answered)
    wrong = weights @ (truth ^ answered)  # false positives + false negatives
    denominator = 2 * true_positives + wrong
    return np.divide(2 * true_positives, denominator, out=np.zeros_like(denominator), where=denominator > 0)


def _resampled(n: int, rng: np.random.Generator, chunk: int = 500):
    """BOOTSTRAP_DRAWS resamples of n texts, as counts per text, a chunk of draws at a time."""
    for start in range(0, BOOTSTRAP_DRAWS, chunk):
        yield rng.multinomial(n, np.full(n, 1 / n), size=min(chunk, BOOTSTRAP_DRAWS - start)).astype(np.float64)


def decide_multi_label(labels: Sequence[Sequence[str]], candidate: Sequence[Sequence[str]],
                       baseline: Optional[Sequence[Sequence[str]]], rule: Rule) -> Decision:
    """labels: each eval text's true labels; candidate / baseline: the labels each model answered."""
    n = len(labels)
    if n == 0:
        return Decision(False, "the eval split is empty: nothing to judge the model on", 0, 0.0, 0.0, 0.0,
                        metric="macro F1")
    classes = sorted({label for row in labels for label in row})
    truth, answered = _label_matrix(labels, classes), _label_matrix(candidate, classes)
    other = _label_matrix(baseline, classes) if baseline is not None else answered
    rng, ones = np.random.default_rng(rule.seed), np.ones((1, n))
    draws = [(_label_f1(truth, answered, w), _label_f1(truth, other, w)) for w in _resampled(n, rng)]
    mine, theirs = np.concatenate([d[0] for d in draws]), np.concatenate([d[1] for d in draws])
    score, lower = float(_label_f1(truth, answered, ones).mean()), float(np.quantile(mine.mean(axis=1), rule.alpha))
    every_label = float(_label_f1(truth, np.ones_like(truth), ones).mean())
    problems = _absolute_problems("macro F1", score, lower, rule, f"{every_label:.4f}", every_label,
                                  "(the macro F1 of answering every label for every text)")
    decision = Decision(False, "", n, score, lower, every_label, metric="macro F1")
    summary = (f"macro F1 {score:.4f} ({1 - rule.alpha:.0%} lower bound {lower:.4f}; every label for every text "
               f"{every_label:.4f}) over {len(classes)} labels on {n} texts")
    if baseline is not None:
        summary = _compare_f1(decision, classes, truth, (answered, other), (mine, theirs), rule, problems)
    return _judged(decision, summary, problems, baseline is not None)


def _compare_f1(decision: Decision, classes: List[str], truth: np.ndarray, answers, draws, rule: Rule,
                problems: List[str]) -> str:
    """The paired comparison of macro F1 (and, unless turned off, of each label's F1) with the baseline."""
    n, ones = len(truth), np.ones((1, len(truth)))
    mine, theirs = (_label_f1(truth, answered, ones)[0] for answered in answers)
    differences = draws[0] - draws[1]
    difference, lower = float(mine.mean() - theirs.mean()), float(np.quantile(differences.mean(axis=1), rule.alpha))
    decision.baseline_accuracy, decision.difference, decision.difference_lower = float(theirs.mean()), difference, lower
    level = f"{1 - rule.alpha:.0%}"
    if lower <= -rule.tolerance:
        problems.append(f"its {level} lower bound {lower:+.4f} is not above -{rule.tolerance}")
    if rule.per_class:
        uppers = np.quantile(differences, 1 - rule.alpha / len(classes), axis=0)
        decision.per_class = [
            {"class": name, "examples": int(truth[:, k].sum()), "f1": float(mine[k]),
             "baseline_f1": float(theirs[k]), "difference": float(mine[k] - theirs[k]), "upper": float(uppers[k]),
             "dropped": bool(uppers[k] < -rule.tolerance)}
            for k, name in enumerate(classes)]
        problems.extend(f"label {row['class']!r} F1 {row['f1']:.4f} is significantly more than {rule.tolerance} "
                        f"below the baseline's {row['baseline_f1']:.4f}"
                        for row in decision.per_class if row["dropped"])
    return (f"macro F1 {decision.accuracy:.4f} vs the last blessed model's {decision.baseline_accuracy:.4f}, "
            f"difference {difference:+.4f} ({level} lower bound {lower:+.4f}, tolerance {rule.tolerance}) on {n} texts")
