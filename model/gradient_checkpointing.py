"""Gradient checkpointing: each transformer layer keeps only its input for the backward pass and recomputes
its activations there (tf.recompute_grad), trading ~1/3 more compute for activation memory.

The recomputation must see the same dropout masks as the forward pass, or the gradient would belong to a
different network than the loss. So the dropouts inside a checkpointed layer become stateless, keyed by a
seed drawn once per layer and step (from the seeded global generator) and passed to both computations.
"""
import tensorflow as tf
import tf_keras

from model import lora


class _SeededDropout(tf_keras.layers.Layer):
    """Dropout whose mask is a function of the seed its layer sets for the current computation."""

    def __init__(self, rate: float, seeds: "_LayerSeed", index: int, **kwargs):
        super().__init__(**kwargs)
        self.rate, self._seeds, self._index = rate, seeds, index

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return tf.identity(inputs)
        seed = tf.random.experimental.stateless_fold_in(self._seeds.current, self._index)
        return tf.nn.experimental.stateless_dropout(inputs, rate=self.rate, seed=seed)


class _LayerSeed:
    current = None  # the seed tensor of the computation being traced


def draw_seed() -> tf.Tensor:
    """A new seed on every step, from the global generator tf_keras.utils.set_random_seed seeded."""
    return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)


recompute = tf.recompute_grad  # a module attribute: the test compares it with plain backpropagation


def enable(classifier: tf_keras.Model) -> int:
    """Checkpoints every TFBertLayer of the classifier's encoder; returns how many."""
    blocks = lora.transformer_layers(classifier)
    for block in blocks:
        _checkpoint(block)
    return len(blocks)


def _checkpoint(block: tf_keras.layers.Layer) -> None:
    seeds = _LayerSeed()
    index = 0
    for layer in block._flatten_layers(include_self=True):  # noqa: SLF001
        for attribute, value in list(vars(layer).items()):
            if isinstance(value, tf_keras.layers.Dropout):
                setattr(layer, attribute, _SeededDropout(value.rate, seeds, index, name=value.name))
                index += 1
    layer_call = block.call

    def call(hidden_states, attention_mask, head_mask, encoder_hidden_states, encoder_attention_mask,
             past_key_value, output_attentions, training=False):
        def run(hidden, mask, seed):
            seeds.current = seed
            return layer_call(hidden, mask, head_mask, encoder_hidden_states, encoder_attention_mask,
                              past_key_value, output_attentions, training=training)[0]

        seed = draw_seed()
        if not training:
            return (run(hidden_states, attention_mask, seed),)
        # recompute_grad passes positional tensors only (graph-mode custom gradients take no keywords).
        return (recompute(run)(hidden_states, attention_mask, seed),)

    block.call = call
