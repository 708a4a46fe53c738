"""Long texts as overlapping windows (--long-text chunk): how many windows a text takes, and how a batch's
windows travel as one example per text.

A text of n word pieces takes one window when it fits (n <= max_seq_length - 2); otherwise windows of
max_seq_length - 2 pieces, each starting step = max_seq_length - 2 - stride pieces after the one before,
until one reaches the end: the reference tokenizer's return_overflowing_tokens with `stride`.

Transform writes one example per text, its windows' model inputs concatenated (window-major, each
max_seq_length long) as variable-length features; the Trainer and the exported model cut them back into
windows (from_per_text) and know which text each window came from.
"""
from typing import Dict, Tuple

import tensorflow as tf

from preprocessing import features


def step(max_seq_length: int, stride: int) -> int:
    return max_seq_length - 2 - stride


def count(lengths: tf.Tensor, max_seq_length: int, stride: int) -> tf.Tensor:
    """Windows per text, for word-piece counts without special tokens (int64)."""
    over = tf.maximum(lengths - (max_seq_length - 2), 0)
    return 1 + (over + step(max_seq_length, stride) - 1) // step(max_seq_length, stride)


def to_per_text(windows: Dict[str, tf.Tensor], counts: tf.Tensor) -> Dict[str, tf.SparseTensor]:
    """[windows, max_seq_length] tensors -> one variable-length row per text (what Transform outputs)."""
    length = tf.shape(windows[features.INPUT_IDS], out_type=tf.int64)[1]
    return {name: tf.RaggedTensor.from_row_lengths(tf.reshape(windows[name], [-1]), counts * length,
                                                   validate=False).to_sparse()
            for name in features.MODEL_INPUTS}


def from_per_text(per_text: Dict[str, tf.SparseTensor], max_seq_length: int) -> Tuple[Dict[str, tf.Tensor],
                                                                                     tf.Tensor]:
    """The inverse of to_per_text: ([windows, max_seq_length] tensors, the text of each window)."""
    rows = {name: tf.RaggedTensor.from_sparse(per_text[name]) for name in features.MODEL_INPUTS}
    ids = rows[features.INPUT_IDS]
    text = tf.repeat(tf.range(ids.nrows()), ids.row_lengths() // max_seq_length)
    return {name: tf.reshape(rows[name].flat_values, [-1, max_seq_length]) for name in features.MODEL_INPUTS}, text
