"""Same seed, data and checkpoint on the same machine: a second run from scratch pushes a model whose
predictions on the eval set agree with the first run's (tolerance measured: see RELIABILITY.md).

The second run goes through TFX's own CLI with the local engine (`tfx pipeline create` / `tfx run create
--engine=local` on local_runner.py), the first through beam_runner.py: the same pipeline definition under
both of TFX's local orchestrators."""
import numpy as np
import tensorflow as tf

from pipeline_runs import FLAGS, eval_texts, run_tfx_cli, summary

# Largest allowed difference of any class probability. Measured: 0.0, the two runs are bit-identical on
# one machine (seeded shuffle, dropout and head initialization; CPU kernels are deterministic).
TOLERANCE = 1e-6


def probabilities(model_dir, texts):
    model = tf.saved_model.load(model_dir)
    return model.signatures["serving_default"](text=tf.constant(texts))["probabilities"].numpy()


def test_a_second_run_from_scratch_with_the_tfx_cli_pushes_the_same_predictions(first_run, pushed_model, tmp_path):
    outputs, _ = first_run
    again = run_tfx_cli("local", "local_runner.py", tmp_path / "outputs", *FLAGS, home=tmp_path / "tfx_home")
    assert again.returncode == 0, again.stderr[-3000:]
    # LocalDagRunner logs "Component Trainer is running.", BeamDagRunner "node Trainer is running.".
    assert "Trainer is running." in again.stderr and "A cached execution" not in again.stderr
    texts = sorted(eval_texts(outputs))
    assert len(texts) > 50
    first, second = probabilities(pushed_model, texts), probabilities(summary(again.stdout)["pushed"], texts)
    print(f"max |difference| of eval probabilities between two runs: {np.abs(first - second).max():.2e}")
    np.testing.assert_allclose(second, first, rtol=0, atol=TOLERANCE)
    assert (second.argmax(axis=1) == first.argmax(axis=1)).all()
