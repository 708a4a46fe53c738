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
    problems = []
    if accuracy < rule.accuracy_floor:
        problems.append(f"accuracy {accuracy:.4f} is below the floor {rule.accuracy_floor}")
    if lower <= majority + rule.majority_margin:
        problems.append(f"its {level} lower bound {lower:.4f} does not beat the largest class's share "
                        f"{majority:.4f}{f' + {rule.majority_margin}' if rule.majority_margin else ''} (one class "
                        "for every text would score that)")
    decision = Decision(False, "", n, accuracy, lower, float(majority))
    summary = f"accuracy {accuracy:.4f} ({level} lower bound {lower:.4f}; largest class {majority:.4f}) on {n} texts"
    if baseline is not None:
        summary = _compare(decision, labels, right, np.asarray(baseline) == labels, rule, rng, problems)
    decision.blessed = not problems
    verdict = "blessed" if decision.blessed else "not blessed: " + "; ".join(problems)
    decision.reason = f"{summary}: {verdict}" + ("" if baseline is not None else " (no blessed model before it)")
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
