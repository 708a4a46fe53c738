"""LoRA, gradient accumulation, gradient checkpointing, mixed_bfloat16 and seeding, on a tiny BERT built here
(2 layers, hidden 32) through the same loader, Trainer step and optimizer as the real checkpoint."""
import re

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from model import distribution, encoder, gradient_checkpointing, keras_classifier, lora, training

from tiny_bert import random_inputs, tiny_checkpoint, training_settings

pytestmark = pytest.mark.slow  # trains, if only a tiny BERT: `make test`, not `make test-fast`

BATCH, CLASSES = 8, 3
HP = {"learning_rate": 1e-2, "warmup_fraction": 0.0, "weight_decay": 0.01}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny checkpoint without dropout, where every computation here is deterministic."""
    return tiny_checkpoint(tmp_path_factory.mktemp("tiny"), dropout=0.0)


@pytest.fixture(scope="module")
def tiny_with_dropout(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("tiny_dropout"), dropout=0.2)


def _classifier(checkpoint: str, seed: int = 0) -> tf_keras.Model:
    tf_keras.utils.set_random_seed(seed)
    return keras_classifier.load_classifier(checkpoint, CLASSES)


def _batch(size: int = BATCH, seed: int = 0):
    """Token ids of varied lengths, padded to LENGTH, and labels."""
    return random_inputs(size, seed=seed), np.random.default_rng(seed + 1).integers(0, CLASSES, size)


def _name(variable) -> str:
    """Without the encoder's instance number (tf_bert_model_3/...): several classifiers live in one process."""
    return re.sub(r"^tf_bert_model(_\d+)?/", "", variable.name)


def _weights(classifier):
    return {_name(v): v.numpy() for v in classifier.variables}


def _fit(classifier, steps: int, accumulation_steps: int = 1, batch=None):
    x, y = batch or _batch()
    trainable = training.compile_for_training(
        classifier, training_settings(**HP, gradient_accumulation_steps=accumulation_steps), train_steps=steps)
    return trainable.fit(x, y, batch_size=len(y), epochs=steps, shuffle=False, verbose=0).history["loss"]


def _add_adapters(classifier, targets=("query", "value")):
    return lora.add_adapters(classifier, rank=4, alpha=8.0, dropout=0.0, targets=list(targets))


def test_lora_trains_the_adapters_and_the_head_and_freezes_the_rest(tiny):
    classifier = _classifier(tiny)
    counts = _add_adapters(classifier)
    names = sorted(_name(v) for v in classifier.trainable_variables)
    # 2 layers x (query, value) x (A, B), and the head's kernel and bias
    assert len(classifier.trainable_variables) == 2 * 2 * 2 + 2, names
    assert counts["trainable_parameters"] == 2 * 2 * (32 * 4 + 4 * 32) + 32 * CLASSES + CLASSES
    before = _weights(classifier)
    _fit(classifier, steps=3)
    after = _weights(classifier)
    trained = {_name(v) for v in classifier.trainable_variables}
    assert all(np.array_equal(after[name], before[name]) for name in before if name not in trained)
    assert all(not np.array_equal(after[name], before[name]) for name in trained)  # B left zero, A and head moved


def test_merged_adapters_give_the_same_logits_in_a_plain_model(tiny):
    classifier = _classifier(tiny)
    _add_adapters(classifier, targets=lora.TARGET_PATHS)  # every target kind
    _fit(classifier, steps=3)
    x, _ = _batch(seed=1)
    unmerged = classifier(x, training=False).numpy()
    assert lora.merge(classifier) == 2 * len(lora.TARGET_PATHS)
    np.testing.assert_allclose(classifier(x, training=False).numpy(), unmerged, rtol=1e-5, atol=1e-5)
    plain = _classifier(tiny)
    assert [(_name(v), v.shape) for v in classifier.variables] == [(_name(v), v.shape) for v in plain.variables]
    assert not np.allclose(classifier(x, training=False).numpy(), plain(x, training=False).numpy())


