"""TFX's CsvExampleGen, reading the header as the data rows are read, and a window of spans.

TFX 1.16 takes the column names from `first_line.strip().split(',')`: a UTF-8 byte-order mark (Excel
writes one) becomes part of the first column's name, and a quoted header name keeps its quotes, so the
text or label column "does not exist". Here the header goes through the csv module after the mark is
dropped.

With a {SPAN} pattern and a span window N > 1, the examples are those of the newest span (which TFX's
driver resolves, and whose files key the cache) and of the N - 1 spans before it: training sees the last
N spans, in every orchestrator (a SpanRange resolver would do it in the local ones, but Vertex AI compiles
no such resolver). Spans are immutable once written: a changed old span is not noticed by the cache.
Everything else is TFX's own executor.
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

from contracts.raw_data import read_header, span_patterns

SPAN_WINDOW_KEY, SPAN_PATTERN_KEY = "span_window", "span_pattern"


def _column_names(csv_files: List[str]) -> List[str]:
    names = read_header(csv_files[0])
    for path in csv_files[1:]:
        if read_header(path) != names:
            raise RuntimeError(f"{path}: header {read_header(path)} differs from {names} in {csv_files[0]}")
    return names


def span_window_config(pattern: str, span_window: int) -> example_gen_pb2.CustomConfig:
    """ExampleGen's custom_config for a window of span_window spans of `pattern` (relative to input_base)."""
    window = struct_pb2.Struct()
    window.update({SPAN_PATTERN_KEY: pattern, SPAN_WINDOW_KEY: span_window})
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(window)
    return config


def _window_patterns(exec_properties: Dict[str, Any], split_pattern: str) -> List[str]:
    """The file patterns to read: the resolved split pattern, or those of the window that ends with it."""
    serialized = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    if not serialized:
        return [split_pattern]
    window = struct_pb2.Struct()
    proto_utils.json_to_proto(serialized, example_gen_pb2.CustomConfig()).custom_config.Unpack(window)
    span = exec_properties[example_gen_utils.SPAN_PROPERTY_NAME]
    logging.info("Reading the %d spans up to span %d", int(window[SPAN_WINDOW_KEY]), span)
    return span_patterns(window[SPAN_PATTERN_KEY], span, int(window[SPAN_WINDOW_KEY]))


@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
class _CsvToExample(beam.PTransform):
    """TFX's _CsvToExample.expand with _column_names in place of io_utils.load_csv_column_names."""

    def __init__(self, exec_properties, split_pattern: str):
        super().__init__()
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        self._csv_patterns = [os.path.join(input_base, p) for p in _window_patterns(exec_properties, split_pattern)]

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
        return parsed_csv_lines | "ToTFExample" >> beam.ParDo(to_example, column_infos)


class Executor(csv_executor.Executor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CsvToExample


class CsvExampleGen(TfxCsvExampleGen):
    """Named like TFX's, so its node id, output paths and ML Metadata records read the same.
    custom_config: span_window_config(...) for a window of spans."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, input_base: str, input_config: example_gen_pb2.Input, output_config: example_gen_pb2.Output,
                 custom_config: Optional[example_gen_pb2.CustomConfig] = None):
        # FileBasedExampleGen's constructor: TFX's CsvExampleGen does not pass custom_config on.
        super(TfxCsvExampleGen, self).__init__(input_base=input_base, input_config=input_config,
                                               output_config=output_config, custom_config=custom_config)
