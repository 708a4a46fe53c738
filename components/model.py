"""The Keras BERT classifier and the SavedModel it is exported as (the serving contract).

Serving contract, relied on by users, the Evaluator and serving_config/:
- serving_default:    text (string [None])      -> probabilities, label, class_id
- serving_tf_example: examples (serialized tf.Example of the raw features) -> the same outputs
- transform_features: examples -> the transformed features (TFMA's preprocessing function)
"""
import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from typing import Any, Dict, Sequence  # noqa: E402

import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from components import encoder  # noqa: E402
from components.encoder import HEAD_LAYER  # noqa: E402
from preprocessing import features  # noqa: E402

WEIGHT_FILES = ("model.safetensors", "tf_model.h5")  # never pickles: no pytorch_model.bin
# How the model was made (class names, training settings, the model it started from), in assets.extra/:
# TF Serving ignores that directory's other files.
HYPERPARAMETERS = os.path.join("assets.extra", "hyperparameters.json")


def write_hyperparameters(model_dir: str, values: Dict[str, Any]) -> None:
    tf.io.gfile.makedirs(os.path.dirname(os.path.join(model_dir, HYPERPARAMETERS)))
    with tf.io.gfile.GFile(os.path.join(model_dir, HYPERPARAMETERS), "w") as f:
        json.dump(values, f, indent=2, sort_keys=True)


def read_hyperparameters(model_dir: str) -> Dict[str, Any]:
    with tf.io.gfile.GFile(os.path.join(model_dir, HYPERPARAMETERS)) as f:
        return json.load(f)


def _model_inputs() -> Dict[str, tf.Tensor]:
    """Variable-length inputs: each batch comes cut to its own longest sequence (trim_padding)."""
    return {name: tf_keras.Input(shape=(None,), dtype=tf.int64, name=name) for name in features.MODEL_INPUTS}


