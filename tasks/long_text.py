"""Long texts read whole (--long-text chunk): each text as overlapping windows, a text's answer its windows' logits
combined (mean or max) before the softmax or sigmoid: serving_default, TFMA, the BlessingGate, predict and make
score see one answer per text. Training computes its loss on that same combined answer (multiple-instance
learning), not on each window with its text's label: a text's label may rest on one passage, and its other
windows would teach noise.

A text of n word pieces takes one window when it fits (n <= max_seq_length - 2); otherwise windows of
max_seq_length - 2 pieces, each starting step = max_seq_length - 2 - stride pieces after the one before,
until one reaches the end: the reference tokenizer's return_overflowing_tokens with `stride`.

Transform writes one example per text, its windows' model inputs concatenated (window-major, each
max_seq_length long) as variable-length features; the exported model cuts them back into windows (from_per_text)
and knows which text each window came from; the Trainer's batches hold each text's windows side by side
([texts, windows, max_seq_length], padded with empty windows).
"""
from typing import Dict, List, Tuple

from contracts.errors import InputError
from contracts.features import ATTENTION_MASK, INPUT_IDS, MODEL_INPUTS
from tasks.base import InputShape

AGGREGATIONS = ("mean", "max")


class LongText(InputShape):
    def validate(self) -> None:
        s = self.settings
        if s.text_pair_column:
            raise InputError("--long-text chunk windows one text; a sentence pair (--text-pair-column) is cut by "
                             "longest_first: use --long-text truncate")
        if not 0 <= s.chunk_stride < s.max_seq_length - 2:
            raise InputError(f"--chunk-stride {s.chunk_stride}: must be at least 0 and less than --max-seq-length "
                             f"- 2 ({s.max_seq_length - 2}), so that each window moves on")

    def encode(self, tokenizer, texts: List) -> Dict:
        (text,) = texts
        return to_per_text(*tokenizer.encode_windows(text, self.settings.max_seq_length, self.settings.chunk_stride))

    def training_examples(self, features: Dict, labels):
        """Each text's windows: [texts, the batch's most windows, max_seq_length], padded with empty windows."""
        import tensorflow as tf

        return {name: tf.reshape(tf.sparse.to_dense(features[name]),
                                 [tf.shape(features[name], out_type=tf.int64)[0], -1, self.settings.max_seq_length])
                for name in MODEL_INPUTS}, labels

    def training_logits(self, inputs: Dict, logits):
        import tensorflow as tf

        size = self.settings.max_seq_length
        windows = {name: tf.reshape(inputs[name], [-1, size]) for name in MODEL_INPUTS}
        real = windows[ATTENTION_MASK][:, 0] > 0  # every window attends to its [CLS]; padding to nothing
        texts, per_text = tf.shape(inputs[INPUT_IDS])[0], tf.shape(inputs[INPUT_IDS])[1]
        text = tf.boolean_mask(tf.repeat(tf.range(texts), per_text), real)
        return self._combine(logits({name: tf.boolean_mask(w, real) for name, w in windows.items()}), text, texts)

    def text_logits(self, transformed: Dict, logits):
        windows_of_texts, text = from_per_text(transformed, self.settings.max_seq_length)
        return self._combine(logits(windows_of_texts), text, transformed[INPUT_IDS].dense_shape[0])

    def _combine(self, window_logits, text, texts):
        """Each text's logits from its windows' (--window-aggregation). Every text has at least one window (an empty
        text: [CLS] [SEP]), so no segment is empty."""
        import tensorflow as tf

        combine = (tf.math.unsorted_segment_max if self.settings.window_aggregation == "max"
                   else tf.math.unsorted_segment_mean)
        return combine(window_logits, text, texts)

    def length_columns(self, lengths) -> List[Dict]:
        import tensorflow as tf

        counts = count(tf.constant(lengths - 2, tf.int64), self.settings.max_seq_length,
                       self.settings.chunk_stride).numpy()
        size = self.settings.max_seq_length
        return [{"header": f"windows of {size} per text: mean", "value": float(counts.mean()), "format": ".2f"},
                {"header": "max", "value": int(counts.max()), "format": "d"},
                {"header": "texts in more than one window", "value": float((counts > 1).mean()), "format": "percent"}]

    def length_note(self) -> str:
        return (f"long texts are read whole in windows overlapping by {self.settings.chunk_stride} word pieces "
                "(--long-text chunk)")

    def card_input(self) -> str:
        s = self.settings
        return (f"texts longer than {s.max_seq_length} word pieces ([CLS] and [SEP] included) are read whole, in "
                f"overlapping windows of that length, whose logits are combined by their {s.window_aggregation} "
                "(--long-text chunk).")

    def card_limitation(self) -> str:
        return ("A text costs one encoder pass per window: long texts are slower to answer (the run report gives "
                "the windows per text).")


def step(max_seq_length: int, stride: int) -> int:
    return max_seq_length - 2 - stride


def count(lengths, max_seq_length: int, stride: int):
    """Windows per text, for word-piece counts without special tokens (an int64 tensor)."""
    import tensorflow as tf

    over = tf.maximum(lengths - (max_seq_length - 2), 0)
    return 1 + (over + step(max_seq_length, stride) - 1) // step(max_seq_length, stride)


def to_per_text(windows: Dict, counts) -> Dict:
    """[windows, max_seq_length] tensors -> one variable-length row per text (what Transform outputs)."""
    import tensorflow as tf

    length = tf.shape(windows[INPUT_IDS], out_type=tf.int64)[1]
    return {name: tf.RaggedTensor.from_row_lengths(tf.reshape(windows[name], [-1]), counts * length,
                                                   validate=False).to_sparse()
            for name in MODEL_INPUTS}


def from_per_text(per_text: Dict, max_seq_length: int) -> Tuple[Dict, object]:
    """The inverse of to_per_text: ([windows, max_seq_length] tensors, the text of each window)."""
    import tensorflow as tf

    rows = {name: tf.RaggedTensor.from_sparse(per_text[name]) for name in MODEL_INPUTS}
    ids = rows[INPUT_IDS]
    text = tf.repeat(tf.range(ids.nrows()), ids.row_lengths() // max_seq_length)
    return {name: tf.reshape(rows[name].flat_values, [-1, max_seq_length]) for name in MODEL_INPUTS}, text
