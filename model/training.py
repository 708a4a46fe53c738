"""Trainer's run_fn: fine-tunes the checkpoint on the transformed examples and exports the serving model."""
import hashlib
import json
import math
import os
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras
from absl import logging
from tfx import v1 as tfx

import tasks
from contracts import features
from model import distribution, export, gradient_checkpointing, keras_classifier, lora, warm_start
from model import validation as validation_slice
from model.settings import TrainerSettings
from preprocessing import checkpoint

_SHUFFLE_BUFFER = 10_000  # examples: a few MB of word-piece ids

def _records(files, settings: TrainerSettings, validation: Optional[bool]) -> tf.data.Dataset:
    """Transform's serialized examples of the training split: the validation slice's, the others, or (None)
    all of them."""
    records = tf.data.TFRecordDataset(tf.io.gfile.glob(files), compression_type="GZIP")
    if validation is None:
        return records
    return records.filter(lambda r: tf.equal(validation_slice.in_slice(r, settings.validation_fraction), validation))


def _parsed(records: tf.data.Dataset, tf_transform_output, batch_size: int) -> tf.data.Dataset:
    """Batches of (Transform's features, their label ids)."""
    spec = tf_transform_output.transformed_feature_spec()

    def parse(serialized):
        example = tf.io.parse_example(serialized, spec)
        return example, example.pop(features.LABEL_ID)

    return records.batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def _training_dataset(files, tf_transform_output, settings: TrainerSettings, classes: int,
                      slice_too: bool = False) -> tf.data.Dataset:
    """One batch per update, of texts (model inputs, or a long text's windows) with the label task's targets:
    the texts outside the validation slice, or (slice_too) all of them."""
    label_task, input_shape = tasks.label_task(settings.task), tasks.input_shape(settings.task)
    batch_size = settings.texts_per_update
    records = _records(files, settings, validation=None if slice_too else False)
    records = records.shuffle(_SHUFFLE_BUFFER, seed=settings.seed).repeat()
    dataset = _parsed(records, tf_transform_output, batch_size).map(
        lambda x, y: input_shape.training_examples(x, label_task.targets(y, classes)))
    # Workers split the batches, not the files: Transform writes few files, fewer than workers at times.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batch_by_length(dataset, batch_size).prefetch(tf.data.AUTOTUNE).with_options(options)