def load_classifier(checkpoint_dir: str, num_classes: int) -> tf_keras.Model:
    """The checkpoint's encoder (transformers' TF BERT), mean-pooled over real tokens, and a new dense head.

    Mean pooling rather than the [CLS] pooler: sentence-transformers checkpoints such as the default were
    trained to be read that way (their pooler is left over from pre-training), and it is a sound choice
    for plain BERT checkpoints too. Outputs logits, float32 under any precision policy.
    """
    from transformers import TFAutoModel

    encoder = TFAutoModel.from_pretrained(
        checkpoint_dir, local_files_only=True,
        use_safetensors=os.path.exists(os.path.join(checkpoint_dir, "model.safetensors")))
    if getattr(encoder, "bert", None) is not None and encoder.bert.pooler is not None:
        encoder.bert.pooler.trainable = False  # unused (mean pooling): no gradient, so no update either way
    inputs = _model_inputs()
    hidden = encoder(inputs).last_hidden_state
    mask = tf.cast(inputs[features.ATTENTION_MASK], hidden.dtype)[:, :, None]
    pooled = tf.reduce_sum(hidden * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
    pooled = tf_keras.layers.Dropout(encoder.config.hidden_dropout_prob)(pooled)
    logits = tf_keras.layers.Dense(
        num_classes, dtype="float32", name=HEAD_LAYER,
        kernel_initializer=tf_keras.initializers.TruncatedNormal(stddev=encoder.config.initializer_range))(pooled)
    return tf_keras.Model(inputs, logits, name="bert_classifier")


def trim_padding(batch: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Cuts the model inputs to the longest sequence in the batch: padding beyond it is masked anyway,
    and tweets are much shorter than max_seq_length, so this skips most of the padding compute."""
    # At least 1: the max over an empty batch is INT_MIN, and a request with no texts must still answer.
    length = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(batch[features.ATTENTION_MASK], tf.int32), axis=1)), 1)
    return {name: batch[name][:, :length] for name in features.MODEL_INPUTS}


class TrainingModel(tf_keras.Model):
    """fit()'s model: the classifier, whose optimizer attaches here so that the exported classifier carries
    no optimizer state. With accumulation_steps > 1, each batch is cut into that many micro-batches, run one
    after the other (only one micro-batch's activations are alive at a time), and one update is made from
    their mean gradient: the update of the whole batch, in a micro-batch's memory."""

    def __init__(self, classifier: tf_keras.Model, accumulation_steps: int = 1):
        inputs = _model_inputs()
        super().__init__(inputs, classifier(inputs))
        self.accumulation_steps = accumulation_steps

    def train_step(self, data):
        if self.accumulation_steps == 1:
            return super().train_step(data)
        x, y, _ = tf_keras.utils.unpack_x_y_sample_weight(data)
        steps = self.accumulation_steps
        size = tf.shape(y)[0] // steps
        variables = self.trainable_variables
        scaled = isinstance(self.optimizer, tf_keras.mixed_precision.LossScaleOptimizer)

        def micro_step(i, sums):
            part_x = trim_padding({name: values[i * size:(i + 1) * size] for name, values in x.items()})
            part_y = y[i * size:(i + 1) * size]
            with tf.GradientTape() as tape:
                predictions = self(part_x, training=True)
                loss = self.compute_loss(part_x, part_y, predictions)
                if scaled:
                    loss = self.optimizer.get_scaled_loss(loss)
            gradients = tape.gradient(loss, variables)
            if scaled:
                gradients = self.optimizer.get_unscaled_gradients(gradients)
            self.compiled_metrics.update_state(part_y, predictions)
            return i + 1, [total + tf.convert_to_tensor(g) for total, g in zip(sums, gradients)]

        _, sums = tf.while_loop(lambda i, _: i < steps, micro_step,
                                [tf.constant(0), [tf.zeros(v.shape, v.dtype) for v in variables]],
                                parallel_iterations=1)
        self.optimizer.apply_gradients(zip([total / steps for total in sums], variables))
        return self.get_metrics_result()


class ExportModule(tf.Module):
    """What the SavedModel holds: the transform graph (tokenizer included) and the classifier's forward pass
    (components/encoder.py: the trained weights in a graph laid out for CPU serving)."""

    def __init__(self, classifier: tf_keras.Model, tft_layer, class_names: Sequence[str],
                 raw_feature_spec: Dict[str, tf.io.FixedLenFeature], text_column: str, label_column: str,
                 sub_batch_size: int, encoder_branches: int):
        super().__init__()
        self.encoder = encoder.ServingEncoder(classifier, encoder_branches)
        self.tft_layer = tft_layer  # tracked: its tables and vocab.txt asset go into the SavedModel
        self._class_names = tf.constant(list(class_names))
        self._num_classes = len(class_names)
        self._sub_batch_size = sub_batch_size
        self._raw_feature_spec = dict(raw_feature_spec)
        self._serving_feature_spec = {k: v for k, v in raw_feature_spec.items() if k != label_column}
        self._text_column = text_column

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

    def _predict(self, raw_features: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        logits = self._logits(self.tft_layer(raw_features))
        probabilities = tf.nn.softmax(logits, axis=-1)
        class_id = tf.argmax(probabilities, axis=-1)
        return {"probabilities": probabilities, "label": tf.gather(self._class_names, class_id),
                "class_id": class_id}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(self, text):
        return self._predict({self._text_column: tf.reshape(text, [-1, 1])})

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_tf_example(self, examples):
        return self._predict(tf.io.parse_example(examples, self._serving_feature_spec))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(self, examples):
        return self.tft_layer(tf.io.parse_example(examples, self._raw_feature_spec))

    def save(self, export_dir: str) -> None:
        tf.saved_model.save(self, export_dir, signatures={
            "serving_default": self.serve_text.get_concrete_function(),
            "serving_tf_example": self.serve_tf_example.get_concrete_function(),
            "transform_features": self.transform_features.get_concrete_function(),
        })
