"""The served encoder with int8 matmuls (`--serving-precision int8`): what ONNX Runtime's dynamic quantization
does, in core TensorFlow ops that TF Serving's oneDNN build runs.

Each weight matrix is stored as int8 with a scale per output column (its largest magnitude maps to 127:
one scale per tensor changed 2.7x as many answers). Each activation is quantized per call and per row (a
word piece's features): mapped from [min, max] onto [0, 1] so that SCALED quint8 holds it (QuantizeV2),
multiplied by QuantizedMatMulWithBiasAndDequantize (uint8 x int8 -> float32), and the rows' ranges and
minimums put back after. One range for the whole tensor is cheaper (1.4x this throughput at batch 32) but
loses much more where the rows' ranges differ widely, the narrow rows getting few of the 256 steps (on 600
training texts of a fine-tuned model, logits off float32's by 0.047 of their spread and 7 answers changed,
against 0.014 and none per row). TensorFlow's oneDNN layout pass rewrites both ops to its _Mkl kernels (VNNI
or AMX int8). Without oneDNN (TF_ENABLE_ONEDNN_OPTS=0; on by default on x86-64 Linux) the public
QuantizedMatMulWithBiasAndDequantize kernel returns an empty tensor and every request fails: docs/serving.md.

The float32 weights stay in the SavedModel too (unused by the signatures): classifier_weights() gives them back
bit for bit, so warm start continues from the trained weights, not from their int8 rounding.
"""
from typing import Tuple

import numpy as np
import tensorflow as tf

from model.encoder import ServingEncoder

_QUANTIZED = ("qkv_kernel", "attention_out_kernel", "ffn_in_kernel", "ffn_out_kernel")


def quantize_weights(kernel: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(int8 kernel, each column's scale: int8 k in column j stands for k * scale[j], the int8 column sums)."""
    magnitudes = np.abs(kernel).max(axis=0)
    scale = (np.where(magnitudes > 0, magnitudes, 1.0) / 127.0).astype(np.float32)
    quantized = np.clip(np.round(kernel / scale), -127, 127).astype(np.int8)
    return quantized, scale, quantized.astype(np.float32).sum(axis=0)


class Int8ServingEncoder(ServingEncoder):
    """ServingEncoder whose weight matmuls run in int8. Each layer's "<kernel>/int8" entry holds, per branch,
    the variables of quantize_weights()."""

    def __init__(self, classifier, parts: int):
        super().__init__(classifier, parts)
        for layer in self._layers:
            for key in _QUANTIZED:
                layer[f"{key}/int8"] = [tuple(self._variable(value) for value in quantize_weights(kernel.numpy()))
                                        for kernel in layer[key]]

    def _dense(self, x: tf.Tensor, layer, kernel: str, part: int, bias=None) -> tf.Tensor:
        quantized, scale, column_sums = layer[f"{kernel}/int8"][part]
        low = tf.reduce_min(x, axis=1, keepdims=True)
        span = tf.maximum(tf.reduce_max(x, axis=1, keepdims=True) - low, 1e-6)
        activations, low_q, high_q = tf.raw_ops.QuantizeV2(
            input=(x - low) / span, min_range=0.0, max_range=1.0, T=tf.quint8, mode="SCALED", round_mode="HALF_TO_EVEN")
        # x @ W = (low + span * x') @ (int8 W * scale) = (span * (x' @ int8 W) + low * column sums) * scale: the op
        # takes one scale per operand, so the weights go in at scale 1 and the rows' and columns' scales follow.
        product = tf.raw_ops.QuantizedMatMulWithBiasAndDequantize(
            a=activations, b=tf.bitcast(quantized, tf.qint8), bias=tf.zeros(scale.shape), min_a=low_q, max_a=high_q,
            min_b=-127.0, max_b=127.0, Toutput=tf.float32, input_quant_mode="SCALED",
            # Read only when the output is quantized; required by the op.
            min_freezed_output=-1.0, max_freezed_output=1.0)
        y = (product * span + low * column_sums) * scale
        return y if bias is None else tf.nn.bias_add(y, bias)