def batch_by_length(dataset: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """Regroups the shuffled texts into batches of similar length (word pieces, a long text's windows'
    together). The model cuts each batch to its own longest sequence (keras_classifier.trim_padding), so it
    computes on little padding (tweets: mean 35 tokens, p95 56)."""
    max_seq_length = dataset.element_spec[0][features.INPUT_IDS].shape[-1]
    boundaries = list(range(16, max_seq_length, 8))
    return dataset.unbatch().bucket_by_sequence_length(
        element_length_func=lambda x, y: tf.reduce_sum(tf.cast(x[features.ATTENTION_MASK], tf.int32)),
        bucket_boundaries=boundaries, bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        drop_remainder=True)


def _count_texts(files, settings: TrainerSettings) -> int:
    """Texts outside the validation slice (what --epochs counts)."""
    return int(_records(files, settings, validation=False).reduce(0, lambda n, _: n + 1))


def _class_shares(files, tf_transform_output, settings: TrainerSettings, classes: int) -> Optional[List[float]]:
    """Each class's share of the training texts outside the validation slice, for a label task whose loss weighs
    its classes (None for the others)."""
    label_task = tasks.label_task(settings.task)
    if not label_task.weighs_classes:
        return None
    counts, texts = np.zeros(classes), 0
    for _, label_ids in _parsed(_records(files, settings, validation=False), tf_transform_output, 1024):
        targets = label_task.targets(label_ids, classes)
        counts += tf.reduce_sum(tf.cast(targets, tf.float32), axis=0).numpy()
        texts += int(tf.shape(targets)[0])
    return (counts / max(texts, 1)).tolist()


def _steps(epochs: int, texts: int, settings: TrainerSettings) -> int:
    return epochs * math.ceil(texts / settings.texts_per_update)


class _ProgressLog(tf_keras.callbacks.Callback):
    """A line every `every` steps with the loss and the speed: fit's own output is one line per epoch.
    Steps are the optimizer's, so a run resumed from a backup counts on from where it stopped."""

    def __init__(self, total_steps: int, batch_size: int, backup: tf_keras.callbacks.BackupAndRestore,
                 every: int):
        super().__init__()
        self._total, self._batch, self._backup, self._every = total_steps, batch_size, backup, every
        self._start = None

    def on_train_begin(self, logs=None):
        step = int(self.model.optimizer.iterations.numpy())  # restored by BackupAndRestore, called before
        where = f"the backup in {self._backup.backup_dir}"
        if step:
            logging.info("Training resumed at step %d/%d from %s", step, self._total, where)
        else:
            logging.info("Training from step 0/%d, saving %s every %s steps", self._total, where,
                         self._backup.save_freq)

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if self._start is None:  # the first step includes tracing: time from the second on
            self._start = (step, time.monotonic())
        elif step % self._every == 0 or step == self._total:
            rate = (step - self._start[0]) / (time.monotonic() - self._start[1])
            done = step / self._total
            bar = "#" * round(20 * done) + "-" * (20 - round(20 * done))
            eta = time.strftime("%H:%M:%S", time.gmtime((self._total - step) / rate))
            logging.info("Training step %d/%d: loss %.4f [%s] %3.0f%%, %.2f steps/s (%.1f texts/s), ETA %s",
                         step, self._total, logs["loss"], bar, 100 * done, rate, rate * self._batch, eta)


def _dense_gradients(grads_and_vars):
    """The word embedding's gradient as a dense tensor. AdamW updates every row anyway (moments decay, weight
    decay applies), and the dense update is one fused kernel where the sparse one makes ~8 passes over the
    11.7M-value table: ~6% of a training step here, the same arithmetic."""
    return [(tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g, v) for g, v in grads_and_vars]


def compile_for_training(classifier, settings: TrainerSettings, train_steps: int, jit_compile: bool = False,
                         dense_embedding_update: bool = True,
                         class_shares: Optional[Sequence[float]] = None) -> tf_keras.Model:
    from transformers import create_optimizer  # AdamW, linear warm-up then linear decay to 0

    optimizer, _ = create_optimizer(
        init_lr=settings.learning_rate, num_train_steps=train_steps,
        num_warmup_steps=int(settings.warmup_fraction * train_steps), weight_decay_rate=settings.weight_decay)
    if dense_embedding_update:
        optimizer.gradient_transformers = [_dense_gradients]
    trainable = keras_classifier.TrainingModel(classifier, settings.gradient_accumulation_steps,
                                               tasks.input_shape(settings.task).training_logits)
    # The logged loss and accuracy as one replica sees them (they are synchronized already): Keras' default
    # sums them over the workers of a MultiWorkerMirroredStrategy, which reports N times the loss.
    trainable.distribute_reduction_method = "first"
    loss, accuracy = tasks.label_task(settings.task).loss_and_accuracy(class_shares)
    trainable.compile(optimizer=optimizer, loss=loss, metrics=[accuracy], jit_compile=jit_compile)
    # The optimizer's slots now, not in the first train step: a tf.function that creates variables is traced
    # twice (with, then without, creating them), and a BERT train step takes ~12 s to trace here. The same
    # call apply_gradients makes (the legacy optimizer's); the trained weights are the same bits.
    optimizer._create_all_weights(trainable.trainable_variables)  # noqa: SLF001
    return trainable


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    settings = TrainerSettings.from_custom_config(fn_args.custom_config)
    distribution.split_cpu(settings.cpu_devices)  # first: TensorFlow allows it only before its runtime starts
    tf_keras.utils.set_random_seed(settings.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    class_names = [c.decode() for c in tf_transform_output.vocabulary_by_name(features.LABEL_VOCABULARY)]
    training_texts = 0 if fn_args.train_steps else _count_texts(fn_args.train_files, settings)
    train_steps = fn_args.train_steps or _steps(settings.epochs, training_texts, settings)

    strategy = distribution.choose_strategy(settings.strategy)
    precision = distribution.set_precision_policy(settings.mixed_precision)
    logging.info("Training %d steps of global batch %d on %d replica(s) (%s), precision %s, classes %s",
                 train_steps, settings.batch_size, strategy.num_replicas_in_sync, distribution.name(strategy),
                 precision, class_names)

    train_ds = _training_dataset(fn_args.train_files, tf_transform_output, settings, len(class_names))
    class_shares = _class_shares(fn_args.train_files, tf_transform_output, settings, len(class_names))
    if class_shares:
        logging.info("Classes' shares of the training texts, weighing the loss: %s",
                     ", ".join(f"{c} {s:.3f}" for c, s in zip(class_names, class_shares)))
    validation_ds = _parsed(_records(fn_args.train_files, settings, validation=True), tf_transform_output,
                            settings.batch_size)
    with strategy.scope():
        classifier, trainable, base_model, parameters = _model_to_train(settings, class_names, train_steps,
                                                                        class_shares)

    backup_dir = _backup_dir(fn_args, settings)
    # Its record lives in the backup's directory, deleted with it when training ends.
    best_epoch = validation_slice.BestEpoch(
        classifier, validation_ds, settings.task, len(class_names), settings.early_stopping_patience,
        os.path.join(backup_dir, "validation") if distribution.is_chief(strategy) else None, class_shares)
    # One Keras "epoch" per configured epoch (or one for a step budget), so resumption and logs line up.
    epochs = settings.epochs if not fn_args.train_steps else 1
    _fit(trainable, train_ds, epochs, train_steps, settings, backup_dir, fn_args.model_run_dir, best_epoch)
    stopped = best_epoch.stopped or (f"--train-steps {fn_args.train_steps}" if fn_args.train_steps
                                     else f"--epochs {settings.epochs} run")
    best = best_epoch.best
    logging.info("Trained %d epoch(s), stopped by %s: epoch %d's weights are the best", len(best_epoch.history),
                 stopped, best["epoch"])

    whole_split = training_texts + best["texts"]
    refit = 0 if fn_args.train_steps else validation_slice.refit_epochs(best, whole_split, settings.refit_max_texts)
    refit_facts = {}
    if refit:
        refit_steps = _steps(refit, whole_split, settings)
        logging.info("Training %d epoch(s) again, from the start, on the whole training split (%d texts, the "
                     "validation slice's included): %d steps", refit, whole_split, refit_steps)
        tf_keras.utils.set_random_seed(settings.seed)
        with strategy.scope():
            classifier, trainable, _, _ = _model_to_train(settings, class_names, refit_steps, class_shares)
        whole_ds = _training_dataset(fn_args.train_files, tf_transform_output, settings, len(class_names),
                                     slice_too=True)
        # Its own backup: the first training's is gone, and a re-run trains that again (the same epochs chosen).
        _fit(trainable, whole_ds, refit, refit_steps, settings, backup_dir + "-refit",
             os.path.join(fn_args.model_run_dir, "refit"))
        refit_facts = {"refit_epochs": refit, "refit_texts": whole_split, "refit_steps": refit_steps}

    lora_merge = _merge_adapters(trainable, train_ds) if settings.lora_rank else {}
    weights = weights_digest(classifier)
    logging.info("Trained weights: sha256 %s", weights)
    exported = export.ExportModule(classifier, export.TransformGraph(tf_transform_output), class_names,
                                   tf_transform_output.raw_feature_spec(), export.ExportSettings.of(settings),
                                   best["fitted"])
    if not distribution.is_chief(strategy):
        # Every worker saves, so that they stay in step, but into scratch space: the model is the chief's.
        # TFX then checks that the model exists, so a worker returns once the chief has written it.
        with tempfile.TemporaryDirectory() as scratch:
            exported.save(scratch)
        _wait_for_chief(fn_args.serving_model_dir)
        return
    exported.save(fn_args.serving_model_dir)
    export.write_hyperparameters(fn_args.serving_model_dir, {
        **settings.to_custom_config(), "train_steps": train_steps, "steps_per_epoch": math.ceil(train_steps / epochs),
        "steps_trained": int(trainable.optimizer.iterations.numpy()), "epochs_trained": len(best_epoch.history),
        "stopped_by": stopped, **best_epoch.facts(class_names), **refit_facts,
        "class_names": class_names, "precision_policy": precision,
        "strategy": distribution.name(strategy), "replicas": strategy.num_replicas_in_sync,
        "weights_sha256": weights, "warm_started_from": base_model, **parameters, **lora_merge})


def _model_to_train(settings: TrainerSettings, class_names: List[str], train_steps: int,
                    class_shares: Optional[Sequence[float]]):
    """In the strategy's scope: the checkpoint as a classifier (or the last blessed model, warm-started), with
    the training options, compiled for train_steps: (classifier, trainable, warm start's model, parameter counts)."""
    classifier = keras_classifier.load_classifier(checkpoint.local_dir(settings.checkpoint_dir), len(class_names))
    # Before any adapter is added: the served model's weights are a full model's.
    base_model = warm_start.restore(classifier, class_names, settings.task.labels, settings.warm_start_root)
    parameters = apply_training_options(classifier, settings)
    return classifier, compile_for_training(classifier, settings, train_steps, class_shares=class_shares), \
        base_model, parameters


def _fit(trainable: tf_keras.Model, dataset: tf.data.Dataset, epochs: int, steps: int, settings: TrainerSettings,
         backup_dir: str, log_dir: str, *callbacks: tf_keras.callbacks.Callback) -> None:
    """Trains `steps` updates in `epochs` Keras epochs, backed up to backup_dir (a re-run resumes from it; deleted
    once done), logged every log_every_steps and to TensorBoard in log_dir."""
    backup = tf_keras.callbacks.BackupAndRestore(backup_dir=backup_dir, save_freq=settings.backup_every_steps,
                                                 delete_checkpoint=True)
    progress = _ProgressLog(steps, settings.batch_size, backup, settings.log_every_steps)
    trainable.fit(dataset, epochs=epochs, steps_per_epoch=math.ceil(steps / epochs), verbose=2,
                  callbacks=[backup, *callbacks, progress,
                             tf_keras.callbacks.TensorBoard(log_dir=log_dir, update_freq=20)])


def apply_training_options(classifier: tf_keras.Model, settings: TrainerSettings) -> Dict[str, int]:
    """LoRA adapters and gradient checkpointing, as configured; returns the parameter counts."""
    if settings.lora_rank:
        counts = lora.add_adapters(classifier, settings.lora_rank, settings.lora_alpha, settings.lora_dropout,
                                   settings.lora_targets)
    else:
        counts = lora.parameter_counts(classifier)
    if settings.gradient_checkpointing:
        gradient_checkpointing.enable(classifier)
    logging.info("Training %d of %d parameters (%s)", counts["trainable_parameters"], counts["total_parameters"],
                 f"LoRA rank {settings.lora_rank} on {', '.join(settings.lora_targets)}" if settings.lora_rank
                 else "full fine-tune")
    return counts


def _merge_adapters(trainable: keras_classifier.TrainingModel, dataset: tf.data.Dataset) -> Dict[str, Any]:
    """Folds the adapters into the weights, checking on a training batch that the logits did not move."""
    batch = next(iter(dataset))[0]
    before = trainable(batch, training=False)
    merged = lora.merge(trainable.classifier)
    difference = float(tf.reduce_max(tf.abs(trainable(batch, training=False) - before)))
    logging.info("Merged %d LoRA adapters into their kernels: logits moved by at most %.2e", merged, difference)
    return {"lora_adapters_merged": merged, "lora_merge_max_logit_difference": difference}


def _wait_for_chief(serving_model_dir: str, timeout_seconds: int = 1800) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not tf.io.gfile.exists(os.path.join(serving_model_dir, "saved_model.pb")):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the chief did not write the model to {serving_model_dir} within "
                               f"{timeout_seconds} s: see the chief's log")
        time.sleep(2)
    logging.info("The chief wrote the model to %s", serving_model_dir)


def weights_digest(classifier: tf_keras.Model) -> str:
    """A fingerprint of the trained weights: replicas and workers that trained together must agree on it."""
    digest = hashlib.sha256()
    for variable in classifier.weights:
        digest.update(variable.name.encode())
        digest.update(variable.numpy().tobytes())
    return digest.hexdigest()


def _backup_dir(fn_args: tfx.components.FnArgs, settings: TrainerSettings) -> str:
    """A directory that outlives this execution (whose output URIs are new on every attempt), keyed by
    what the training depends on, so only a re-run of the same training resumes from it."""
    key = json.dumps([fn_args.transform_output, fn_args.train_files, fn_args.train_steps, settings.to_custom_config()],
                     sort_keys=True)
    return os.path.join(settings.backup_dir, hashlib.sha256(key.encode()).hexdigest()[:16])
