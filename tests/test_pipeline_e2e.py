"""The whole pipeline, for real, on a small slice of the embedded corpus with the real checkpoint.

Runs the CLI as a user does (a subprocess of beam_runner.py): a first run pushes a model. (Re-runs served
from the cache, TFX's own CLI and a model trained on corrupted labels that is not blessed:
tests/test_continuous_training.py.)
"""
import glob
import gzip
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import numpy as np
import tensorflow as tf

from components import serving_ops
from pipeline import configs

from pipeline_runs import STEPS, summary


def test_first_run_pushes_a_servable_model(first_run):
    outputs, result = first_run
    lines = summary(result.stdout)
    assert lines["blessed"] == "yes"
    # The BlessingGate's own count of the eval split's texts and accuracy: the Evaluator's.
    assert re.fullmatch(rf"accuracy {float(lines['eval accuracy']):.4f} \(95% lower bound 0\.\d{{4}}; largest class "
                        r"0\.\d{4}\) on \d+ texts: blessed \(no blessed model before it\)", lines["blessing"])
    pushed = lines["pushed"]
    assert os.path.dirname(pushed) == os.path.join(str(outputs), "serving", "text_classifier")
    assert os.path.basename(pushed).isdigit()  # TF Serving's <base>/<version>/ layout
    assert 0.3 <= float(lines["eval accuracy"]) <= 1.0
    assert lines["training"] == (f"1 epoch(s), stopped by --train-steps {STEPS}; exported epoch 1's weights, the "
                                 "best on the validation slice")

    model = tf.saved_model.load(pushed)
    assert {"serving_default", "serving_tf_example", "transform_features"} <= set(model.signatures)
    texts = ["what a great flight, thank you!", "worst customer service ever", "my flight is at 6pm"]
    out = model.signatures["serving_default"](text=tf.constant(texts))
    probabilities = out["probabilities"].numpy()
    assert probabilities.shape == (3, 3) and out["probabilities"].dtype == tf.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    hyperparameters = json.load(open(os.path.join(pushed, "assets.extra", "hyperparameters.json")))
    class_names = hyperparameters["class_names"]
    assert sorted(class_names) == ["negative", "neutral", "positive"]
    assert out["class_id"].dtype == tf.int64
    assert [class_names[i] for i in out["class_id"].numpy()] == [s.decode() for s in out["label"].numpy()]
    assert hyperparameters["train_steps"] == STEPS and hyperparameters["task"]["max_seq_length"] == 64

    # The tf.Example signature answers the same.
    examples = [tf.train.Example(features=tf.train.Features(feature={
        "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[t.encode()]))})).SerializeToString()
        for t in texts]
    by_example = model.signatures["serving_tf_example"](examples=tf.constant(examples))
    np.testing.assert_allclose(by_example["probabilities"].numpy(), probabilities, atol=1e-5)


def test_export_is_servable_and_lean(first_run):
    outputs, result = first_run
    pushed = summary(result.stdout)["pushed"]
    assert serving_ops.unservable_ops(pushed) == set()
    assert "WordpieceTokenizeWithOffsets" in serving_ops.graph_ops(pushed)
    assert os.path.isfile(os.path.join(pushed, "assets", "vocab.txt"))
    # No optimizer state: the variables are the weights (91 MB of safetensors), not three times that.
    variables = sum(os.path.getsize(p) for p in glob.glob(os.path.join(pushed, "variables", "*")))
    assert variables < 1.2 * 90_868_376


def _profile_data(port, path):
    """The Profile tab's API (it answers gzip-compressed, asked or not)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/profile/{path}", timeout=60) as response:
        body = response.read()
        return (gzip.decompress(body) if response.headers.get("Content-Encoding") == "gzip" else body).decode()


def test_make_tensorboard_serves_the_training_curves_and_make_profiles_profiles(first_run):
    """`make profile` on the pushed model, then `make tensorboard`: the Trainer's curves and the three profile
    sessions, whose op statistics hold the graph's own ops (the tokenizer's, the encoder's matmuls)."""
    outputs, _ = first_run
    profiled = subprocess.run(["make", "--no-print-directory", "profile", f"OUTPUTS={outputs}"],
                              cwd=configs.PROJECT_DIR, capture_output=True, text=True, timeout=900,
                              env={**os.environ, "PROFILE_ARGS": "--training-warmup 3"})
    assert profiled.returncode == 0, profiled.stderr[-3000:]
    # The kernels as they ran (after grappler), the encoder's matmuls among them.
    kernels = profiled.stdout.split("the kernels of a batch-1 request", 1)[1]
    assert re.search(r"^\| \w*MatMul\w* \| \d+\.\d \| \d+\.\d{3} \|$", kernels, re.M), kernels
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["make", "--no-print-directory", "tensorboard", f"OUTPUTS={outputs}", f"PORT={port}"],
                              cwd=configs.PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                runs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=5))
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()[-2000:]
                assert time.monotonic() < deadline, "TensorBoard did not answer within 120 s"
                time.sleep(1)
        train = next(run for run in runs if run.endswith("/train"))
        tags = json.load(urllib.request.urlopen(
            f"http://127.0.0.1:{port}/data/plugin/scalars/tags?run={urllib.parse.quote(train)}", timeout=10))
        assert {"batch_loss", "epoch_loss", "epoch_accuracy"} <= set(tags[train])
        assert set(json.loads(_profile_data(port, "runs"))) == {"serving_batch1", "serving_batch32", "training_step"}
        query = "?run=serving_batch1&tag=framework_op_stats^"
        (host,) = json.loads(_profile_data(port, "hosts" + query))
        ops = _profile_data(port, f"data{query}&host={host}")
        assert "WordpieceTokenizeWithOffsets" in ops and "MatMul" in ops
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
