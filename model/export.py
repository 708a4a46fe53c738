"""The SavedModel the Trainer exports: the serving contract, relied on by users, the Evaluator and
serving_config/ (signature and output names: contracts/names.py).

- serving_default:    text (string [None])      -> probabilities, label, class_id
                      (a sentence-pair model: text and text_pair, string [None] each; a long-text
                      model reads each text as windows and combines their logits: the same contract;
                      a multi-label model: probabilities are each label's (sigmoid), label holds the
                      labels above their thresholds joined by the separator, class_id the likeliest's)
- serving_tf_example: examples (serialized tf.Example of the raw features) -> the same outputs
- transform_features: examples -> the transformed features (TFMA's preprocessing function)

Beside it, assets.extra/hyperparameters.json: how the model was made (class names, training settings, the
model it started from); TF Serving ignores that directory's other files.
"""
import json
import os
from typing import Any, Dict, Sequence

import tensorflow as tf
import tf_keras

from contracts import layout, names
from contracts.text_columns import TextColumns
from model import encoder
from model.keras_classifier import trim_padding
from preprocessing import features, windows


def write_hyperparameters(model_dir: str, values: Dict[str, Any]) -> None:
    tf.io.gfile.makedirs(os.path.dirname(os.path.join(model_dir, layout.HYPERPARAMETERS)))
    with tf.io.gfile.GFile(os.path.join(model_dir, layout.HYPERPARAMETERS), "w") as f:
        json.dump(values, f, indent=2, sort_keys=True)


def read_hyperparameters(model_dir: str) -> Dict[str, Any]:
    with tf.io.gfile.GFile(os.path.join(model_dir, layout.HYPERPARAMETERS)) as f:
        return json.load(f)


