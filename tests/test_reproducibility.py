"""Same seed, data and checkpoint on the same machine: a second run from scratch pushes a model whose
predictions on the eval set agree with the first run's (tolerance measured: see RELIABILITY.md).

The second run is span 1 of tests/span_runs.py: the shared run's data, read through a {SPAN} pattern into
a fresh outputs directory, with the drift check in the pipeline (it has no earlier span to compare with)."""
import numpy as np
import tensorflow as tf

from pipeline_runs import run_name, split_texts

# Largest allowed difference of any class probability. Measured: 0.0, the two runs are bit-identical on
# one machine (seeded shuffle, dropout and head initialization; CPU kernels are deterministic).
TOLERANCE = 1e-6


def probabilities(model_dir, texts):
    model = tf.saved_model.load(model_dir)
    return model.signatures["serving_default"](text=tf.constant(texts))["probabilities"].numpy()


def test_a_second_run_from_scratch_pushes_the_same_predictions(first_run, pushed_model, span_runs):
    assert span_runs.summaries[0]["trained from"] == "the checkpoint"
    texts = sorted(split_texts(first_run[0], run_name(first_run[1].stdout)))
    assert len(texts) > 50
    first, second = probabilities(pushed_model, texts), probabilities(span_runs.summaries[0]["pushed"], texts)
    print(f"max |difference| of eval probabilities between two runs: {np.abs(first - second).max():.2e}")
    np.testing.assert_allclose(second, first, rtol=0, atol=TOLERANCE)
    assert (second.argmax(axis=1) == first.argmax(axis=1)).all()
