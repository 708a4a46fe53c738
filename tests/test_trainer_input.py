"""The Trainer's input and step: length-bucketed batches (every example in turn, each batch cut to its own
longest sequence) and the dense update of the word embedding (the same arithmetic as the sparse one)."""
import collections

import numpy as np
import tensorflow as tf
import tf_keras

from contracts import features
from model import keras_classifier, training

from tiny_bert import training_settings

MAX_LEN, BATCH, EXAMPLES = 64, 16, 400


def _stream(lengths: np.ndarray) -> tf.data.Dataset:
    """As tf_dataset_factory hands it to the Trainer: shuffled, repeated, fixed-length batches. The example's
    index rides in input_ids[0] so that the test can tell the examples apart."""
    positions = np.arange(MAX_LEN)
    mask = (positions[None, :] < lengths[:, None]).astype(np.int64)
    ids = np.where(mask == 1, 1000 + positions[None, :], 0)
    ids[:, 0] = np.arange(len(lengths))
    inputs = {features.INPUT_IDS: ids, features.ATTENTION_MASK: mask, features.TOKEN_TYPE_IDS: np.zeros_like(mask)}
    return (tf.data.Dataset.from_tensor_slices((inputs, np.zeros(len(lengths), np.int64)))
            .shuffle(len(lengths), seed=1).repeat().batch(BATCH))


def _tweet_like_lengths() -> np.ndarray:
    return np.clip(np.random.default_rng(0).normal(35, 12, EXAMPLES).astype(int), 3, MAX_LEN)


def test_every_example_comes_once_per_pass_and_none_is_dropped():
    lengths = _tweet_like_lengths()
    passes = 5
    batches = training.batch_by_length(_stream(lengths), BATCH).take(passes * EXAMPLES // BATCH)
    seen = collections.Counter(int(i) for x, _ in batches for i in x[features.INPUT_IDS][:, 0].numpy())
    assert sum(seen.values()) == passes * EXAMPLES
    assert set(seen) == set(range(EXAMPLES))
    # An example waits in its length bucket until the bucket fills, so what is behind at any time is at
    # most a batch less one per bucket, plus what is left of the batch being split: late, never lost.
    buckets = len(range(16, MAX_LEN, 8)) + 1
    assert sum(max(0, passes - n) for n in seen.values()) <= (buckets + 1) * (BATCH - 1)


def test_batches_are_cut_to_their_longest_and_keep_each_example_whole():
    lengths = _tweet_like_lengths()
    computed = real = 0
    for x, _ in training.batch_by_length(_stream(lengths), BATCH).map(
            lambda x, y: (keras_classifier.trim_padding(x), y)).take(100):
        mask, ids = x[features.ATTENTION_MASK].numpy(), x[features.INPUT_IDS].numpy()
        assert mask.shape == (BATCH, mask.sum(axis=1).max())
        assert (mask.sum(axis=1) == lengths[ids[:, 0]]).all()  # nothing of an example was cut
        computed, real = computed + mask.size, real + mask.sum()
    static_padding = 1 - lengths.mean() / MAX_LEN
    assert 1 - real / computed < 0.15 < static_padding  # ~45% of a batch padded to 64 is padding


def _embedding_classifier() -> tf_keras.Model:
    """The shape of the real classifier that matters here: a gathered embedding table (sparse gradient)."""
    inputs = {name: tf_keras.Input(shape=(None,), dtype=tf.int64, name=name) for name in features.MODEL_INPUTS}
    embedded = tf_keras.layers.Embedding(2000, 8)(inputs[features.INPUT_IDS])
    return tf_keras.Model(inputs, tf_keras.layers.Dense(3)(tf.reduce_mean(embedded, axis=1)))


def test_dense_embedding_update_is_the_sparse_update():
    x, _ = next(iter(_stream(_tweet_like_lengths())))
    y = np.arange(BATCH) % 3
    hp = training_settings(learning_rate=1e-2, warmup_fraction=0.0, weight_decay=0.01)
    tables = []
    for dense in (False, True):
        tf_keras.utils.set_random_seed(0)
        classifier = _embedding_classifier()
        table = classifier.get_weights()[0]
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(classifier(x))
        assert isinstance(tape.gradient(loss, classifier.trainable_variables[0]), tf.IndexedSlices)
        trainable = training.compile_for_training(classifier, hp, train_steps=10, dense_embedding_update=dense)
        trainable.fit(x, y, batch_size=BATCH, epochs=3, verbose=0)
        tables.append(classifier.get_weights()[0])
    np.testing.assert_allclose(tables[1], tables[0], rtol=1e-5, atol=1e-7)
    unseen = np.setdiff1d(np.arange(len(table)), x[features.INPUT_IDS].numpy())
    assert not np.allclose(tables[1][unseen], table[unseen])  # weight decay reaches every row, as in AdamW