class ExportModule(tf.Module):
    """What the SavedModel holds: the transform graph (tokenizer included) and the classifier's forward pass
    (model/encoder.py: the trained weights in a graph laid out for CPU serving)."""

    def __init__(self, classifier: tf_keras.Model, tft_layer, class_names: Sequence[str],
                 raw_feature_spec: Dict[str, tf.io.FixedLenFeature], columns: TextColumns, label_column: str,
                 sub_batch_size: int, encoder_branches: int, window_aggregation: str = "",
                 max_seq_length: int = 0, label_separator: str = ""):
        """window_aggregation: "" when each text is one input; "mean" or "max" when Transform gives each text
        as windows of max_seq_length (--long-text chunk), whose logits are combined per text.
        label_separator: "" for one class per text; else a multi-label model, which answers every label
        whose probability is above its threshold."""
        super().__init__()
        self.encoder = encoder.ServingEncoder(classifier, encoder_branches)
        self.tft_layer = tft_layer  # tracked: its tables and vocab.txt asset go into the SavedModel
        self._class_names = tf.constant(list(class_names))
        self._num_classes = len(class_names)
        self._sub_batch_size = sub_batch_size
        self._raw_feature_spec = dict(raw_feature_spec)
        self._serving_feature_spec = {k: v for k, v in raw_feature_spec.items() if k != label_column}
        self._text_columns = columns.columns
        self._window_aggregation, self._max_seq_length = window_aggregation, max_seq_length
        self._label_separator = label_separator
        self._thresholds = [names.MULTI_LABEL_THRESHOLD] * len(class_names) if label_separator else []
        # serving_default's inputs are the text columns' (contracts/text_columns.py): one or two.
        self.serve_text = tf.function(self._serve_text, autograph=False, input_signature=[
            tf.TensorSpec([None], tf.string, name=name) for name in columns.inputs])

    def _classify(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
        inputs = trim_padding(inputs)
        return self.encoder.logits(*(inputs[name] for name in features.MODEL_INPUTS))

    def _logits(self, transformed: Dict[str, tf.Tensor]) -> tf.Tensor:
        """A request of up to sub_batch_size texts goes straight through (no sorting work at batch 1); a larger
        one is sorted by length into sub-batches, each cut to its own longest text.

        A request's texts are padded to its longest one; sorted sub-batches compute on little padding
        (1.7x the throughput at batch 32 on tweets), and TensorFlow runs independent iterations of the loop
        on separate inter-op threads. Core ops only (While, TensorList): stock TF Serving runs it. The answer
        does not depend on the order: each text is masked to its own length.
        """
        size = self._sub_batch_size
        lengths = tf.reduce_sum(tf.cast(transformed[features.ATTENTION_MASK], tf.int32), axis=1)

        def by_length():
            order = tf.argsort(lengths)
            sorted_inputs = {name: tf.gather(transformed[name], order) for name in features.MODEL_INPUTS}
            count = (tf.shape(order)[0] + size - 1) // size
            logits = tf.TensorArray(tf.float32, size=count, infer_shape=False,
                                    element_shape=tf.TensorShape([None, self._num_classes]))

            def classify_sub_batch(i, logits):
                sub_batch = {name: values[i * size:(i + 1) * size] for name, values in sorted_inputs.items()}
                return i + 1, logits.write(i, self._classify(sub_batch))

            _, logits = tf.while_loop(lambda i, _: i < count, classify_sub_batch, [tf.constant(0), logits])
            return tf.gather(logits.concat(), tf.argsort(order))  # back to the request's order

        return tf.cond(tf.size(lengths) <= size, lambda: self._classify(transformed), by_length)

    def _text_logits(self, transformed: Dict[str, tf.Tensor]) -> tf.Tensor:
        if not self._window_aggregation:
            return self._logits(transformed)
        windows_of_texts, text = windows.from_per_text(transformed, self._max_seq_length)
        combine = tf.math.unsorted_segment_max if self._window_aggregation == "max" else tf.math.unsorted_segment_mean
        # Every text has at least one window (an empty text: [CLS] [SEP]), so no segment is empty.
        return combine(self._logits(windows_of_texts), text, transformed[features.INPUT_IDS].dense_shape[0])

    def thresholds(self) -> Dict[str, Dict[str, float]]:
        """A multi-label model's thresholds per label, for hyperparameters.json."""
        class_names = [name.decode() for name in self._class_names.numpy()]
        return {"label_thresholds": dict(zip(class_names, self._thresholds))} if self._label_separator else {}

    def _predict(self, raw_features: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        logits = self._text_logits(self.tft_layer(raw_features))
        if not self._label_separator:
            probabilities = tf.nn.softmax(logits, axis=-1)
            class_id = tf.argmax(probabilities, axis=-1)
            return {names.PROBABILITIES: probabilities, names.LABEL: tf.gather(self._class_names, class_id),
                    names.CLASS_ID: class_id}
        probabilities = tf.nn.sigmoid(logits)
        chosen = probabilities > tf.constant(self._thresholds)
        labels = tf.ragged.boolean_mask(tf.broadcast_to(self._class_names, tf.shape(chosen)), chosen)
        return {names.PROBABILITIES: probabilities,
                names.LABEL: tf.strings.reduce_join(labels, axis=-1, separator=self._label_separator),
                names.CLASS_ID: tf.argmax(probabilities, axis=-1)}

    def _serve_text(self, *texts):
        return self._predict({column: tf.reshape(text, [-1, 1]) for column, text in zip(self._text_columns, texts)})

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string, name=names.EXAMPLES_INPUT)])
    def serve_tf_example(self, examples):
        return self._predict(tf.io.parse_example(examples, self._serving_feature_spec))

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string, name=names.EXAMPLES_INPUT)])
    def transform_features(self, examples):
        transformed = self.tft_layer(tf.io.parse_example(examples, self._raw_feature_spec))
        if self._label_separator:  # TFMA's multi-label metrics take a 0/1 label per class
            transformed[features.LABEL_ID] = features.multi_hot(transformed[features.LABEL_ID], self._num_classes)
        return transformed

    def save(self, export_dir: str) -> None:
        tf.saved_model.save(self, export_dir, signatures={
            names.SERVING_DEFAULT: self.serve_text.get_concrete_function(),
            names.SERVING_TF_EXAMPLE: self.serve_tf_example.get_concrete_function(),
            names.TRANSFORM_FEATURES: self.transform_features.get_concrete_function(),
        })
