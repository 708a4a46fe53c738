"""The exported classifier's forward pass: BERT inference in plain TensorFlow ops, laid out for CPU serving.

Training runs transformers' TFBertModel. At export its trained weights are copied into a ServingEncoder,
which computes the same logits (tests/test_encoder.py: within 1e-5 of transformers' on the default
checkpoint and a tiny one) with a graph shaped for a CPU serving one request at a time:

- Each transformer layer is split into `parts` independent branches, by attention heads and by columns of
  the feed-forward layer, as tensor-parallel training splits a layer across devices. The branches meet
  only where the layer adds their projections back together before each LayerNorm, so with one intra-op
  thread and `parts` inter-op threads (serving_config/docker-compose.yml) TensorFlow runs them on
  separate cores. A batch-1 request is a chain of small matmuls ([35, 384] x [384, 1152] for a tweet),
  where splitting one op across cores costs more in synchronisation than it saves; independent branches
  need none.
- MatMul + BiasAdd in the pattern grappler's oneDNN remapper fuses into one kernel (_MklNativeFusedMatMul).
  The exact GELU follows a pattern its source lists for fusion, but TensorFlow 2.16.2 runs it as separate
  element-wise kernels (`make profile` prints the kernels that ran; only the tanh approximation, which changes
  the answers, is fused). The LayerNorm is fused (_MklLayerNorm) only in Keras's FusedBatchNormV3 form, which
  computes the same within 3e-7 but measured no faster here (bench/RESULTS.md): plain ops stay.
- Core TensorFlow ops only: stock TF Serving runs it (the Pusher's op allowlist check).

The weights keep the checkpoint's values, only regrouped (concatenated or sliced, never rescaled), so
classifier_weights() gives the trained Keras weights back bit for bit: warm start reads them.
"""
import math
from typing import Dict, Iterable, List

import numpy as np
import tensorflow as tf
import tf_keras

from model import head
from model.head import HEAD_LAYER
from preprocessing import checkpoint

_LAYER = "bert/encoder/layer_._{}/"
_SQRT_HALF = math.sqrt(0.5)
def relative_name(variable: tf.Variable) -> str:
    """'tf_bert_model_1/bert/embeddings/...:0' -> 'bert/embeddings/...': stable whatever Keras numbered the model."""
    name = variable.name.split(":")[0]
    return name[name.index("bert/"):] if "bert/" in name else name


def keras_weights(variables: Iterable[tf.Variable]) -> Dict[str, tf.Variable]:
    """The classifier's weights that the serving graph uses (not the unused pooler), by their names in
    transformers' TF BERT."""
    return {relative_name(v): v for v in variables if "pooler" not in v.name}


def _encoder_config(classifier: tf_keras.Model):
    return next(layer.config for layer in classifier.layers if hasattr(layer, "config") and
                hasattr(layer.config, "num_hidden_layers"))


