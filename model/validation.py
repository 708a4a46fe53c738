"""The validation slice, and what training does with it.

A share of the training split (never the eval split, which TFMA reports and the BlessingGate judges), picked by
a hash of each text's word pieces: the same on every run and every worker, and a text's copies on one side. At
each epoch's end the classifier answers its texts as the export does (a long text's windows combined:
InputShape.text_logits), and the label task scores them (LabelTask.fit_answer: accuracy, or macro F1 at
thresholds chosen there). The best epoch's weights are the ones exported, and what the answer was fitted to
then; training stops after `patience` epochs past the best. The record survives a kill: a resumed Trainer goes
on from it.

The best epoch is the latest one whose score is within the slice's resolution of the highest (one standard
error of an accuracy on that many texts): a slice of ~500 texts cannot tell 0.778 from 0.773 (2 texts), and
stopping or choosing on such a difference stopped one-text runs after their first epoch, at a learning rate
not yet decayed (bench/RESULTS.md, "One text: seeds"). Among epochs the slice cannot tell apart, the one
trained longest, as a fixed schedule would end, is the one kept.

The slice costs its share of the training texts: on 5,000 rows, trained without them, ours scored ~0.5 points
below a script that trains on every row, and a slice half as large gained 1.1 points (bench/RESULTS.md, "One
text: seeds"). So where the slice chose nothing but the number of epochs, that many are trained again on the
whole split (refit_epochs).
"""
import io
import json
import math
import os
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow as tf
import tf_keras
from absl import logging

import tasks
from contracts import features
from model.keras_classifier import trim_padding

_BUCKETS = 10_000


def resolution(score: float, texts: int) -> float:
    """One standard error of an accuracy `score` measured on `texts` texts (for a macro F1, the same figure as
    an approximation)."""
    return math.sqrt(max(score * (1.0 - score), 0.0) / max(texts, 1))


