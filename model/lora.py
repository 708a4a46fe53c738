"""LoRA: low-rank adapters on the encoder's projections, merged into them for export.

Each targeted Dense layer W of every transformer layer becomes W x + (alpha / rank) B A dropout(x), with A
(rank x in) random and B (out x rank) zero at the start, so training starts from the checkpoint's function.
Only the adapters and the classifier head train; the checkpoint's weights stay frozen. merge() folds B A into
W and puts the plain Dense layers back: the exported model is a full fine-tune's in form and cost.
"""
from typing import Dict, List, Tuple

import tensorflow as tf
import tf_keras

from model import head

# Where each target sits in a transformers TFBertLayer (attribute paths), by the names users pass.
TARGET_PATHS = {
    "query": ("attention", "self_attention", "query"),
    "key": ("attention", "self_attention", "key"),
    "value": ("attention", "self_attention", "value"),
    "attention_output": ("attention", "dense_output", "dense"),
    "intermediate": ("intermediate", "dense"),
    "output": ("bert_output", "dense"),
}


class LoraDense(tf_keras.layers.Layer):
    """A frozen Dense layer plus its trainable low-rank update."""

    def __init__(self, base: tf_keras.layers.Dense, rank: int, alpha: float, dropout: float, **kwargs):
        super().__init__(name=f"{base.name}_lora", **kwargs)
        self.base = base
        self.scale = alpha / rank
        self.dropout = tf_keras.layers.Dropout(dropout)
        # PEFT's initialisation: A like a Dense kernel (Kaiming-uniform), B zero.
        self.lora_a = tf_keras.layers.Dense(rank, use_bias=False, name="lora_a",
                                            kernel_initializer=tf_keras.initializers.HeUniform())
        self.lora_b = tf_keras.layers.Dense(base.units, use_bias=False, name="lora_b", kernel_initializer="zeros")

    def build(self, input_shape):
        # Here, not at the first call: the adapters must exist (under the caller's distribution scope) before
        # the optimizer and the parameter counts see the trainable variables.
        input_shape = tf.TensorShape(input_shape)
        with tf.name_scope(self.name):  # the adapters' variables named after the layer they adapt
            with tf.name_scope(self.lora_a.name):
                self.lora_a.build(input_shape)
            with tf.name_scope(self.lora_b.name):
                self.lora_b.build(input_shape[:-1].concatenate([self.lora_a.units]))
        super().build(input_shape)

    def call(self, inputs, training=None):
        update = self.lora_b(self.lora_a(self.dropout(inputs, training=training)))
        return self.base(inputs) + tf.cast(self.scale, update.dtype) * update

    def merged_kernel(self) -> tf.Tensor:
        return self.base.kernel + self.scale * tf.matmul(self.lora_a.kernel, self.lora_b.kernel)


def transformer_layers(classifier: tf_keras.Model) -> List[tf_keras.layers.Layer]:
    """The TFBertLayer blocks of the classifier's encoder (transformers' TFBertModel)."""
    blocks = [layer for layer in classifier._flatten_layers(include_self=False)  # noqa: SLF001
              if type(layer).__name__ == "TFBertLayer"]
    if not blocks:
        raise ValueError("LoRA needs a BERT encoder (transformers' TFBertLayer blocks); this checkpoint has none")
    return blocks


def _targets(classifier: tf_keras.Model, targets: List[str]) -> List[Tuple[object, str]]:
    """(owner, attribute) of every targeted projection."""
    found = []
    for block in transformer_layers(classifier):
        for target in targets:
            *owner_path, attribute = TARGET_PATHS[target]
            owner = block
            for name in owner_path:
                owner = getattr(owner, name)
            found.append((owner, attribute))
    return found


def add_adapters(classifier: tf_keras.Model, rank: int, alpha: float, dropout: float,
                 targets: List[str]) -> Dict[str, int]:
    """Freezes every weight of the classifier but its head, and wraps the targets with adapters
    (built here, under the caller's distribution scope). Returns the trainable and total parameter counts."""
    for layer in classifier._flatten_layers(include_self=False):  # noqa: SLF001
        if layer._trainable_weights and layer.name != head.HEAD_LAYER:  # noqa: SLF001  (owners of weights only)
            layer.trainable = False
    for owner, attribute in _targets(classifier, targets):
        base = getattr(owner, attribute)
        adapter = LoraDense(base, rank, alpha, dropout)
        adapter.build(tf.TensorShape([None, None, base.kernel.shape[0]]))
        _replace(owner, attribute, adapter)
    return parameter_counts(classifier)


def _replace(owner: tf_keras.layers.Layer, attribute: str, new: tf_keras.layers.Layer) -> None:
    """Sets the sublayer in the old one's place among the owner's tracked layers: Keras orders a model's
    variables that way, and the export and the warm start rely on a full fine-tune's order."""
    index = next(i for i, layer in enumerate(owner._self_tracked_trackables)  # noqa: SLF001
                 if layer is getattr(owner, attribute))
    setattr(owner, attribute, new)  # Keras untracks the old layer (in a new list) and appends the new one
    tracked = owner._self_tracked_trackables  # noqa: SLF001
    tracked.insert(index, tracked.pop())


def parameter_counts(classifier: tf_keras.Model) -> Dict[str, int]:
    def count(variables):
        return int(sum(v.shape.num_elements() for v in variables))
    return {"trainable_parameters": count(classifier.trainable_variables),
            "total_parameters": count(classifier.variables)}


def merge(classifier: tf_keras.Model) -> int:
    """Folds every adapter into its Dense kernel and puts the Dense layer back; returns how many."""
    merged = 0
    for layer in list(classifier._flatten_layers(include_self=False)):  # noqa: SLF001
        for attribute, value in list(vars(layer).items()):
            if isinstance(value, LoraDense):
                value.base.kernel.assign(value.merged_kernel())
                _replace(layer, attribute, value.base)
                merged += 1
    classifier.trainable = True  # as a full fine-tune's: Keras lists frozen weights after trainable ones
    return merged