def test_accumulated_micro_batches_make_the_update_of_the_whole_batch(tiny):
    x, y = _batch()
    runs = {"whole": (1, (x, y)), "4 x 2": (4, (x, y)),
            "first quarter": (1, ({name: values[:2] for name, values in x.items()}, y[:2]))}
    results = {}
    for label, (accumulation_steps, batch) in runs.items():
        classifier = _classifier(tiny)
        _fit(classifier, steps=2, accumulation_steps=accumulation_steps, batch=batch)
        results[label] = _weights(classifier)
    # Within float rounding: 1e-5 is 0.1% of one Adam step at this learning rate (1e-2); Adam divides by
    # sqrt(v), so the summation order shows most on the weights whose gradients are near zero (measured 6e-6).
    for name, value in results["whole"].items():
        np.testing.assert_allclose(results["4 x 2"][name], value, rtol=1e-4, atol=1e-5, err_msg=name)
    # The comparison can tell: one micro-batch alone makes another update.
    head = "classifier/kernel:0"
    assert not np.allclose(results["first quarter"][head], results["whole"][head], rtol=1e-4, atol=1e-5)


def _gradients(classifier, batch, seed=(7, 11)):
    """Loss and gradients of one training-mode pass, the layers' dropout seed fixed."""
    x, y = batch
    loss_fn = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, classifier(x, training=True))
        return loss, tape.gradient(loss, classifier.trainable_variables)

    original = gradient_checkpointing.draw_seed
    gradient_checkpointing.draw_seed = lambda: tf.constant(seed, tf.int32)
    try:
        return step()
    finally:
        gradient_checkpointing.draw_seed = original


def test_checkpointed_layers_give_the_gradient_of_the_forward_pass_dropout_included(tiny_with_dropout, monkeypatch):
    batch = _batch()
    checkpointed = _classifier(tiny_with_dropout)
    assert gradient_checkpointing.enable(checkpointed) == 2
    loss, gradients = _gradients(checkpointed, batch)
    # The same network and masks, backpropagated through the kept activations: the exact gradient.
    monkeypatch.setattr(gradient_checkpointing, "recompute", lambda f: f)
    kept = _classifier(tiny_with_dropout)
    gradient_checkpointing.enable(kept)
    kept_loss, kept_gradients = _gradients(kept, batch)
    assert float(loss) == pytest.approx(float(kept_loss), rel=1e-6)
    for g, k in zip(gradients, kept_gradients):
        np.testing.assert_allclose(tf.convert_to_tensor(g), tf.convert_to_tensor(k), rtol=1e-4, atol=1e-6)
    # The comparison can tell: other dropout masks give another gradient.
    _, other = _gradients(kept, batch, seed=(8, 11))
    assert not np.allclose(tf.convert_to_tensor(other[-2]), tf.convert_to_tensor(kept_gradients[-2]))


def test_checkpointing_leaves_the_inference_output_unchanged(tiny_with_dropout):
    x, _ = _batch()
    plain, checkpointed = _classifier(tiny_with_dropout), _classifier(tiny_with_dropout)
    gradient_checkpointing.enable(checkpointed)
    np.testing.assert_array_equal(checkpointed(x, training=False).numpy(), plain(x, training=False).numpy())


def test_one_seed_makes_the_same_training_and_another_seed_another(tiny_with_dropout):
    def train(seed):
        classifier = _classifier(tiny_with_dropout, seed=seed)
        _add_adapters(classifier)
        _fit(classifier, steps=2)
        return _weights(classifier)

    first, again, other = train(1), train(1), train(2)
    assert all(np.array_equal(first[name], again[name]) for name in first)
    assert not np.array_equal(first["classifier/kernel:0"], other["classifier/kernel:0"])


def test_mixed_bfloat16_trains_in_bfloat16_and_serves_float32(tiny):
    """mixed_bfloat16 (the precision of TPUs and of recent CPUs' bf16 units): the layers compute in bfloat16 and
    the loss follows the float32 run's closely, not exactly; the served graph holds the float32 weights and
    answers in float32."""
    losses = {}
    for policy in ("mixed_bfloat16", "off"):
        distribution.set_precision_policy(policy)
        try:
            classifier = _classifier(tiny)
            losses[policy] = _fit(classifier, steps=3)
            if policy == "mixed_bfloat16":
                trained = classifier
                assert {layer.compute_dtype for layer in lora.transformer_layers(classifier)} == {"bfloat16"}
        finally:
            distribution.set_precision_policy("off")
    assert np.isfinite(losses["mixed_bfloat16"]).all() and losses["mixed_bfloat16"] != losses["off"]
    np.testing.assert_allclose(losses["mixed_bfloat16"], losses["off"], rtol=0.05)
    served = encoder.ServingEncoder(trained, 2)
    assert {variable.dtype for variable in served.variables} == {tf.float32}
    x, _ = _batch(seed=2)
    logits = served.logits(*(tf.constant(x[name]) for name in ("input_ids", "attention_mask", "token_type_ids")))
    assert logits.dtype == tf.float32 and np.isfinite(logits.numpy()).all()
