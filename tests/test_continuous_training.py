"""Continuous retraining, played for real over three spans of new data (data/span-{SPAN}/data.csv), each
run reading the newest span as a scheduled run would (tests/span_runs.py):

- span 1 trains from the checkpoint and pushes version 1;
- span 2 trains warm-started from version 1 and pushes version 2;
- span 3's training labels are corrupted: the drift check measures the label shift (set to warn, so that
  the run goes on); the model is worse than version 2 on span 3's eval split, is not blessed, and the
  serving root still serves version 2;
- re-running with no new span reuses every component and pushes nothing;
- each run scores its new drop (--score-data) with the model it pushed, and nothing when it pushed none.

Span 3 runs through `tfx run create --engine=local` (LocalDagRunner), the re-run through `--engine=beam`.
"""
import csv
import glob
import os
import re

from model import export
from serving import batch_scoring

from pipeline_runs import cached_nodes
from span_runs import DROP_ROWS


def test_span_1_trains_from_the_checkpoint_and_pushes_version_1(span_runs):
    first = span_runs.summaries[0]
    assert first["span"] == "1" and first["trained from"] == "the checkpoint"
    assert first["blessed"] == "yes" and os.path.dirname(first["pushed"]) == span_runs.serving_root


def test_span_2_trains_warm_started_from_version_1_and_pushes_version_2(span_runs):
    first, second = span_runs.summaries[:2]
    assert second["span"] == "2"
    assert second["trained from"] == f"{first['pushed']} (warm start)"
    assert "Warm start from " + first["pushed"] in span_runs.stderr[1]
    assert export.read_hyperparameters(second["pushed"])["warm_started_from"] == first["pushed"]
    assert second["blessed"] == "yes" and second["pushed"] != first["pushed"]
    # Both models on span 2's eval split, paired: non-inferior within the spans' tolerance.
    assert re.search(rf"^accuracy {float(second['eval accuracy']):.4f} vs the last blessed model's 0\.\d{{4}}, "
                     r"difference [+-]0\.\d{4} \(95% lower bound [+-]0\.\d{4}, tolerance 0\.2; .*: blessed$",
                     second["blessing"]), second["blessing"]
    assert sorted(os.listdir(span_runs.serving_root)) == [os.path.basename(r["pushed"]) for r in (first, second)]
    # The drift check measured span 2 against span 1, and found nothing over the thresholds.
    assert "Drift of label from span 1 to 2: L_INFTY" in span_runs.stderr[1]
    assert "Drift (not stopping" not in span_runs.stderr[1]


def test_span_3_with_corrupted_labels_is_not_blessed_and_version_2_still_serves(span_runs):
    second, third = span_runs.summaries[1:3]
    assert third["span"] == "3" and third["trained from"] == f"{second['pushed']} (warm start)"
    assert "Drift (not stopping, --drift-action warn): span 3 drifted from span 2: label: The Linfty distance" \
        in span_runs.stderr[2]
    assert third["blessed"] == "no" and third["pushed"] == "nothing (not blessed)"
    assert re.search(r"difference -0\.\d{4} .*: not blessed: accuracy 0\.\d{4} is below the floor 0\.5; .*is not "
                     r"above -0\.2", third["blessing"]), third["blessing"]
    assert float(third["eval accuracy"]) < float(second["eval accuracy"])
    assert span_runs.serving_digests[2] == span_runs.serving_digests[1]  # untouched, byte for byte
    versions = sorted(name for name in os.listdir(span_runs.serving_root) if name.isdigit())
    assert os.path.join(span_runs.serving_root, versions[-1]) == second["pushed"]


def test_rerun_with_no_new_span_is_cached_and_pushes_nothing(span_runs):
    rerun = span_runs.summaries[3]
    assert rerun["span"] == "3" and rerun["pushed"] == "nothing (not blessed)"
    assert "Component Trainer is running." in span_runs.stderr[2]  # LocalDagRunner's words
    assert {"CsvExampleGen", "DriftCheck", "Transform", "Trainer", "Evaluator", "ServingPusher"} <= cached_nodes(
        span_runs.stderr[3])
    assert span_runs.serving_digests[3] == span_runs.serving_digests[2]


def test_each_run_scores_its_new_drop_with_the_model_it_pushed_and_none_when_it_pushed_none(span_runs):
    for span, summary in zip((1, 2), span_runs.summaries):
        scores = re.fullmatch(r"(\S+) \((\d+) rows, model version (\d+)\)", summary["scores"])
        directory, rows, version = scores.groups()
        assert int(rows) == DROP_ROWS and version == os.path.basename(summary["pushed"])
        assert batch_scoring.read_success(directory)["rows"] == DROP_ROWS
        scored = [row for shard in glob.glob(os.path.join(directory, "scores-*.csv"))
                  for row in csv.DictReader(open(shard, encoding="utf-8", newline=""))]
        assert sorted(row["id"] for row in scored) == sorted(f"{span}-{i}" for i in range(DROP_ROWS))
        assert {row["model_version"] for row in scored} == {version}
    assert span_runs.summaries[2]["scores"] == "nothing (nothing pushed)"
    assert "BatchScoring" in cached_nodes(span_runs.stderr[3])
