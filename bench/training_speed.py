"""Our training step's speed on one configuration: prints one JSON object (run by bench/run_all.py).

The Trainer's own pieces: the graph tokenizer's ids, the Trainer's length-bucketed batches cut to their
longest sequence (`--padding buckets`, what run_fn does) or every batch padded to max_seq_length
(`--padding static`), the classifier and its compile (AdamW, warm-up, loss) from model/training.py, and
Keras fit. Each step after `--warmup` is timed; see timing.training_result.
"""
import argparse
import json
import os
import sys
import time

import contracts.environment  # noqa: F401  (before TensorFlow)

import numpy as np
import tensorflow as tf
import tf_keras

from contracts import features
from model import distribution, keras_classifier, training
from pipeline import configs
from preprocessing import tokenize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timing


def encoded(checkpoint: str, texts, max_seq_length: int):
    tokenizer = tokenize.BertGraphTokenizer(tokenize.load_wordpiece_spec(checkpoint))
    out = tokenizer.encode(tf.constant(texts), max_seq_length)
    return {name: out[name] for name in features.MODEL_INPUTS}


def encoded_windows(checkpoint: str, texts, labels: np.ndarray, max_seq_length: int, stride: int):
    """Every text's windows (--long-text chunk), each with its text's label, as the Trainer sees them."""
    tokenizer = tokenize.BertGraphTokenizer(tokenize.load_wordpiece_spec(checkpoint))
    out, counts = tokenizer.encode_windows(tf.constant(texts), max_seq_length, stride)
    return {name: out[name] for name in features.MODEL_INPUTS}, np.repeat(labels, counts.numpy())


def batches(inputs, labels, batch_size: int, padding: str, seed: int) -> tf.data.Dataset:
    """The Trainer's input after tf_dataset_factory: shuffled fixed-length batches, then its bucketing."""
    dataset = (tf.data.Dataset.from_tensor_slices((inputs, labels)).shuffle(len(labels), seed=seed)
               .repeat().batch(batch_size, drop_remainder=True))
    if padding == "buckets":
        dataset = training.batch_by_length(dataset, batch_size).map(
            lambda x, y: (keras_classifier.trim_padding(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def token_counts(dataset: tf.data.Dataset, skip: int, take: int):
    """Per timed batch: real tokens, computed positions and attention positions (the same batches again: the
    shuffle is seeded and the bucketing deterministic)."""
    return [(int(mask.sum()), mask.size, mask.size * mask.shape[1])
            for mask in (x[features.ATTENTION_MASK].numpy() for x, _ in dataset.skip(skip).take(take))]


class _StepClock(tf_keras.callbacks.Callback):
    """When each step ends (reading the loss waits for the step to finish)."""

    def __init__(self, warmup: int):
        super().__init__()
        self.warmup, self.start, self.ends, self.losses = warmup, None, [], []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))
        if batch + 1 == self.warmup:
            self.start = time.perf_counter()
        elif batch + 1 > self.warmup:
            self.ends.append(time.perf_counter())


class _Profile(tf_keras.callbacks.Callback):
    """A TensorBoard profile (tf.profiler) of the timed steps, after the warm-up's retracing."""

    def __init__(self, warmup: int, logdir: str):
        super().__init__()
        self.warmup, self.logdir = warmup, logdir

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.warmup:
            tf.profiler.experimental.start(self.logdir)

    def on_train_end(self, logs=None):
        tf.profiler.experimental.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--texts", required=True, help="JSON file: {'texts': [...], 'labels': [int, ...]}")
    parser.add_argument("--padding", choices=["static", "buckets"], required=True)
    parser.add_argument("--precision", default="float32", choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--jit-compile", action="store_true", help="XLA-compile the train step")
    parser.add_argument("--sparse-embedding-update", action="store_true",
                        help="AdamW on the word embedding's sparse gradient (before the Trainer densified it)")
    parser.add_argument("--steps", type=int, required=True, help="timed steps")
    parser.add_argument("--warmup", type=int, required=True, help="steps before the clock starts")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--window", type=int, required=True, help="steps per timing window")
    parser.add_argument("--profile-dir", help="also write a TensorBoard profile of the timed steps here")
    parser.add_argument("--max-seq-length", type=int, default=configs.PipelineConfig.max_seq_length)
    parser.add_argument("--batch-size", type=int, default=configs.PipelineConfig.batch_size)
    parser.add_argument("--window-stride", type=int, default=-1,
                        help="train on every text's windows with this stride (--long-text chunk); -1: truncate")
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    config = configs.PipelineConfig(max_seq_length=args.max_seq_length, batch_size=args.batch_size)
    tf_keras.utils.set_random_seed(config.seed)
    distribution.set_precision_policy(args.precision)

    data = json.load(open(args.texts))
    num_classes = max(data["labels"]) + 1
    labels = np.array(data["labels"], np.int64)
    if args.window_stride < 0:
        inputs = encoded(args.checkpoint, data["texts"], config.max_seq_length)
    else:
        inputs, labels = encoded_windows(args.checkpoint, data["texts"], labels, config.max_seq_length,
                                         args.window_stride)
    dataset = batches(inputs, labels, config.batch_size, args.padding, config.seed)
    total = args.warmup + args.steps
    hp = config.trainer_settings()
    classifier = keras_classifier.load_classifier(args.checkpoint, num_classes)
    trainable = training.compile_for_training(classifier, hp, total, jit_compile=args.jit_compile,
                                             dense_embedding_update=not args.sparse_embedding_update)
    callbacks = [_StepClock(args.warmup)] + ([_Profile(args.warmup, args.profile_dir)] if args.profile_dir else [])
    trainable.fit(dataset, epochs=1, steps_per_epoch=total, callbacks=callbacks, verbose=0)
    clock = callbacks[0]
    counts = token_counts(dataset, args.warmup, args.steps)
    print(json.dumps({**timing.training_result(clock.start, clock.ends, counts, config.batch_size, clock.losses,
                                               args.window),
                      "versions": f"tensorflow {tf.__version__}"}))


if __name__ == "__main__":
    main()