class ServingEncoder(tf.Module):
    """The classifier's weights regrouped into `parts` branches per layer, and its forward pass."""

    def __init__(self, classifier: tf_keras.Model, parts: int):
        super().__init__(name="serving_encoder")
        config = _encoder_config(classifier)
        checkpoint.check_config(config.to_dict())
        self._heads, self._hidden = config.num_attention_heads, config.hidden_size
        self._parts = math.gcd(parts, self._heads, config.intermediate_size)
        self._eps = config.layer_norm_eps
        self._relu = config.hidden_act == "relu"
        weights = {name: v.numpy() for name, v in keras_weights(classifier.variables).items()}
        self._embeddings = {name: self._variable(weights[f"bert/embeddings/{name}"]) for name in (
            "word_embeddings/weight", "position_embeddings/embeddings", "token_type_embeddings/embeddings",
            "LayerNorm/gamma", "LayerNorm/beta")}
        self._layers = [self._split_layer(weights, _LAYER.format(i)) for i in range(config.num_hidden_layers)]
        self._head = [self._variable(weights[f"{HEAD_LAYER}/kernel"]), self._variable(weights[f"{HEAD_LAYER}/bias"])]

    @staticmethod
    def _variable(value) -> tf.Variable:
        return tf.Variable(value, trainable=False)

    def _columns(self, value, part: int, width: int):
        return value[..., part * width:(part + 1) * width]

    def _split_layer(self, weights, prefix: str) -> Dict[str, List[tf.Variable]]:
        """Branch p holds heads p*h/P..(p+1)*h/P of the attention and columns p*I/P.. of the feed-forward layer."""
        head_cols = self._hidden // self._parts
        ffn_cols = weights[prefix + "intermediate/dense/kernel"].shape[1] // self._parts
        qkv = [prefix + f"attention/self/{name}/" for name in ("query", "key", "value")]
        split = {
            "qkv_kernel": [np.concatenate([self._columns(weights[p + "kernel"], i, head_cols) for p in qkv], axis=1)
                           for i in range(self._parts)],
            "qkv_bias": [np.concatenate([self._columns(weights[p + "bias"], i, head_cols) for p in qkv])
                         for i in range(self._parts)],
            "attention_out_kernel": [
                weights[prefix + "attention/output/dense/kernel"][i * head_cols:(i + 1) * head_cols]
                for i in range(self._parts)],
            "ffn_in_kernel": [self._columns(weights[prefix + "intermediate/dense/kernel"], i, ffn_cols)
                              for i in range(self._parts)],
            "ffn_in_bias": [self._columns(weights[prefix + "intermediate/dense/bias"], i, ffn_cols)
                            for i in range(self._parts)],
            "ffn_out_kernel": [weights[prefix + "output/dense/kernel"][i * ffn_cols:(i + 1) * ffn_cols]
                               for i in range(self._parts)],
        }
        whole = {"attention_out_bias": "attention/output/dense/bias",
                 "attention_norm_gamma": "attention/output/LayerNorm/gamma",
                 "attention_norm_beta": "attention/output/LayerNorm/beta", "ffn_out_bias": "output/dense/bias",
                 "ffn_norm_gamma": "output/LayerNorm/gamma", "ffn_norm_beta": "output/LayerNorm/beta"}
        layer = {key: [self._variable(value) for value in values] for key, values in split.items()}
        layer.update({key: [self._variable(weights[prefix + name])] for key, name in whole.items()})
        return layer

    def _layer_norm(self, x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) -> tf.Tensor:
        centered = x - tf.reduce_mean(x, axis=-1, keepdims=True)
        variance = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
        return beta + centered * (tf.math.rsqrt(variance + self._eps) * gamma)

    def _activation(self, pre: tf.Tensor) -> tf.Tensor:
        if self._relu:
            return tf.nn.relu(pre)
        # Exact GELU, 0.5 x (1 + erf(x / sqrt 2)): the answers of the checkpoint's activation.
        return ((tf.math.erf(pre * _SQRT_HALF) + 1.0) * 0.5) * pre

    def _dense(self, x: tf.Tensor, layer, kernel: str, part: int, bias=None) -> tf.Tensor:
        """x @ layer[kernel][part] (+ bias): every matmul with a weight goes through here (model/int8_encoder.py
        overrides it)."""
        y = tf.matmul(x, layer[kernel][part])
        return y if bias is None else tf.nn.bias_add(y, bias)

    def _attention_branch(self, x, layer, part: int, batch, length, mask_bias) -> tf.Tensor:
        heads = self._heads // self._parts
        head_size = self._hidden // self._heads
        qkv = self._dense(x, layer, "qkv_kernel", part, layer["qkv_bias"][part])
        q, k, v = tf.unstack(tf.transpose(tf.reshape(qkv, [batch, length, 3, heads, head_size]), [2, 0, 3, 1, 4]))
        scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(head_size)) + mask_bias
        context = tf.matmul(tf.nn.softmax(scores), v)  # [batch, heads, length, head_size]
        context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [-1, heads * head_size])
        return self._dense(context, layer, "attention_out_kernel", part)

    def _ffn_branch(self, x, layer, part: int) -> tf.Tensor:
        hidden = self._activation(self._dense(x, layer, "ffn_in_kernel", part, layer["ffn_in_bias"][part]))
        return self._dense(hidden, layer, "ffn_out_kernel", part)

    def _layer(self, x, layer, batch, length, mask_bias) -> tf.Tensor:
        parts = range(self._parts)
        attention = tf.add_n([self._attention_branch(x, layer, p, batch, length, mask_bias) for p in parts])
        x = self._layer_norm(tf.nn.bias_add(attention, layer["attention_out_bias"][0]) + x,
                             layer["attention_norm_gamma"][0], layer["attention_norm_beta"][0])
        ffn = tf.add_n([self._ffn_branch(x, layer, p) for p in parts])
        return self._layer_norm(tf.nn.bias_add(ffn, layer["ffn_out_bias"][0]) + x,
                                layer["ffn_norm_gamma"][0], layer["ffn_norm_beta"][0])

    def logits(self, input_ids: tf.Tensor, attention_mask: tf.Tensor, token_type_ids: tf.Tensor) -> tf.Tensor:
        """Logits [batch, classes] of inputs [batch, length] (length <= the checkpoint's positions)."""
        batch, length = tf.shape(input_ids)[0], tf.shape(input_ids)[1]
        e = self._embeddings
        x = (tf.gather(e["word_embeddings/weight"], input_ids) + tf.gather(e["token_type_embeddings/embeddings"],
             token_type_ids) + e["position_embeddings/embeddings"][:length])
        x = self._layer_norm(tf.reshape(x, [-1, self._hidden]), e["LayerNorm/gamma"], e["LayerNorm/beta"])
        mask = tf.cast(attention_mask, tf.float32)
        mask_bias = ((1.0 - mask) * -10000.0)[:, None, None, :]  # transformers' additive mask
        for layer in self._layers:
            x = self._layer(x, layer, batch, length, mask_bias)
        return head.project(head.mean_pool(tf.reshape(x, [batch, length, self._hidden]), attention_mask),
                            *self._head)

    @tf.function(input_signature=[])
    def classifier_weights(self) -> Dict[str, tf.Tensor]:
        """The Keras classifier's weights (keras_weights names), put back together from the branches."""
        out = {f"bert/embeddings/{name}": v for name, v in self._embeddings.items()}
        out[f"{HEAD_LAYER}/kernel"], out[f"{HEAD_LAYER}/bias"] = self._head
        head_cols = self._hidden // self._parts
        for i, layer in enumerate(self._layers):
            prefix = _LAYER.format(i)
            for j, name in enumerate(("query", "key", "value")):
                cols = slice(j * head_cols, (j + 1) * head_cols)
                out[prefix + f"attention/self/{name}/kernel"] = tf.concat([k[:, cols] for k in layer["qkv_kernel"]], 1)
                out[prefix + f"attention/self/{name}/bias"] = tf.concat([b[cols] for b in layer["qkv_bias"]], 0)
            out[prefix + "attention/output/dense/kernel"] = tf.concat(layer["attention_out_kernel"], 0)
            out[prefix + "intermediate/dense/kernel"] = tf.concat(layer["ffn_in_kernel"], 1)
            out[prefix + "intermediate/dense/bias"] = tf.concat(layer["ffn_in_bias"], 0)
            out[prefix + "output/dense/kernel"] = tf.concat(layer["ffn_out_kernel"], 0)
            for key, name in (("attention_out_bias", "attention/output/dense/bias"),
                              ("attention_norm_gamma", "attention/output/LayerNorm/gamma"),
                              ("attention_norm_beta", "attention/output/LayerNorm/beta"),
                              ("ffn_out_bias", "output/dense/bias"), ("ffn_norm_gamma", "output/LayerNorm/gamma"),
                              ("ffn_norm_beta", "output/LayerNorm/beta")):
                out[prefix + name] = tf.identity(layer[key][0])
        return out
