"""The blessing rule: may this candidate replace the model serving now? Pure numbers, no TensorFlow.

Both models answer the same eval examples; the label task scores them with its metric (single_label.py:
accuracy, multi_label.py: macro F1) and judges with the pieces here. Without a blessed model before it, the
candidate must reach the absolute floor, and the lower confidence bound of its metric must beat what one
fixed answer scores (every text the largest class; every label for every text), by `majority_margin`: a
model that learned nothing scores exactly that, so it is never blessed. With a baseline, the candidate must
also be non-inferior to it: the one-sided lower confidence bound of (candidate - baseline) above -tolerance,
and (unless turned off) no class significantly more than the tolerance below the baseline's (its upper
confidence bound below -tolerance: a drop that is both real and larger than the margin; a small drop on a
large split is statistically significant but no reason to refuse). The per-class test runs at
alpha / classes (Bonferroni), so that with many classes one of them dropping by chance does not refuse a
good model.

The tests are paired bootstraps: resampling whole eval texts keeps each text's two answers together, so the
interval reflects only the texts on which the models disagree, not the spread of each score alone.
"""
import dataclasses
from typing import Dict, List, Optional, Sequence

import numpy as np

BOOTSTRAP_DRAWS = 10_000


@dataclasses.dataclass(frozen=True)
class Rule:
    accuracy_floor: float  # absolute, on the task's metric
    majority_margin: float  # the metric's lower bound must beat one fixed answer's score by this
    tolerance: float  # how much below the baseline's metric a candidate may be (non-inferiority margin)
    alpha: float  # one-sided: the bounds are (1 - alpha) confidence bounds
    per_class: bool  # refuse a significant drop of any class's recall (a label's F1)
    seed: int


@dataclasses.dataclass
class Decision:
    blessed: bool
    reason: str  # one line: the numbers, the rule, the verdict
    examples: int
    accuracy: float  # the task's metric (see `metric`)
    accuracy_lower: float
    majority_share: float  # what one fixed answer scores on the metric
    baseline_accuracy: Optional[float] = None
    difference: Optional[float] = None
    difference_lower: Optional[float] = None
    candidate_only: Optional[int] = None  # texts only the candidate got right (accuracy only)
    baseline_only: Optional[int] = None  # texts only the baseline got right (accuracy only)
    per_class: List[Dict] = dataclasses.field(default_factory=list)
    examples_needed: Optional[int] = None  # set when the split is too small to resolve the tolerance
    metric: str = "accuracy"  # what the accuracy fields measure: "accuracy", or "macro F1"

    def to_json(self) -> Dict:
        return dataclasses.asdict(self)


def empty_split(metric: str) -> Decision:
    return Decision(False, "the eval split is empty: nothing to judge the model on", 0, 0.0, 0.0, 0.0, metric=metric)


def bootstrap_means(counts: Sequence[int], values: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Bootstrap distribution of the mean of a sample that holds counts[i] copies of values[i]."""
    n = int(sum(counts))
    if n == 0:
        return np.zeros(BOOTSTRAP_DRAWS)
    draws = rng.multinomial(n, np.asarray(counts, float) / n, size=BOOTSTRAP_DRAWS)
    return draws @ np.asarray(values, float) / n


def absolute_problems(metric: str, score: float, lower: float, rule: Rule, one_answer: str, one_answer_score: float,
                      why: str) -> List[str]:
    """The checks that need no baseline: the floor, and the lower bound above what one fixed answer scores."""
    problems = []
    if score < rule.accuracy_floor:
        problems.append(f"{metric} {score:.4f} is below the floor {rule.accuracy_floor}")
    if lower <= one_answer_score + rule.majority_margin:
        problems.append(f"its {1 - rule.alpha:.0%} lower bound {lower:.4f} does not beat {one_answer}"
                        f"{f' + {rule.majority_margin}' if rule.majority_margin else ''} {why}")
    return problems


def non_inferiority_problem(lower: float, rule: Rule) -> List[str]:
    if lower <= -rule.tolerance:
        return [f"its {1 - rule.alpha:.0%} lower bound {lower:+.4f} is not above -{rule.tolerance}"]
    return []


def judged(decision: Decision, summary: str, problems: List[str], has_baseline: bool) -> Decision:
    decision.blessed = not problems
    verdict = "blessed" if decision.blessed else "not blessed: " + "; ".join(problems)
    decision.reason = f"{summary}: {verdict}" + ("" if has_baseline else " (no blessed model before it)")
    return decision
