"""Training at scale, for real on this machine, with TFX's Trainer executor and the pipeline's run_fn on the
Transform outputs of the shared small run (tests/train_worker.py; the trainings: tests/shared_runs.py):

- two worker processes on 127.0.0.1 with TF_CONFIG train together under MultiWorkerMirroredStrategy and
  end with the same weights; only the chief writes the model;
- MirroredStrategy over two logical CPU devices follows the loss curve of one device.

(mixed_bfloat16 on a tiny BERT: tests/test_peft.py.)
"""
import re

import tensorflow as tf
import tensorflow_text  # noqa: F401 (registers the tokenizer's ops, which loading the model needs)

from pipeline_runs import trained_hyperparameters
from shared_runs import TRAINING_STEPS as STEPS

# Largest difference of the logged (running mean) loss between one device and two replicas, 4x the 0.005
# measured. The global batch is the same; what differs is the order of floating-point sums and the dropout
# masks each replica draws for its half of the batch.
LOSS_TOLERANCE = 0.02


def _losses(log):
    return {int(step): float(loss) for step, loss in re.findall(r"Training step (\d+)/\d+: loss ([0-9.]+)", log)}


def _digest(log):
    return re.search(r"Trained weights: sha256 ([0-9a-f]{64})", log).group(1)


def test_two_workers_with_tf_config_train_together_and_agree_on_the_weights(trainings):
    root, logs = trainings
    workers = [logs["worker0"], logs["worker1"]]
    for log in workers:
        assert "on 2 replica(s) (MultiWorkerMirroredStrategy)" in log, log[-3000:]
        assert max(_losses(log)) == STEPS
    assert _digest(workers[0]) == _digest(workers[1])  # bit for bit: the all-reduced updates are the same
    assert _losses(workers[0]) == _losses(workers[1])
    assert "The chief wrote the model" in workers[1]  # the worker saved into scratch space and waited

    chief = trained_hyperparameters(root / "cluster")
    assert chief["strategy"] == "MultiWorkerMirroredStrategy" and chief["replicas"] == 2
    assert chief["steps_trained"] == STEPS and chief["weights_sha256"] == _digest(workers[0])
    model = tf.saved_model.load(str(root / "cluster" / "model" / "Format-Serving"))
    probabilities = model.signatures["serving_default"](text=tf.constant(["great flight", "lost my bag"]))
    assert probabilities["probabilities"].shape == (2, 3)


def test_mirrored_over_two_cpu_devices_follows_the_one_device_loss_curve(trainings):
    root, logs = trainings
    assert "on 1 replica(s) (one device)" in logs["one"] and "on 2 replica(s) (MirroredStrategy)" in logs["two"]
    one, two = _losses(logs["one"]), _losses(logs["two"])
    assert sorted(one) == sorted(two) and max(one) == STEPS
    print("loss by step, one device vs two replicas:", [(step, one[step], two[step]) for step in sorted(one)])
    assert max(abs(one[step] - two[step]) for step in one) <= LOSS_TOLERANCE
    assert trained_hyperparameters(root / "two")["replicas"] == 2
    assert trained_hyperparameters(root / "one")["replicas"] == 1
    assert _digest(logs["one"]) != _digest(logs["two"])  # two real replicas, not one device twice
