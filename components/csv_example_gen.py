"""TFX's CsvExampleGen, reading the header as the data rows are read, and a window of spans.

TFX 1.16 takes the column names from `first_line.strip().split(',')`: a UTF-8 byte-order mark (Excel
writes one) becomes part of the first column's name, and a quoted header name keeps its quotes, so the
text or label column "does not exist". Here the header goes through the csv module after the mark is
dropped.

With a {SPAN} pattern and a span window N > 1, the examples are those of the newest span (which TFX's
driver resolves, and whose files key the cache) and of the N - 1 spans before it: training sees the last
N spans, in every orchestrator (a SpanRange resolver would do it in the local ones, but Vertex AI compiles
no such resolver). Spans are immutable once written: a changed old span is not noticed by the cache.

With a label separator (a multi-label task), the label cell becomes a feature of several values, one per
label (contracts/raw_data.split_labels): TFDV then checks each label against the schema's domain, and a
row without one against its value count. Everything else is TFX's own executor.
"""
import os
from typing import Any, Dict, List, Optional

import apache_beam as beam
import tensorflow as tf
from absl import logging
from google.protobuf import struct_pb2
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils
from tfx.v1.components import CsvExampleGen as TfxCsvExampleGen
from tfx_bsl.coders import csv_decoder

from contracts.raw_data import read_header, span_patterns, split_labels

SPAN_WINDOW_KEY, SPAN_PATTERN_KEY = "span_window", "span_pattern"
LABEL_COLUMN_KEY, LABEL_SEPARATOR_KEY = "label_column", "label_separator"


def _column_names(csv_files: List[str]) -> List[str]:
    names = read_header(csv_files[0])
    for path in csv_files[1:]:
        if read_header(path) != names:
            raise RuntimeError(f"{path}: header {read_header(path)} differs from {names} in {csv_files[0]}")
    return names


def example_gen_config(pattern: str = "", span_window: int = 1, label_column: str = "",
                       label_separator: str = "") -> Optional[example_gen_pb2.CustomConfig]:
    """ExampleGen's custom_config: a window of span_window spans of `pattern` (relative to input_base),
    and a multi-label column's separator; None when neither is wanted."""
    values = {}
    if span_window > 1:
        values.update({SPAN_PATTERN_KEY: pattern, SPAN_WINDOW_KEY: span_window})
    if label_separator:
        values.update({LABEL_COLUMN_KEY: label_column, LABEL_SEPARATOR_KEY: label_separator})
    if not values:
        return None
    struct = struct_pb2.Struct()
    struct.update(values)
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(struct)
    return config


def _custom_config(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    serialized = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    if not serialized:
        return {}
    struct = struct_pb2.Struct()
    proto_utils.json_to_proto(serialized, example_gen_pb2.CustomConfig()).custom_config.Unpack(struct)
    return dict(struct)


def _window_patterns(exec_properties: Dict[str, Any], split_pattern: str) -> List[str]:
    """The file patterns to read: the resolved split pattern, or those of the window that ends with it."""
    window = _custom_config(exec_properties)
    if SPAN_WINDOW_KEY not in window:
        return [split_pattern]
    span = exec_properties[example_gen_utils.SPAN_PROPERTY_NAME]
    logging.info("Reading the %d spans up to span %d", int(window[SPAN_WINDOW_KEY]), span)
    return span_patterns(window[SPAN_PATTERN_KEY], span, int(window[SPAN_WINDOW_KEY]))


def _split_label(example: tf.train.Example, label_column: str, separator: str) -> tf.train.Example:
    split = tf.train.Example()
    split.CopyFrom(example)  # Beam's elements are not to be changed in place
    values = split.features.feature[label_column].bytes_list.value
    labels = [label.encode("utf-8") for cell in values for label in split_labels(cell.decode("utf-8"), separator)]
    del values[:]
    values.extend(labels)
    return split


@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
class _CsvToExample(beam.PTransform):
    """TFX's _CsvToExample.expand with _column_names in place of io_utils.load_csv_column_names."""

    def __init__(self, exec_properties, split_pattern: str):
        super().__init__()
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        self._csv_patterns = [os.path.join(input_base, p) for p in _window_patterns(exec_properties, split_pattern)]
        self._labels = _custom_config(exec_properties)

    def expand(self, pipeline: beam.Pipeline) -> beam.pvalue.PCollection:
        csv_files = [path for pattern in self._csv_patterns for path in sorted(fileio.glob(pattern))]
        if not csv_files:
            raise RuntimeError(f"Split pattern {self._csv_patterns[-1]} does not match any files.")
        column_names = _column_names(csv_files)
        parsed_csv_lines = (
            pipeline
            | "CreateFilenames" >> beam.Create(csv_files)
            | "ReadFromText" >> beam.ParDo(csv_executor._ReadCsvRecordsFromTextFile())  # noqa: SLF001 (TFX's own)
            | "ParseCSVLine" >> beam.ParDo(csv_decoder.ParseCSVLine(delimiter=","))
            | "ExtractParsedCSVLines" >> beam.Keys())
        column_infos = beam.pvalue.AsSingleton(
            parsed_csv_lines
            | "InferColumnTypes" >> beam.CombineGlobally(
                csv_decoder.ColumnTypeInferrer(column_names, skip_blank_lines=True)))
        to_example = csv_executor._ParsedCsvToTfExample()  # noqa: SLF001 (TFX's own, as its _CsvToExample uses it)
        examples = parsed_csv_lines | "ToTFExample" >> beam.ParDo(to_example, column_infos)
        if LABEL_SEPARATOR_KEY not in self._labels:
            return examples
        return examples | "SplitLabels" >> beam.Map(_split_label, self._labels[LABEL_COLUMN_KEY],
                                                    self._labels[LABEL_SEPARATOR_KEY])


class Executor(csv_executor.Executor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CsvToExample


class CsvExampleGen(TfxCsvExampleGen):
    """Named like TFX's, so its node id, output paths and ML Metadata records read the same.
    custom_config: example_gen_config(...) for a window of spans or multi-label rows."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, input_base: str, input_config: example_gen_pb2.Input, output_config: example_gen_pb2.Output,
                 custom_config: Optional[example_gen_pb2.CustomConfig] = None):
        # FileBasedExampleGen's constructor: TFX's CsvExampleGen does not pass custom_config on.
        super(TfxCsvExampleGen, self).__init__(input_base=input_base, input_config=input_config,
                                               output_config=output_config, custom_config=custom_config)
