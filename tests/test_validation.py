"""The validation slice and what training does with it (model/validation.py), on a tiny BERT: the best epoch's
weights are the ones left after training, on a resumed run too; training stops after `patience` epochs without a
better score; the slice is picked by the word pieces. A multi-label task's thresholds are chosen there
(tasks/multi_label.py)."""
import numpy as np
import pytest
import tensorflow as tf

from model import keras_classifier, validation
from tasks import TaskSettings, multi_label

from tiny_bert import random_inputs, tiny_checkpoint

CLASSES = 3


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return keras_classifier.load_classifier(tiny_checkpoint(tmp_path_factory.mktemp("tiny")), CLASSES)


@pytest.fixture()
def slice_and_weights(classifier):
    """A validation slice the classifier's weights now answer perfectly (its labels are their answers), those
    weights, and weights that answer it worse."""
    good = classifier.get_weights()
    inputs = random_inputs(64, seed=3)
    labels = np.argmax(classifier(keras_classifier.trim_padding(inputs), training=False).numpy(), axis=1)
    assert len(set(labels)) > 1
    rng = np.random.default_rng(0)
    worse = [w + rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in good]
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(16)
    classifier.stop_training = False
    yield dataset, good, worse
    classifier.set_weights(good)


def _best_epoch(classifier, dataset, patience=1, state_dir=None):
    callback = validation.BestEpoch(classifier, dataset, TaskSettings(), CLASSES, patience, state_dir)
    callback.set_model(classifier)
    callback.on_train_begin()
    return callback


def _equal(weights, classifier):
    return all(np.array_equal(a, b) for a, b in zip(weights, classifier.get_weights()))


def test_the_best_epochs_weights_are_the_ones_left_after_training(classifier, slice_and_weights):
    dataset, good, worse = slice_and_weights
    callback = _best_epoch(classifier, dataset)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert callback.history[0]["score"] == 1.0 and logs["val_accuracy"] == 1.0 and logs["val_loss"] > 0
    classifier.set_weights(worse)
    callback.on_epoch_end(1, {})
    assert callback.history[1]["score"] < 1.0
    assert classifier.stop_training and callback.stopped == (
        "validation accuracy below epoch 1's by more than the slice resolves for 1 epoch(s)")
    callback.on_train_end()
    assert _equal(good, classifier)
    assert callback.facts(["a", "b", "c"]) == {
        "validation": [{k: h[k] for k in ("epoch", "score", "loss")} for h in callback.history],
        "validation_texts": 64, "best_epoch": 1}


def test_a_resumed_run_goes_on_from_the_record_and_restores_the_best_weights_from_disk(classifier, slice_and_weights,
                                                                                        tmp_path):
    dataset, good, worse = slice_and_weights
    callback = _best_epoch(classifier, dataset, patience=2, state_dir=str(tmp_path))
    callback.on_epoch_end(0, {})
    classifier.set_weights(worse)
    callback.on_epoch_end(1, {})
    assert not classifier.stop_training
    # The Trainer is killed here; its re-run resumes in epoch 2 from a backup taken before epoch 2's end.
    resumed = _best_epoch(classifier, dataset, patience=2, state_dir=str(tmp_path))
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    resumed.on_epoch_end(1, {})  # epoch 2's record, made before the kill, stands
    assert len(resumed.history) == 2
    resumed.on_epoch_end(2, {})
    assert resumed.stopped and resumed.best["epoch"] == 1
    resumed.on_train_end()
    assert _equal(good, classifier)


def test_patience_zero_runs_every_epoch(classifier, slice_and_weights):
    dataset, good, worse = slice_and_weights
    callback = _best_epoch(classifier, dataset, patience=0)
    callback.on_epoch_end(0, {})
    for epoch in (1, 2):
        classifier.set_weights(worse)
        callback.on_epoch_end(epoch, {})
    assert not classifier.stop_training and not callback.stopped


