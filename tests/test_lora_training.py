"""LoRA with gradient accumulation and gradient checkpointing through TFX's Trainer executor and the
pipeline's run_fn (tests/train_worker.py), on the Transform outputs of the shared small run: the model it
exports is a full fine-tune's in form, its merged adapters answer as the unmerged ones did, and every
weight of the checkpoint but the adapted kernels is untouched."""
import os

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401 (registers the tokenizer's ops, which loading the model needs)

from model import encoder, keras_classifier

from pipeline_runs import trained_hyperparameters
from shared_runs import TRAINING_STEPS as STEPS


def _signature_forms(saved_model):
    return {name: (function.structured_input_signature, function.structured_outputs)
            for name, function in saved_model.signatures.items()}


def test_the_lora_model_is_a_full_fine_tunes_in_form(lora_training, pushed_model):
    root, log = lora_training
    trained, full = tf.saved_model.load(str(root / "model" / "Format-Serving")), tf.saved_model.load(pushed_model)
    assert _signature_forms(trained) == _signature_forms(full)
    trained_variables = tf.train.list_variables(str(root / "model" / "Format-Serving" / "variables" / "variables"))
    assert trained_variables == tf.train.list_variables(os.path.join(pushed_model, "variables", "variables"))
    assert "lora" not in " ".join(trained.encoder.classifier_weights())
    answers = trained.signatures["serving_default"](text=tf.constant(["great flight", "lost my bag again"]))
    assert answers["probabilities"].shape == (2, 3)

    hp = trained_hyperparameters(root)
    assert hp["lora_adapters_merged"] == 6 * 2  # 6 layers x (query, value)
    # The merged model's logits on an eval batch against the adapters' (measured in run_fn): float32 rounding.
    assert hp["lora_merge_max_logit_difference"] < 1e-4
    hidden, rank = 384, 4
    assert hp["trainable_parameters"] == 6 * 2 * (hidden * rank + rank * hidden) + hidden * 3 + 3
    assert hp["total_parameters"] > 22_000_000
    assert hp["steps_trained"] == STEPS and hp["gradient_accumulation_steps"] == 2 and hp["gradient_checkpointing"]
    assert f"Training {hp['trainable_parameters']} of" in log and "LoRA rank 4 on query, value" in log


def test_only_the_adapted_kernels_and_the_head_differ_from_the_checkpoint(lora_training, checkpoint_dir):
    root, _ = lora_training
    loaded = tf.saved_model.load(str(root / "model" / "Format-Serving"))
    trained = loaded.encoder.classifier_weights()
    start = encoder.keras_weights(keras_classifier.load_classifier(checkpoint_dir, 3).variables)
    assert set(trained) == set(start)
    changed = [name for name, original in start.items() if not np.array_equal(original.numpy(), trained[name].numpy())]
    adapted = [name for name in changed if name.endswith(("/query/kernel", "/value/kernel"))]
    assert len(adapted) == 6 * 2
    assert sorted(name for name in changed if name not in adapted) == ["classifier/bias", "classifier/kernel"]
