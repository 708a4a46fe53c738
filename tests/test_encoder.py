"""The exported forward pass (model/encoder.py) against transformers' TF BERT, on the default checkpoint
and on tiny ones: the same logits, whatever the number of branches; the trained weights come back bit for bit."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from contracts import features
from model import encoder, keras_classifier
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


def test_the_branches_hold_the_trained_weights_bit_for_bit(tiny_checkpoints, tmp_path):
    """What warm start reads back from a pushed model: the Keras weights, equal to the last bit after a save."""
    classifier = _classifier(tiny_checkpoints["gelu"])
    module = encoder.ServingEncoder(classifier, 2)
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