def test_the_slice_is_picked_by_the_word_pieces_and_holds_its_share():
    def example(ids, **other):
        feature = {"input_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=ids))}
        feature.update({k: tf.train.Feature(int64_list=tf.train.Int64List(value=v)) for k, v in other.items()})
        return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()

    rng = np.random.default_rng(0)
    texts = [rng.integers(1, 30000, 20).tolist() for _ in range(4000)]
    picked = [bool(validation.in_slice(example(ids), 0.1)) for ids in texts]
    assert 0.08 < np.mean(picked) < 0.12
    # the same word pieces, other features beside them: the same side
    assert [bool(validation.in_slice(example(ids, label_id=[k % 3]), 0.1)) for k, ids in
            enumerate(texts[:200])] == picked[:200]


def test_a_rare_labels_threshold_is_chosen_where_its_f1_is_best():
    truth = np.zeros((100, 3), bool)
    truth[:5, 0] = True  # rare: its probabilities reach 0.28 only
    truth[:50, 1] = True
    probabilities = np.full((100, 3), 0.05)
    probabilities[:5, 0] = 0.28
    probabilities[:50, 1] = 0.9
    thresholds = multi_label.choose_thresholds(probabilities, truth)
    # label 0: any threshold in [0.05, 0.28) answers exactly its 5 texts; the nearest 0.5 of those is 0.25.
    # label 1: every threshold in [0.05, 0.9) is perfect: 0.5 itself. label 2: no text has it: 0.5.
    assert thresholds.tolist() == [0.25, 0.5, 0.5]
    task = multi_label.MultiLabel(TaskSettings(label_separator="|"))
    score, fitted = task.fit_answer(np.log(probabilities / (1 - probabilities)), truth.astype(np.float32))
    assert score == 1.0 and fitted == {"label_thresholds": [0.25, 0.5, 0.5]}  # macro over the labels it holds
    assert tuple(fitted) == task.fitted_facts  # what a re-export (model/reexport.py) reads back


def test_the_latest_epoch_the_slice_cannot_tell_from_the_highest_is_the_best():
    """One standard error of 0.78 on 460 texts is 0.019: an epoch 2 texts lower is not worse, so the later one
    (trained longer, its learning rate decayed further) is kept and training goes on; an epoch lower by more than
    that is worse, and the higher, earlier one stays the best."""
    assert validation.resolution(0.78, 460) == pytest.approx(0.0193, abs=1e-4)

    def epoch(number, score):
        return {"epoch": number, "score": score, "texts": 460}

    assert validation.best_of([epoch(1, 0.7783), epoch(2, 0.7739)])["epoch"] == 2
    assert validation.best_of([epoch(1, 0.7783), epoch(2, 0.7739), epoch(3, 0.7500)])["epoch"] == 2
    assert validation.best_of([epoch(1, 0.7756), epoch(2, 0.8126), epoch(3, 0.7800)])["epoch"] == 2
    assert validation.best_of([epoch(1, 0.9), epoch(2, 0.9)])["epoch"] == 2
    assert validation.best_of([]) is None


def test_the_chosen_epochs_are_trained_again_on_the_whole_split_only_where_the_slice_chose_nothing_else():
    chosen = {"epoch": 2, "score": 0.77, "texts": 500, "fitted": {}}
    assert validation.refit_epochs(chosen, texts=5000, max_texts=10_000) == 2
    assert validation.refit_epochs(chosen, texts=10_001, max_texts=10_000) == 0  # a second training too long
    assert validation.refit_epochs(chosen, texts=5000, max_texts=0) == 0  # --refit-max-texts 0: never
    # a multi-label task's thresholds were fitted on the slice: a model that trained on it would not fit them
    assert validation.refit_epochs({**chosen, "fitted": {"label_thresholds": [0.3]}}, 5000, 10_000) == 0


def test_the_training_sentence_says_which_weights_were_exported():
    ran = {"epochs_trained": 3, "stopped_by": "--epochs 3 run", "best_epoch": 3}
    assert validation.outcome(ran) == ("3 epoch(s), stopped by --epochs 3 run; exported epoch 3's weights, the best "
                                       "on the validation slice")
    assert validation.outcome({**ran, "refit_epochs": 3, "refit_texts": 5000}) == (
        "3 epoch(s), stopped by --epochs 3 run; epoch 3 the best on the validation slice, then 3 epoch(s) trained "
        "again on the whole training split (5000 texts, the slice's included): their weights exported")
    assert validation.outcome({}) is None  # a model from before the validation slice
