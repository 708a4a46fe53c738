"""Drift between the newest span and the one before it, with TFDV's drift comparators, before training.

Two features are compared: the label distribution (L-infinity distance: the largest change of any class's
share) and the number of word pieces per text, as the checkpoint's tokenizer counts them (Jensen-Shannon
divergence of the histograms). Above a threshold the run stops (drift_action "stop"), or logs a warning
and goes on ("warn"). The report, both spans' statistics and TFDV's anomalies, is the component's output.

The spans' CSV files are read here directly (they passed the input check when they were the newest):
ExampleGen's output may hold a window of several spans, and a span's own statistics are needed. Only
{SPAN} numbers are compared: span N against span N - 1, as the window counts them.
"""
import csv
import io
import os
from typing import List, Optional, Tuple

import pandas as pd
import tensorflow as tf
import tensorflow_data_validation as tfdv
from absl import logging
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts

import tasks
from contracts import typed_settings
from contracts.errors import DataDriftError
from contracts.raw_data import BYTE_ORDER_MARK, span_patterns
from preprocessing import checkpoint, tokenize

TOKEN_LENGTH = "token_length"
_BATCH = 1024


def read_span(input_base: str, pattern: str, span: int, task: tasks.TaskSettings) -> Optional[Tuple[List[str], List]]:
    """The texts of one span's CSV files and each row's labels (a list: the labels its cell holds, as ExampleGen
    writes them), or None when the span has no file."""
    texts, labels = [], []
    label_task = tasks.label_task(task)
    paths = [path for p in span_patterns(pattern, span, 1) for path in sorted(tf.io.gfile.glob(
        os.path.join(input_base, p)))]
    for path in paths:
        with tf.io.gfile.GFile(path, "rb") as f:
            content = f.read().decode("utf-8").lstrip(BYTE_ORDER_MARK)
        for row in csv.DictReader(io.StringIO(content, newline="")):
            texts.append(row[task.text_column])
            labels.append(label_task.row_labels(row[task.label_column]))
    return (texts, labels) if paths else None


def span_statistics(texts: List[str], labels: List, tokenizer: tokenize.BertGraphTokenizer
                    ) -> statistics_pb2.DatasetFeatureStatisticsList:
    lengths = []
    for start in range(0, len(texts), _BATCH):
        lengths.extend(tokenizer.tokenize(tf.constant(texts[start:start + _BATCH])).row_lengths().numpy().tolist())
    return tfdv.generate_statistics_from_dataframe(pd.DataFrame({"label": labels, TOKEN_LENGTH: lengths}))


def drift_anomalies(newest: statistics_pb2.DatasetFeatureStatisticsList,
                    previous: statistics_pb2.DatasetFeatureStatisticsList,
                    label_linf: float, token_length_js: float) -> anomalies_pb2.Anomalies:
    schema = tfdv.infer_schema(previous)
    tfdv.get_feature(schema, "label").drift_comparator.infinity_norm.threshold = label_linf
    tfdv.get_feature(schema, TOKEN_LENGTH).drift_comparator.jensen_shannon_divergence.threshold = token_length_js
    return tfdv.validate_statistics(newest, schema, previous_statistics=previous)


def drift_problems(anomalies: anomalies_pb2.Anomalies) -> List[str]:
    """One 'feature: description' per drift comparator over its threshold."""
    return [f"{feature}: {reason.description}" for feature, info in sorted(anomalies.anomaly_info.items())
            for reason in info.reason if "COMPARATOR" in anomalies_pb2.AnomalyInfo.Type.Name(reason.type)]


def check_span(input_base: str, pattern: str, span: int, task: tasks.TaskSettings, checkpoint_dir: str,
               label_linf: float, token_length_js: float, report_dir: str) -> List[str]:
    """Compares span with span - 1; writes both statistics and the anomalies to report_dir; returns the
    drift problems (none when there is no previous span). The label distribution is that of single labels
    (a multi-label row counts each of its labels)."""
    previous_rows = read_span(input_base, pattern, span - 1, task)
    if previous_rows is None:
        logging.info("Drift not checked: span %d has no span %d before it", span, span - 1)
        return []
    tokenizer = tokenize.BertGraphTokenizer(tokenize.load_wordpiece_spec(checkpoint.local_dir(checkpoint_dir)))
    newest = span_statistics(*read_span(input_base, pattern, span, task), tokenizer)
    previous = span_statistics(*previous_rows, tokenizer)
    anomalies = drift_anomalies(newest, previous, label_linf, token_length_js)
    tf.io.gfile.makedirs(report_dir)
    tfdv.write_stats_text(newest, os.path.join(report_dir, f"span-{span}.statistics.pbtxt"))
    tfdv.write_stats_text(previous, os.path.join(report_dir, f"span-{span - 1}.statistics.pbtxt"))
    tfdv.write_anomalies_text(anomalies, os.path.join(report_dir, "drift_anomalies.pbtxt"))
    for info in anomalies.drift_skew_info:
        for measurement in info.drift_measurements:
            logging.info("Drift of %s from span %d to %d: %s %.4f (threshold %g)", info.path.step[0], span - 1, span,
                         anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(measurement.type),
                         measurement.value, measurement.threshold)
    return drift_problems(anomalies)


@component
def DriftCheck(examples: InputArtifact[standard_artifacts.Examples],
               report: OutputArtifact[standard_artifacts.ExampleAnomalies],
               input_base: Parameter[str], pattern: Parameter[str], task: Parameter[str],
               checkpoint_dir: Parameter[str], label_linf: Parameter[float], token_length_js: Parameter[float],
               action: Parameter[str]) -> None:
    """task: tasks.TaskSettings as JSON (the text and label columns, how a label cell is read)."""
    span = examples.get_int_custom_property(example_gen_utils.SPAN_PROPERTY_NAME)
    problems = check_span(input_base, pattern, span, typed_settings.from_json(tasks.TaskSettings, task, "task"),
                          checkpoint_dir, label_linf, token_length_js, report.uri)
    if not problems:
        return
    message = (f"span {span} drifted from span {span - 1}: " + " | ".join(problems)
               + ". Look at the new data; if the change is real, re-run with --drift-action warn")
    if action == "stop":
        raise DataDriftError(message)
    logging.warning("Drift (not stopping, --drift-action warn): %s", message)
