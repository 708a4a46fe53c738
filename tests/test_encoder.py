"""The exported forward pass (model/encoder.py) against transformers' TF BERT, on the default checkpoint
and on tiny ones: the same logits, whatever the number of branches; the trained weights come back bit for bit."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from contracts import features
from model import encoder, int8_encoder, keras_classifier
from model.head import HEAD_LAYER
from pipeline import inputs

from tiny_bert import random_inputs, tiny_checkpoint

CLASSES = 3


def _classifier(checkpoint_dir):
    tf_keras.utils.set_random_seed(0)
    return keras_classifier.load_classifier(checkpoint_dir, CLASSES)


def _logits(serving_encoder, batch):
    return serving_encoder.logits(*(tf.constant(batch[name]) for name in features.MODEL_INPUTS)).numpy()


def _assert_same_logits(classifier, batch, branches):
    expected = classifier({k: tf.constant(v) for k, v in batch.items()}, training=False).numpy()
    np.testing.assert_allclose(_logits(encoder.ServingEncoder(classifier, branches), batch), expected, atol=1e-5)


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    return {act: tiny_checkpoint(tmp_path_factory.mktemp(act), num_attention_heads=4, hidden_act=act)
            for act in ("gelu", "relu")}


@pytest.mark.parametrize("activation", ["gelu", "relu"])
@pytest.mark.parametrize("branches", [1, 2, 4, 3])  # 3 shares only 1 with 4 heads: one branch
def test_tiny_bert_logits_equal_transformers(tiny_checkpoints, activation, branches):
    classifier = _classifier(tiny_checkpoints[activation])
    _assert_same_logits(classifier, random_inputs(16, seed=branches), branches)


def test_default_checkpoint_logits_equal_transformers(checkpoint_dir):
    """Mean pooling over the real tokens: padding (batch of 1 to 40 tokens, padded to 48) changes nothing."""
    classifier = _classifier(checkpoint_dir)
    _assert_same_logits(classifier, random_inputs(6, length=48, vocab=30522), branches=2)


@pytest.mark.parametrize("checkpoint", ["tiny", "default"])
def test_sentence_pair_logits_equal_transformers(tiny_checkpoints, checkpoint_dir, checkpoint):
    """Token types 0 then 1 ([CLS] a [SEP] b [SEP]): the second text's token-type embedding is added as in
    training, so a pair model serves what it learned."""
    classifier = _classifier(tiny_checkpoints["gelu"] if checkpoint == "tiny" else checkpoint_dir)
    size = {"length": 32, "vocab": 30522} if checkpoint == "default" else {}
    batch = random_inputs(8, seed=5, pairs=True, **size)
    assert batch[features.TOKEN_TYPE_IDS].any(axis=1).all()
    _assert_same_logits(classifier, batch, branches=2)


@pytest.mark.parametrize("encoder_class", [encoder.ServingEncoder, int8_encoder.Int8ServingEncoder])
def test_the_branches_hold_the_trained_weights_bit_for_bit(tiny_checkpoints, tmp_path, encoder_class):
    """What warm start reads back from a pushed model: the Keras weights, equal to the last bit after a save
    (an int8 model's too: it keeps the float32 weights beside the int8 ones)."""
    classifier = _classifier(tiny_checkpoints["gelu"])
    module = encoder_class(classifier, 2)
    tf.saved_model.save(module, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    restored = loaded.classifier_weights()
    weights = encoder.keras_weights(classifier.variables)
    assert set(restored) == set(weights) and not any("pooler" in name for name in weights)
    for name, variable in weights.items():
        assert np.array_equal(restored[name].numpy(), variable.numpy()), name


@pytest.mark.parametrize("config, message", [
    ({"hidden_act": "silu"}, "hidden_act 'silu' is not supported"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type 'relative_key' is not supported")])
def test_an_encoder_the_export_cannot_compute_is_refused_before_the_run(tmp_path, config, message):
    checkpoint_dir = tiny_checkpoint(tmp_path, **config)
    (tmp_path / "vocab.txt").write_text("".join(f"[unused{i}]\n" for i in range(64)))
    with pytest.raises(inputs.InputError, match=message):
        inputs.check_checkpoint(checkpoint_dir)


def test_int8_weights_round_to_within_half_a_step_of_their_column():
    kernel = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32) * np.linspace(0.1, 3, 32)
    kernel[:, 5] = 0  # a column of zeros keeps a usable scale
    quantized, scale, column_sums = int8_encoder.quantize_weights(kernel)
    assert quantized.dtype == np.int8 and (np.abs(quantized).max(axis=0) == np.where(np.arange(32) == 5, 0, 127)).all()
    assert (np.abs(quantized * scale - kernel) <= scale / 2 + 1e-6).all()
    assert np.array_equal(column_sums, quantized.sum(axis=0))


def test_int8_encoder_runs_quantized_matmuls_and_stays_near_float32(checkpoint_dir):
    """Every encoder weight matmul of the default checkpoint in int8 (only the classifier head's stays float32),
    and the logits near float32's: with a head of unit-variance weights (a fresh head's are too small to tell),
    the difference is 0.05 of the logits' spread over 32 texts of random word pieces (0.14 with one range per
    activation tensor, 0.30 with one scale per weight tensor too). With oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)
    the public op's kernel returns an empty tensor and this fails."""
    classifier = _classifier(checkpoint_dir)
    head_kernel = np.random.default_rng(1).normal(size=classifier.get_layer(HEAD_LAYER).kernel.shape)
    classifier.get_layer(HEAD_LAYER).kernel.assign(head_kernel)
    batch = random_inputs(32, length=40, vocab=30522)
    int8 = int8_encoder.Int8ServingEncoder(classifier, 2)
    ops = [op.type for op in tf.function(int8.logits).get_concrete_function(
        *(tf.TensorSpec([None, None], tf.int64) for _ in features.MODEL_INPUTS)).graph.get_operations()]
    layers = len(int8._layers)  # noqa: SLF001
    assert ops.count("QuantizedMatMulWithBiasAndDequantize") == 4 * 2 * layers  # 4 weights per branch per layer
    assert ops.count("MatMul") == 1 and ops.count("BatchMatMulV2") == 2 * 2 * layers  # the head; attention's
    quantized, full = _logits(int8, batch), _logits(encoder.ServingEncoder(classifier, 2), batch)
    assert np.linalg.norm(quantized - full) / np.linalg.norm(full - full.mean(axis=0)) < 0.1