def best_of(history: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The latest epoch whose score is within resolution() of the highest."""
    if not history:
        return None
    top = max(history, key=lambda h: (h["score"], -h["epoch"]))
    margin = resolution(top["score"], top["texts"])
    return max((h for h in history if h["score"] >= top["score"] - margin), key=lambda h: h["epoch"])


def refit_epochs(best: Dict[str, Any], texts: int, max_texts: int) -> int:
    """How many epochs to train again, from the checkpoint, on the whole training split (`texts` texts, the
    slice's included): the best epoch's number, when the slice chose nothing else (an answer fitted there, a
    multi-label task's thresholds, would not fit a model that then trained on those texts) and the split has
    at most max_texts texts; 0: no second training."""
    if not max_texts or best["fitted"] or texts > max_texts:
        return 0
    return best["epoch"]


def outcome(hyperparameters: Dict[str, Any]) -> Optional[str]:
    """The training's one sentence, from the model's hyperparameters.json: the run summary's and the report's
    (None for a model trained before the validation slice existed)."""
    if "best_epoch" not in hyperparameters:
        return None
    ran = f"{hyperparameters['epochs_trained']} epoch(s), stopped by {hyperparameters['stopped_by']}; "
    best = hyperparameters["best_epoch"]
    if hyperparameters.get("refit_epochs"):
        return ran + (f"epoch {best} the best on the validation slice, then {hyperparameters['refit_epochs']} "
                      f"epoch(s) trained again on the whole training split ({hyperparameters['refit_texts']} texts, "
                      "the slice's included): their weights exported")
    return ran + f"exported epoch {best}'s weights, the best on the validation slice"


def in_slice(record: tf.Tensor, fraction: float) -> tf.Tensor:
    """Whether a serialized example of the training split is in the validation slice: by its word pieces (the
    example's bytes are not stable: a proto's map of features serializes in no fixed order)."""
    ids = tf.io.parse_single_example(record, {features.INPUT_IDS: tf.io.VarLenFeature(tf.int64)})[features.INPUT_IDS]
    text = tf.strings.reduce_join(tf.strings.as_string(ids.values), separator=" ")
    return tf.strings.to_hash_bucket_fast(text, _BUCKETS) < round(_BUCKETS * fraction)


class BestEpoch(tf_keras.callbacks.Callback):
    """Scores the validation slice at each epoch's end (logged as val_loss and val_<metric>, so TensorBoard's
    validation run shows them), keeps the best epoch's weights, stops training when it stops improving, and
    puts the best weights back at the end."""

    def __init__(self, classifier: tf_keras.Model, validation: tf.data.Dataset, task: tasks.TaskSettings,
                 classes: int, patience: int, state_dir: Optional[str], class_shares: Optional[List[float]] = None):
        """validation: batches of (Transform's features, label ids) of the slice's texts; patience 0 never stops;
        state_dir: where the record is kept for a resumed run (None: in memory only, a non-chief worker);
        class_shares: the training loss's (the slice's loss is weighed as training's is)."""
        super().__init__()
        self._classifier, self._validation, self._classes, self._patience = classifier, validation, classes, patience
        self._label_task, self._input_shape = tasks.label_task(task), tasks.input_shape(task)
        self._loss = self._label_task.loss_and_accuracy(class_shares)[0]
        # Per text: a Keras loss that reduces itself is refused under a distribution strategy outside fit().
        self._loss.reduction = tf_keras.losses.Reduction.NONE
        self._state_dir = state_dir
        self.history: List[Dict[str, Any]] = []  # per epoch scored: epoch, score, loss, fitted
        self.stopped = ""
        self._best_weights: Optional[List[np.ndarray]] = None
        self._text_logits = tf.function(self._text_logits_of, autograph=False, reduce_retracing=True)

    def _text_logits_of(self, features):
        return self._input_shape.text_logits(features, lambda x: self._classifier(trim_padding(x), training=False))

    @property
    def best(self) -> Optional[Dict[str, Any]]:
        return best_of(self.history)

    def score(self) -> Dict[str, Any]:
        """The slice's score, loss and fitted answer with the classifier's weights now."""
        logits, targets = [], []
        for inputs, label_ids in self._validation:
            logits.append(self._text_logits(inputs).numpy())
            targets.append(self._label_task.targets(label_ids, self._classes).numpy())
        logits, targets = np.concatenate(logits), np.concatenate(targets)
        score, fitted = self._label_task.fit_answer(logits, targets)
        loss = float(np.mean(self._loss(targets, logits)))
        return {"score": score, "loss": loss, "fitted": fitted, "texts": len(logits)}

    def facts(self, class_names: List[str]) -> Dict[str, Any]:
        """What hyperparameters.json records: each epoch's validation, the best, what the answer was fitted to."""
        best = self.best
        return {"validation": [{k: h[k] for k in ("epoch", "score", "loss")} for h in self.history],
                "validation_texts": best["texts"], "best_epoch": best["epoch"],
                **{fact: dict(zip(class_names, values)) for fact, values in best["fitted"].items()}}

    def on_train_begin(self, logs=None):
        if self._state_dir and tf.io.gfile.exists(self._record_path):
            with tf.io.gfile.GFile(self._record_path) as f:
                self.history = json.load(f)
            with tf.io.gfile.GFile(self._weights_path, "rb") as f, np.load(io.BytesIO(f.read())) as saved:
                self._best_weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
            logging.info("Validation record of %d epoch(s) resumed from %s", len(self.history), self._state_dir)

    def on_epoch_end(self, epoch, logs=None):
        number = epoch + 1
        if any(h["epoch"] == number for h in self.history):
            # A run resumed from a backup taken before this epoch's end: its record, made then, stands.
            return
        result = {"epoch": number, **self.score()}
        self.history.append(result)
        if logs is not None:
            logs.update({"val_loss": result["loss"], f"val_{self._metric_key}": result["score"]})
        best = self.best
        improved = best["epoch"] == number
        if improved:
            self._best_weights = [w.numpy() for w in self._classifier.weights]
        logging.info("Epoch %d: validation %s %.4f, loss %.4f on %d texts (best: epoch %d, %.4f)", number,
                     self._label_task.metric, result["score"], result["loss"], result["texts"], best["epoch"],
                     best["score"])
        self._save(improved)
        if self._patience and number - best["epoch"] >= self._patience:
            self.stopped = (f"validation {self._label_task.metric} below epoch {best['epoch']}'s by more than the "
                            f"slice resolves for {self._patience} epoch(s)")
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        best = self.best
        if best and best["epoch"] != self.history[-1]["epoch"]:
            self._classifier.set_weights(self._best_weights)
            logging.info("Restored the weights of epoch %d, the best on the validation slice", best["epoch"])

    @property
    def _metric_key(self) -> str:
        return self._label_task.metric.replace(" ", "_").lower()

    @property
    def _record_path(self) -> str:
        return os.path.join(self._state_dir, "validation.json")

    @property
    def _weights_path(self) -> str:
        return os.path.join(self._state_dir, "best_weights.npz")

    def _save(self, improved: bool) -> None:
        if not self._state_dir:
            return
        tf.io.gfile.makedirs(self._state_dir)
        if improved:  # first the weights, then the record that points at them
            buffer = io.BytesIO()  # zipfile reads back what it writes: GFile's write mode cannot
            np.savez(buffer, *self._best_weights)
            with tf.io.gfile.GFile(self._weights_path + ".tmp", "wb") as f:
                f.write(buffer.getvalue())
            tf.io.gfile.rename(self._weights_path + ".tmp", self._weights_path, overwrite=True)
        with tf.io.gfile.GFile(self._record_path + ".tmp", "w") as f:
            json.dump(self.history, f)
        tf.io.gfile.rename(self._record_path + ".tmp", self._record_path, overwrite=True)
