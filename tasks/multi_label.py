"""Several labels per text (--label-separator): a yes/no answer per label (sigmoid, binary cross-entropy), the
labels above their thresholds served joined by the separator; per-label precision, recall and F1, macro F1 the
headline and the blessing's metric, each label's F1 its per-class check.

Each label's threshold is chosen on the validation slice (fit_answer), never on the eval split, which TFMA
reports and the BlessingGate judges: a rare label's probability seldom reaches 0.5 after a few epochs.

A label cell holds the row's labels joined by the separator: ExampleGen writes them as one value each (cut,
stripped, empty ones and repeats dropped), so TFDV checks each against the schema's domain of single labels.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from contracts import names
from contracts.errors import InputError
from tasks import judging
from tasks.base import LabelTask
from tasks.single_label import label_outside

# A label's threshold: of these, the one with the best F1 on the validation slice, the nearest DEFAULT_THRESHOLD
# among equals (a coarse grid: a rare label has few positives there); DEFAULT_THRESHOLD for a label the slice
# never holds.
DEFAULT_THRESHOLD = 0.5
CANDIDATE_THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)
METRICS = ("Precision", "Recall", "F1Score")


def split_labels(cell: str, separator: str) -> List[str]:
    """A row's labels: the cell cut at the separator, each label stripped, empty ones and repeats dropped, in
    the order written."""
    return list(dict.fromkeys(label.strip() for label in cell.split(separator) if label.strip()))


class MultiLabel(LabelTask):
    metric = "macro F1"
    per_class_heading = "label (its own yes/no answers)"
    label_total_heading = "labels given (a text may have several)"

    @property
    def separator(self) -> str:
        return self.settings.label_separator

    def validate(self) -> None:
        if any(c in self.separator for c in ',"\r\n') or self.separator.strip() != self.separator:
            raise InputError(f"--label-separator {self.separator!r}: a CSV cell holds the labels, so the separator "
                             "can hold no comma, quote or line break, nor begin or end with a space: use e.g. '|'")

    def row_labels(self, cell: str) -> List[str]:
        return split_labels(cell, self.separator)

    def label_problem(self, cell: str, domain: Optional[Sequence[str]]) -> Optional[str]:
        labels = self.row_labels(cell)
        if not labels:
            return f"no label (the cell is {cell!r}): give the row at least one label, or drop it"
        return next(filter(None, (label_outside(label, domain) for label in labels)), None)

    def pin_label_schema(self, feature) -> None:
        feature.ClearField("shape")  # one label or more per row: a list, not a value of fixed shape
        feature.value_count.min = 1

    def transform_labels(self, label):
        return label  # a SparseTensor: a varying number of labels per text, each mapped to its index

    def targets(self, label_ids, classes: int):
        return multi_hot(label_ids, classes)

    weighs_classes = True
    fitted_facts = ("label_thresholds",)

    def loss_and_accuracy(self, class_shares: Optional[Sequence[float]] = None):
        """Binary cross-entropy per label, each label's positive texts weighted by positive_weights(): unweighted,
        a tag on 3% of the texts is learned to be answered "no" (measured: F1 0.01 and 0.17 for tags on 2.1% and
        3.3% of the texts after 3 epochs; bench/RESULTS.md)."""
        import tensorflow as tf
        import tf_keras

        # The accuracy of the yes/no answers; logit 0 is probability 0.5.
        accuracy = tf_keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)
        if class_shares is None:
            return tf_keras.losses.BinaryCrossentropy(from_logits=True), accuracy
        weights = tf.constant(positive_weights(class_shares), tf.float32)

        class WeightedBinaryCrossentropy(tf_keras.losses.Loss):
            def call(self, targets, logits):
                losses = tf.nn.weighted_cross_entropy_with_logits(tf.cast(targets, tf.float32),
                                                                  tf.cast(logits, tf.float32), weights)
                return tf.reduce_mean(losses, axis=-1)

        return WeightedBinaryCrossentropy(name="weighted_binary_crossentropy"), accuracy

    def fit_answer(self, logits: np.ndarray, targets: np.ndarray) -> Tuple[float, Dict]:
        """Macro F1 over the labels the slice holds, each answered at its threshold chosen there."""
        probabilities, truth = 1 / (1 + np.exp(-logits)), targets.astype(bool)
        thresholds = choose_thresholds(probabilities, truth)
        f1 = _label_f1(truth, probabilities > thresholds, np.ones((1, len(truth))))[0]
        present = truth.any(axis=0)
        return float(f1[present].mean()) if present.any() else 0.0, {"label_thresholds": thresholds.tolist()}

    def answer(self, logits, class_names: Sequence[str], fitted: Dict) -> Dict:
        import tensorflow as tf

        probabilities = tf.nn.sigmoid(logits)
        chosen = probabilities > tf.constant(fitted["label_thresholds"], tf.float32)
        labels = tf.ragged.boolean_mask(tf.broadcast_to(tf.constant(list(class_names)), tf.shape(chosen)), chosen)
        return {names.PROBABILITIES: probabilities,
                names.LABEL: tf.strings.reduce_join(labels, axis=-1, separator=self.separator),
                names.CLASS_ID: tf.argmax(probabilities, axis=-1),
                names.ANSWERED: tf.cast(chosen, tf.float32)}

    # TFMA binarizes the served yes/no answers: each label at its own threshold, which an EvalConfig written
    # before training cannot name.
    tfma_prediction_key = names.ANSWERED

    def eval_labels(self, label_ids, classes: int):
        return multi_hot(label_ids, classes)  # TFMA's multi-label metrics take a 0/1 label per class

    def tfma_metrics(self, label_column: str, classes: int):
        """Each label's precision, recall and F1 of the served yes/no answers (ANSWERED, 0 or 1: binarized at
        0.5), their macro average (the blessing's metric) and micro average. No slice per label: a text is in
        several."""
        import json

        import tensorflow_model_analysis as tfma

        binarize = tfma.BinarizationOptions(class_ids={"values": list(range(classes))})
        weights = dict.fromkeys(range(classes), 1.0)
        yes = json.dumps({"thresholds": 0.5})  # the answers are 0 or 1

        def spec(**average):
            return tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name=name, config=yes)
                                             for name in METRICS],
                                    binarize=binarize,
                                    aggregate=tfma.AggregationOptions(**average, class_weights=weights))

        count = tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount")])
        return [count, spec(macro_average=True), spec(micro_average=True)], [tfma.SlicingSpec()]

    def judge(self, labels: List[List[str]], candidate: List[str], baseline: Optional[List[str]],
              rule: judging.Rule) -> judging.Decision:
        answered = [[self.row_labels(answer) for answer in answers] if answers is not None else None
                    for answers in (candidate, baseline)]
        return decide(labels, *answered, rule)

    def card_task(self, class_names: Sequence[str], model_facts: Dict) -> str:
        return (f"multi-label text classification: each text gets any of {len(class_names)} labels "
                f"({', '.join(class_names)}), each answered yes when its probability is above its threshold, chosen "
                f"on a validation slice of the training data ({_thresholds(model_facts)}).")

    def card_output(self) -> str:
        return (f"; `probabilities` are each label's own (sigmoid), `label` the labels answered joined by "
                f"`{self.separator}` (empty when none is), `answered` 1 for each label answered and 0 for the others, "
                "`class_id` the likeliest label's index")

    def evaluation_note(self, model_facts: Dict, examples: int) -> str:
        return (f"Multi-label: each label's precision, recall and F1 count its own yes/no answers (probability "
                f"above {_thresholds(model_facts) or 'its threshold'}), over {examples} eval texts; no confusion "
                "matrix.")


def _thresholds(model_facts: Dict) -> str:
    """Each label's threshold, as the card and the report write them."""
    return ", ".join(f"{label} {t}" for label, t in model_facts.get("label_thresholds", {}).items())


MAX_POSITIVE_WEIGHT = 100.0


def positive_weights(class_shares: Sequence[float]) -> np.ndarray:
    """A label's positive texts weigh (1 - share) / share in its loss, so that its few yes-texts pull its logit up
    as hard as its many no-texts pull it down; at most MAX_POSITIVE_WEIGHT, and 1 for a label absent from the
    training texts (nothing to weigh)."""
    shares = np.asarray(class_shares, dtype=np.float64)
    weights = np.divide(1 - shares, shares, out=np.ones_like(shares), where=shares > 0)
    return np.minimum(weights, MAX_POSITIVE_WEIGHT)


def choose_thresholds(probabilities: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each label's threshold (CANDIDATE_THRESHOLDS) from [texts, labels] probabilities and true 0/1 labels."""
    nearest_first = CANDIDATE_THRESHOLDS[np.argsort(np.abs(CANDIDATE_THRESHOLDS - DEFAULT_THRESHOLD), kind="stable")]
    ones = np.ones((1, len(truth)))
    f1 = np.stack([_label_f1(truth, probabilities > t, ones)[0] for t in nearest_first])  # [thresholds, labels]
    return np.where(truth.any(axis=0), nearest_first[f1.argmax(axis=0)], DEFAULT_THRESHOLD)


def multi_hot(label_ids, classes: int):
    """A multi-label text's label indices (a SparseTensor [batch, labels]) as 0/1 floats [batch, classes]."""
    import tensorflow as tf

    return tf.cast(tf.sparse.to_indicator(label_ids, classes), tf.float32)


# The blessing on macro F1 ---------------------------------------------------------------------------------
# Macro F1 is not a mean over texts: the bootstrap resamples texts (a multinomial weight per text and draw)
# and recomputes both models' macro F1 on each resample. The one-answer model to beat answers every label for
# every text (each label's F1 then 2p / (1 + p), p its share of texts).

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
    for start in range(0, judging.BOOTSTRAP_DRAWS, chunk):
        yield rng.multinomial(n, np.full(n, 1 / n), size=min(chunk, judging.BOOTSTRAP_DRAWS - start)).astype(
            np.float64)


def decide(labels: Sequence[Sequence[str]], candidate: Sequence[Sequence[str]],
           baseline: Optional[Sequence[Sequence[str]]], rule: judging.Rule) -> judging.Decision:
    """labels: each eval text's true labels; candidate / baseline: the labels each model answered."""
    n = len(labels)
    if n == 0:
        return judging.empty_split("macro F1")
    classes = sorted({label for row in labels for label in row})
    truth, answered = _label_matrix(labels, classes), _label_matrix(candidate, classes)
    other = _label_matrix(baseline, classes) if baseline is not None else answered
    rng, ones = np.random.default_rng(rule.seed), np.ones((1, n))
    draws = [(_label_f1(truth, answered, w), _label_f1(truth, other, w)) for w in _resampled(n, rng)]
    mine, theirs = np.concatenate([d[0] for d in draws]), np.concatenate([d[1] for d in draws])
    score, lower = float(_label_f1(truth, answered, ones).mean()), float(np.quantile(mine.mean(axis=1), rule.alpha))
    every_label = float(_label_f1(truth, np.ones_like(truth), ones).mean())
    problems = judging.absolute_problems("macro F1", score, lower, rule, f"{every_label:.4f}", every_label,
                                         "(the macro F1 of answering every label for every text)")
    decision = judging.Decision(False, "", n, score, lower, every_label, metric="macro F1")
    summary = (f"macro F1 {score:.4f} ({1 - rule.alpha:.0%} lower bound {lower:.4f}; every label for every text "
               f"{every_label:.4f}) over {len(classes)} labels on {n} texts")
    if baseline is not None:
        summary = _compare(decision, classes, truth, (answered, other), (mine, theirs), rule, problems)
    return judging.judged(decision, summary, problems, baseline is not None)


def _compare(decision: judging.Decision, classes: List[str], truth: np.ndarray, answers, draws, rule: judging.Rule,
             problems: List[str]) -> str:
    """The paired comparison of macro F1 (and, unless turned off, of each label's F1) with the baseline."""
    n, ones = len(truth), np.ones((1, len(truth)))
    mine, theirs = (_label_f1(truth, answered, ones)[0] for answered in answers)
    differences = draws[0] - draws[1]
    difference, lower = float(mine.mean() - theirs.mean()), float(np.quantile(differences.mean(axis=1), rule.alpha))
    decision.baseline_accuracy, decision.difference, decision.difference_lower = float(theirs.mean()), difference, lower
    problems.extend(judging.non_inferiority_problem(lower, rule))
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
    level = f"{1 - rule.alpha:.0%}"
    return (f"macro F1 {decision.accuracy:.4f} vs the last blessed model's {decision.baseline_accuracy:.4f}, "
            f"difference {difference:+.4f} ({level} lower bound {lower:+.4f}, tolerance {rule.tolerance}) on {n} texts")
