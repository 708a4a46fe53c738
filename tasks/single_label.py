"""One class per text (the default): a softmax over the classes, cross-entropy, the argmax served; accuracy is
the headline and the blessing's metric, each class's recall its per-class check.

A label cell is the class name, spaces around it dropped (" positive" is "positive"). A class named by a
number (0/1, 1-5 stars) is a name like any other: ExampleGen reads the label column as text
(components/csv_example_gen.py), so "1" is a class, not an integer feature.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from contracts import names
from tasks import judging
from tasks.base import LabelTask


class SingleLabel(LabelTask):
    metric = "accuracy"

    def row_labels(self, cell: str) -> List[str]:
        return [cell.strip()]

    def label_problem(self, cell: str, domain: Optional[Sequence[str]]) -> Optional[str]:
        label = cell.strip()
        if not label:
            return "no label: give the row its class, or drop it"
        return label_outside(label, domain)

    def transform_labels(self, label):
        import tensorflow as tf

        return tf.reshape(label, [-1])

    def targets(self, label_ids, classes: int):
        return label_ids

    def loss_and_accuracy(self, class_shares: Optional[Sequence[float]] = None):
        import tf_keras

        return (tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                tf_keras.metrics.SparseCategoricalAccuracy(name="accuracy"))

    def fit_answer(self, logits: np.ndarray, targets: np.ndarray) -> Tuple[float, Dict]:
        return float(np.mean(logits.argmax(axis=-1) == targets.reshape(-1))), {}  # the argmax: nothing to fit

    def answer(self, logits, class_names: Sequence[str], fitted: Dict) -> Dict:
        import tensorflow as tf

        probabilities = tf.nn.softmax(logits, axis=-1)
        class_id = tf.argmax(probabilities, axis=-1)
        return {names.PROBABILITIES: probabilities, names.LABEL: tf.gather(tf.constant(list(class_names)), class_id),
                names.CLASS_ID: class_id}

    def tfma_metrics(self, label_column: str, classes: int):
        import tensorflow_model_analysis as tfma

        metrics = tfma.MetricsSpec(metrics=[
            # Per class slice, a class's accuracy is its recall.
            tfma.MetricConfig(class_name="SparseCategoricalAccuracy"),
            tfma.MetricConfig(class_name="ExampleCount"),
            # The argmax (served label) confusion matrix: the reports derive per-class precision, recall and
            # F1 from it. TFMA's own per-class Precision/Recall binarize at probability 0.5, which is not what
            # the served label does.
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        ])
        return [metrics], [tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[label_column])]

    def card_task(self, class_names: Sequence[str], model_facts: Dict) -> str:
        return f"text classification into {len(class_names)} classes: {', '.join(class_names)}."

    def judge(self, labels: List[List[str]], candidate: List[str], baseline: Optional[List[str]],
              rule: judging.Rule) -> judging.Decision:
        return decide([label for label, in labels], candidate, baseline, rule)


def label_outside(label: str, domain: Optional[Sequence[str]]) -> Optional[str]:
    """Why a label is refused against the schema's domain (None: not checked, or in it)."""
    if domain is None or label in domain:
        return None
    if _is_number(label) and not any(map(_is_number, domain)):
        return (f"label {label!r} is a number, but the classes in the schema are {sorted(domain)}: write the "
                "class name, not its index")
    return (f"label {label!r} is not one of {sorted(domain)} in the schema: fix the row, or regenerate the "
            "schema (make schema) if it is a new class")


def _is_number(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False


# The blessing on accuracy ---------------------------------------------------------------------------------
# For a mean of per-text differences in {-1, 0, +1}, the paired bootstrap distribution is a multinomial over
# those three counts (McNemar's discordant pairs), drawn directly: exact, fast, seeded.

def _paired(candidate_right: np.ndarray, baseline_right: np.ndarray, rng: np.random.Generator):
    """Counts of the texts only the candidate / only the baseline got right, and the bootstrap of the
    difference of accuracies."""
    only_candidate = int(np.sum(candidate_right & ~baseline_right))
    only_baseline = int(np.sum(~candidate_right & baseline_right))
    same = len(candidate_right) - only_candidate - only_baseline
    return only_candidate, only_baseline, judging.bootstrap_means([only_candidate, same, only_baseline], [1, 0, -1],
                                                                  rng)


def _class_recalls(labels: np.ndarray, candidate_right: np.ndarray, baseline_right: np.ndarray, rule: judging.Rule,
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


def decide(labels: Sequence[str], candidate: Sequence[str], baseline: Optional[Sequence[str]],
           rule: judging.Rule) -> judging.Decision:
    """labels: the eval texts' true classes; candidate / baseline: each model's answer for the same texts."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return judging.empty_split("accuracy")
    rng = np.random.default_rng(rule.seed)
    right = np.asarray(candidate) == labels
    n = len(labels)
    accuracy = float(right.mean())
    lower = float(np.quantile(judging.bootstrap_means([int(right.sum()), n - int(right.sum())], [1, 0], rng),
                              rule.alpha))
    majority = max(np.unique(labels, return_counts=True)[1]) / n
    level = f"{1 - rule.alpha:.0%}"
    problems = judging.absolute_problems("accuracy", accuracy, lower, rule, f"the largest class's share {majority:.4f}",
                                         majority, "(one class for every text would score that)")
    decision = judging.Decision(False, "", n, accuracy, lower, float(majority))
    summary = f"accuracy {accuracy:.4f} ({level} lower bound {lower:.4f}; largest class {majority:.4f}) on {n} texts"
    if baseline is not None:
        summary = _compare(decision, labels, right, np.asarray(baseline) == labels, rule, rng, problems)
    return judging.judged(decision, summary, problems, baseline is not None)


def _compare(decision: judging.Decision, labels: np.ndarray, right: np.ndarray, baseline_right: np.ndarray,
             rule: judging.Rule, rng: np.random.Generator, problems: List[str]) -> str:
    """Fills in the paired comparison with the baseline; adds its problems; returns its summary line."""
    n = len(labels)
    only_candidate, only_baseline, draws = _paired(right, baseline_right, rng)
    difference = (only_candidate - only_baseline) / n
    lower = float(np.quantile(draws, rule.alpha))
    decision.baseline_accuracy, decision.difference, decision.difference_lower = (
        float(baseline_right.mean()), difference, lower)
    decision.candidate_only, decision.baseline_only = only_candidate, only_baseline
    problems.extend(judging.non_inferiority_problem(lower, rule))
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
    level = f"{1 - rule.alpha:.0%}"
    return (f"accuracy {decision.accuracy:.4f} vs the last blessed model's {decision.baseline_accuracy:.4f}, "
            f"difference {difference:+.4f} ({level} lower bound {lower:+.4f}, tolerance {rule.tolerance}; "
            f"{only_candidate} texts only it got right, {only_baseline} only the baseline) on {n} texts{too_small}")

