"""The Keras BERT classifier that training fits: the checkpoint's encoder and the classification head;
the padding trim every batch goes through; the training wrapper (optimizer state, gradient accumulation).
What is exported from it is model/export.py."""
import logging
import os
from typing import Callable, Dict

import tensorflow as tf
import tf_keras

from contracts import features
from model.head import ClassificationHead


def _model_inputs() -> Dict[str, tf.Tensor]:
    """Variable-length inputs: each batch comes cut to its own longest sequence (trim_padding)."""
    return {name: tf_keras.Input(shape=(None,), dtype=tf.int64, name=name) for name in features.MODEL_INPUTS}


class _ExpectedLoadReport(logging.Filter):
    """transformers reports, on every load of a sentence-transformers BERT checkpoint, that the PyTorch buffer
    embeddings.position_ids has no TF weight (TF computes positions), and then that every weight was loaded:
    both expected. Any other unused or newly initialized weight is still reported."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("All the weights of ") or (
            message.startswith("Some weights of the PyTorch model were not used") and
            "['embeddings.position_ids']" in message))


def _quiet_expected_load_report() -> None:
    from transformers.utils import logging as hf_logging

    handler = hf_logging._get_library_root_logger().handlers[0]  # noqa: SLF001  (its one stderr handler)
    if not any(isinstance(f, _ExpectedLoadReport) for f in handler.filters):
        handler.addFilter(_ExpectedLoadReport())


# No AutoGraph for the model's code (do_not_convert here and on TrainingModel's steps, autograph=False in
# model/export.py): it has no Python control flow on tensors (the accumulation loop is a tf.while_loop), and
# AutoGraph rewriting transformers' TF BERT layers, at each build and trace, was half of a Trainer's CPU (a
# 6-step Trainer process 134 s -> 73 s, the same exported bits).
@tf.autograph.experimental.do_not_convert
def load_classifier(checkpoint_dir: str, num_classes: int) -> tf_keras.Model:
    """The checkpoint's encoder (transformers' TF BERT) and a new classification head (model/head.py)."""
    from transformers import TFAutoModel

    _quiet_expected_load_report()
    encoder = TFAutoModel.from_pretrained(
        checkpoint_dir, local_files_only=True,
        use_safetensors=os.path.exists(os.path.join(checkpoint_dir, "model.safetensors")))
    if getattr(encoder, "bert", None) is not None and encoder.bert.pooler is not None:
        encoder.bert.pooler.trainable = False  # unused (mean pooling): no gradient, so no update either way
    inputs = _model_inputs()
    head = ClassificationHead(num_classes, encoder.config.hidden_dropout_prob, encoder.config.initializer_range)
    logits = head([encoder(inputs).last_hidden_state, inputs[features.ATTENTION_MASK]])
    return tf_keras.Model(inputs, logits, name="bert_classifier")


def trim_padding(batch: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Cuts the model inputs to the longest sequence in the batch: padding beyond it is masked anyway,
    and tweets are much shorter than max_seq_length, so this skips most of the padding compute."""
    # At least 1: the max over an empty batch is INT_MIN, and a request with no texts must still answer.
    length = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(batch[features.ATTENTION_MASK], tf.int32), axis=1)), 1)
    return {name: batch[name][:, :length] for name in features.MODEL_INPUTS}


class TrainingModel(tf_keras.Model):
    """fit()'s model: the classifier, whose optimizer attaches here so that the exported classifier carries
    no optimizer state, answering each example of a training batch as the input shape says (a long text: its
    windows' logits combined, as the export combines them; tasks/base.InputShape.training_logits). With
    accumulation_steps > 1, each batch is cut into that many micro-batches, run one after the other (only one
    micro-batch's activations are alive at a time), and one update is made from their mean gradient: the update
    of the whole batch, in a micro-batch's memory."""

    def __init__(self, classifier: tf_keras.Model, accumulation_steps: int = 1,
                 example_logits: Callable = lambda inputs, logits: logits(inputs)):
        super().__init__(name="training_model")
        self.classifier = classifier
        self.accumulation_steps = accumulation_steps
        self._example_logits = example_logits

    @tf.autograph.experimental.do_not_convert
    def call(self, inputs, training=None):
        return self._example_logits(inputs, lambda x: self.classifier(trim_padding(x), training=training))

    @tf.autograph.experimental.do_not_convert
    def train_step(self, data):
        if self.accumulation_steps == 1:
            return super().train_step(data)
        x, y, _ = tf_keras.utils.unpack_x_y_sample_weight(data)
        steps = self.accumulation_steps
        size = tf.shape(y)[0] // steps
        variables = self.trainable_variables
        scaled = isinstance(self.optimizer, tf_keras.mixed_precision.LossScaleOptimizer)

        def micro_step(i, sums):
            part_x = {name: values[i * size:(i + 1) * size] for name, values in x.items()}
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
