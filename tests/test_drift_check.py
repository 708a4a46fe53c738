"""The drift check between spans, for real: TFDV's comparators on spans cut from the embedded corpus,
through the component's own TFX executor."""
import csv
import os
import random

import pytest
import tensorflow_data_validation as tfdv
from tfx.types import standard_artifacts

from components import drift_check
from contracts import typed_settings
from tasks import TaskSettings

CLASSES = ["negative", "neutral", "positive"]
SINGLE_LABEL = TaskSettings()
PATTERN = "span-{SPAN}/data.csv"


@pytest.fixture(scope="module")
def spans(tmp_path_factory, corpus):
    """Spans 1 and 2: samples of the corpus; 3: span 2 with every text written three times over (three
    times the word pieces); 4: span 3 with every label moved to the next class."""
    base = tmp_path_factory.mktemp("spans")
    rows = random.Random(0).sample(corpus, 800)
    tripled = [(" ".join([text] * 3), label) for text, label in rows[400:]]
    contents = {1: rows[:400], 2: rows[400:], 3: tripled,
                4: [(text, CLASSES[(CLASSES.index(label) + 1) % 3]) for text, label in tripled]}
    for span, span_rows in contents.items():
        os.makedirs(base / f"span-{span}")
        with open(base / f"span-{span}" / "data.csv", "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([("text", "label"), *span_rows])
    return str(base)


def run_executor(spans, span, action, report_dir):
    """DriftCheck as TFX runs it: its executor, on an Examples artifact of that span."""
    examples, report = standard_artifacts.Examples(), standard_artifacts.ExampleAnomalies()
    examples.set_int_custom_property("span", span)
    report.uri = str(report_dir)
    executor = drift_check.DriftCheck.EXECUTOR_SPEC.executor_class()
    executor.Do({"examples": [examples]}, {"report": [report]}, {
        "input_base": spans, "pattern": PATTERN, "task": typed_settings.to_json(SINGLE_LABEL),
        "checkpoint_dir": "", "label_linf": 0.1, "token_length_js": 0.1, "action": action})


def check(spans, span, tmp_path):
    return drift_check.check_span(spans, PATTERN, span, SINGLE_LABEL, "", 0.1, 0.1, str(tmp_path))


def test_two_samples_of_one_corpus_do_not_drift_and_the_report_has_both_measurements(spans, tmp_path):
    assert check(spans, 2, tmp_path) == []
    anomalies = tfdv.load_anomalies_text(str(tmp_path / "drift_anomalies.pbtxt"))
    measured = {info.path.step[0]: info.drift_measurements[0].value for info in anomalies.drift_skew_info}
    assert set(measured) == {"label", drift_check.TOKEN_LENGTH}
    assert 0 < measured["label"] < 0.1 and 0 < measured[drift_check.TOKEN_LENGTH] < 0.1
    assert {"span-1.statistics.pbtxt", "span-2.statistics.pbtxt"} <= set(os.listdir(tmp_path))


def test_longer_texts_drift_on_the_token_length_and_moved_labels_on_the_label(spans, tmp_path):
    (length_problem,) = check(spans, 3, tmp_path / "lengths")
    assert length_problem.startswith(drift_check.TOKEN_LENGTH + ": ") and "Jensen-Shannon divergence" in length_problem
    (label_problem,) = check(spans, 4, tmp_path / "labels")
    assert label_problem.startswith("label: The Linfty distance between current and previous is ")


def test_the_first_span_has_nothing_to_drift_from(spans, tmp_path):
    assert check(spans, 1, tmp_path) == []


def test_stop_raises_one_line_naming_the_spans_and_warn_goes_on(spans, tmp_path):
    with pytest.raises(drift_check.DataDriftError) as error:
        run_executor(spans, 4, "stop", tmp_path / "stop")
    message = str(error.value)
    assert "\n" not in message and message.startswith("span 4 drifted from span 3: label: The Linfty distance")
    assert message.endswith("re-run with --drift-action warn")
    run_executor(spans, 4, "warn", tmp_path / "warn")  # logs the drift, does not raise
    assert os.path.isfile(tmp_path / "warn" / "drift_anomalies.pbtxt")


def test_multi_label_spans_are_compared_on_single_labels_not_on_how_cells_are_written(tmp_path, corpus):
    """Span 2 holds span 1's rows with each cell's labels in the other order: the same labels, other cells."""
    rows = random.Random(1).sample(corpus, 400)
    cells = {1: [f"{label}|question" if i % 2 else label for i, (_, label) in enumerate(rows)],
             2: [f"question | {label}" if i % 2 else label for i, (_, label) in enumerate(rows)]}
    for span, span_cells in cells.items():
        os.makedirs(tmp_path / f"span-{span}")
        with open(tmp_path / f"span-{span}" / "data.csv", "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([("text", "label"), *zip((text for text, _ in rows), span_cells)])
    as_cells = drift_check.check_span(str(tmp_path), PATTERN, 2, SINGLE_LABEL, "", 0.1, 0.1, str(tmp_path / "cells"))
    assert [problem.split(":")[0] for problem in as_cells] == ["label"]  # cells: every two-label one moved
    multi_label = TaskSettings(labels="multi_label", label_separator="|")
    assert drift_check.check_span(str(tmp_path), PATTERN, 2, multi_label, "", 0.1, 0.1, str(tmp_path / "labels")) == []
