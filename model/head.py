"""The classification head, written once: the encoder's last hidden states mean-pooled over the real tokens,
then a dense layer to one logit per class. Training's Keras classifier (keras_classifier.py) holds it as a
layer; the served graph (encoder.py) calls the same mean_pool and project with the trained weights.

Mean pooling rather than the [CLS] pooler: sentence-transformers checkpoints such as the default were trained
to be read that way (their pooler is left over from pre-training), and it is a sound choice for plain BERT
checkpoints too.
"""
import tensorflow as tf
import tf_keras

HEAD_LAYER = "classifier"  # the head's layer name (a top-level layer): its kernel's columns follow the class order


def mean_pool(hidden: tf.Tensor, attention_mask: tf.Tensor) -> tf.Tensor:
    """[batch, length, hidden] -> [batch, hidden]: the mean over the tokens the mask marks (at least one)."""
    mask = tf.cast(attention_mask, hidden.dtype)[:, :, None]
    return tf.reduce_sum(hidden * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)


def project(pooled: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    return tf.nn.bias_add(tf.matmul(pooled, kernel), bias)


class ClassificationHead(tf_keras.layers.Layer):
    """mean_pool, dropout (training only), project: logits in float32 under any precision policy."""

    def __init__(self, num_classes: int, dropout_rate: float, initializer_range: float, **kwargs):
        super().__init__(name=HEAD_LAYER, dtype="float32", **kwargs)
        self.num_classes, self.initializer_range = num_classes, initializer_range
        self.dropout = tf_keras.layers.Dropout(dropout_rate)

    def build(self, input_shape):
        hidden_size = input_shape[0][-1]
        self.kernel = self.add_weight(
            "kernel", shape=[hidden_size, self.num_classes],
            initializer=tf_keras.initializers.TruncatedNormal(stddev=self.initializer_range))
        self.bias = self.add_weight("bias", shape=[self.num_classes], initializer="zeros")
        super().build(input_shape)

    def call(self, inputs, training=None):
        hidden, attention_mask = inputs
        return project(self.dropout(mean_pool(hidden, attention_mask), training=training), self.kernel, self.bias)
