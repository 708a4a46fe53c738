"""The run report of the shared small run: its numbers are the artifacts' numbers, its pictures are embedded,
and it can be rebuilt for a past run from ML Metadata alone."""
import base64
import html
import json
import os
import re
import shutil

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma

from pipeline import configs
from reports import run_report

from pipeline_runs import STEPS, run_name


@pytest.fixture(scope="module")
def report(first_run):
    outputs, result = first_run
    path = re.search(r"^report: (.+)$", result.stdout, re.M).group(1)
    config = configs.PipelineConfig(outputs_dir=str(outputs))
    return config, run_name(result.stdout), path, open(path, encoding="utf-8").read()


@pytest.fixture(scope="module")
def facts(report):
    config, run, _, _ = report
    return run_report.gather(config, run)


def _eval_records(facts):
    files = tf.io.gfile.glob(os.path.join(facts["lineage"]["examples"], "Split-eval", "*"))
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def test_evaluation_numbers_are_the_evaluators(facts):
    evaluation = facts["evaluation"]
    metrics = {e.key.name: e.value.double_value.value
               for m in tfma.load_metrics(evaluation["uri"]) if not m.slice_key.single_slice_keys
               for e in m.metric_keys_and_values if e.value.HasField("double_value") and not e.key.is_diff}
    assert evaluation["overall"]["sparse_categorical_accuracy"] == metrics["sparse_categorical_accuracy"]
    count = metrics["example_count"]
    assert sum(map(sum, evaluation["confusion"])) == count == _eval_records(facts)
    # Recall from the confusion matrix is the accuracy TFMA computed on its own on that class's slice.
    for name in evaluation["class_names"]:
        assert evaluation["per_class"][name]["recall"] == pytest.approx(
            evaluation["per_slice"][f"label={name}"], abs=1e-6)  # TFMA sums in float32
    matrix = evaluation["confusion"]
    correct = sum(matrix[i][i] for i in range(len(matrix)))
    assert correct / count == pytest.approx(evaluation["overall"]["sparse_categorical_accuracy"], abs=1e-6)


def test_data_section_counts_every_example(facts):
    splits = facts["data"]["splits"]
    assert sum(splits["eval"]["labels"].values()) == splits["eval"]["examples"] == _eval_records(facts)
    tokens = splits["train"]["tokens"]
    assert tokens["texts"] == splits["train"]["examples"] and min(tokens["lengths"]) >= 2
    (truncated,) = [column["value"] for column in tokens["columns"] if column["header"] == "truncated at 64"]
    assert 0 <= truncated < 0.05 and 0 <= tokens["unk_rate"] < 0.05  # tweets are short, mostly English
    assert facts["data"]["anomalies"] == {"train": [], "eval": []}


def test_training_curves_come_from_the_tensorboard_logs(facts):
    curves = facts["training"]["curves"]
    steps = facts["training"]["hyperparameters"]["steps_trained"]
    assert curves["train/batch_loss"] and all(0 <= step <= steps for step, _ in curves["train/batch_loss"])
    (epoch, accuracy), = curves["validation/epoch_accuracy"]  # one epoch, one evaluation: the validation slice's
    hyperparameters = facts["training"]["hyperparameters"]
    (validated,) = hyperparameters["validation"]
    assert accuracy == pytest.approx(validated["score"]) and validated["epoch"] == hyperparameters["best_epoch"] == 1
    assert hyperparameters["epochs_trained"] == 1 and hyperparameters["stopped_by"] == f"--train-steps {STEPS}"
    # a tenth of the training split's texts (ExampleGen's train split holds the rest of the sample)
    train_texts = facts["data"]["splits"]["train"]["examples"]
    assert 0.07 < hyperparameters["validation_texts"] / train_texts < 0.13


def test_page_shows_the_run_and_embeds_every_picture(report, facts):
    config, run, path, page = report
    assert path == os.path.join(run_report.report_dir(config, run), "index.html")
    assert f"{facts['evaluation']['overall']['sparse_categorical_accuracy']:.4f}" in page
    assert facts["serving"]["path"] in page and "serving_default" in page
    assert (f"1 epoch(s), stopped by --train-steps {STEPS}; exported epoch 1's weights, the best on the validation "
            "slice. Validation slice (") in html.unescape(page)  # the page escapes the apostrophe
    images = re.findall(r"<img [^>]*src=\"([^\"]*)\"", page)
    assert len(images) == 4  # token lengths, labels, training curves, confusion matrix
    for source in images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing to fetch


def test_run_record_names_the_commit_and_versions(report):
    config, run, path, _ = report
    record = json.load(open(os.path.join(os.path.dirname(path), run_report.RUN_RECORD)))
    assert record["outcome"] == "succeeded" and record["versions"]["tfx"] == "1.16.0"
    assert record["config"]["outputs_dir"] == config.outputs_dir


def test_a_past_run_rebuilds_from_ml_metadata(report, tmp_path, capsys):
    config, run, path, page = report
    assert run_report.main(["--outputs-dir", config.outputs_dir, "--list"]) == 0
    assert run in capsys.readouterr().out.split()
    os.remove(path)
    assert run_report.main(["--outputs-dir", config.outputs_dir, "--run", run]) == 0
    assert capsys.readouterr().out.strip() == f"report: {path}"
    assert open(path, encoding="utf-8").read() == page
    assert run_report.main(["--outputs-dir", str(tmp_path)]) == 2
    assert "no ML Metadata" in capsys.readouterr().err


def test_a_past_run_rebuilds_from_ml_metadata_alone(report, facts, tmp_path, capsys):
    """Without the runner's run.json and the report's cache: every section but the runner's record comes back
    the same, from the artifacts ML Metadata lists."""
    config, run, path, _ = report
    kept = {os.path.join(os.path.dirname(path), run_report.RUN_RECORD): tmp_path / "run.json",
            os.path.join(config.reports_dir, ".cache"): tmp_path / "cache"}
    for place, aside in kept.items():
        shutil.move(place, aside)
    os.remove(path)
    try:
        assert run_report.main(["--outputs-dir", config.outputs_dir, "--run", run]) == 0
        assert capsys.readouterr().out.strip() == f"report: {path}"
        rebuilt = run_report.gather(config, run)
        sections = lambda gathered: {k: v for k, v in gathered.items() if k != "lineage"}  # noqa: E731
        assert sections(rebuilt) == sections(facts)
        assert rebuilt["lineage"] == {**facts["lineage"], "record": None}
        assert f"{facts['evaluation']['overall']['sparse_categorical_accuracy']:.4f}" in open(path).read()
    finally:
        for place, aside in kept.items():
            shutil.rmtree(place, ignore_errors=True)
            shutil.move(aside, place)

def test_model_card_beside_the_pushed_model(facts, pushed_model):
    card = open(os.path.join(pushed_model, "model_card.md"), encoding="utf-8").read()
    evaluation = facts["evaluation"]
    assert f"| sparse_categorical_accuracy | {evaluation['overall']['sparse_categorical_accuracy']:.4f} |" in card
    for name in evaluation["class_names"]:
        metrics = evaluation["per_class"][name]
        assert f"| {name} | {metrics['precision']:.4f} | {metrics['recall']:.4f} | {metrics['f1_score']:.4f} |" in card
    totals = " | ".join(str(split["examples"]) for split in facts["data"]["splits"].values())
    assert f"| **total** | {totals} |" in card
    assert configs.PipelineConfig.intended_use in card
    recorded = json.loads(card.split("```json\n", 1)[1].split("```", 1)[0])
    assert recorded == facts["training"]["hyperparameters"]
    html = open(os.path.join(pushed_model, "model_card.html"), encoding="utf-8").read()
    assert "<table>" in html and f"{evaluation['overall']['sparse_categorical_accuracy']:.4f}" in html


def test_retraining_reports_compare_with_the_baseline(span_runs):
    second = open(span_runs.summaries[1]["report"], encoding="utf-8").read()
    assert "<th>baseline</th>" in second and "vs the last blessed model" in second  # (its ' is escaped)
    assert 'id="blessing-per-class"' in second  # the paired test per class, beside the overall one
    third = open(span_runs.summaries[2]["report"], encoding="utf-8").read()  # corrupted labels: refused
    assert 'id="blessing">not blessed' in third and "Nothing pushed in this run." in third
    reason = third.split('id="blessing-reason">', 1)[1].split("</span>", 1)[0]
    assert "not blessed: " in reason and "the last blessed model" in reason  # the gate's own line


def test_a_label_never_answered_scores_zero_precision_not_nan(monkeypatch):
    """TFMA gives NaN for the precision of a label the model never answered (0 / 0): the report counts it 0,
    as scikit-learn's zero_division=0 and the single-label table do, and averages over those."""
    from reports import run_facts

    entries = [("overall", "candidate", "example_count", None, False, 50.0),
               ("overall", "candidate", "f1_score (macro)", None, False, 0.4)]
    for class_id, (precision, recall, f1) in enumerate([(0.8, 0.6, 0.8), (float("nan"), 0.0, 0.0)]):
        entries += [("overall", "candidate", name, class_id, False, value)
                    for name, value in (("precision", precision), ("recall", recall), ("f1_score", f1))]
    monkeypatch.setattr(run_facts, "_metric_entries", lambda uri: iter(entries))
    metrics = run_facts.evaluation_metrics("unused", ["question", "link"])
    assert metrics["per_class"]["link"] == {"precision": 0.0, "recall": 0.0, "f1_score": 0.0}
    assert metrics["overall"]["precision (macro)"] == pytest.approx(0.4)
    assert metrics["headline"] == ("macro F1", 0.4)
