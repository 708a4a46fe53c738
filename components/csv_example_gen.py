"""TFX's CsvExampleGen, reading the header as the data rows are read, the task's columns as text, a window of
spans, and the split the task's input shape asks for.

TFX 1.16 takes the column names from `first_line.strip().split(',')`: a UTF-8 byte-order mark (Excel
writes one) becomes part of the first column's name, and a quoted header name keeps its quotes, so the
text or label column "does not exist". Here the header goes through the csv module after the mark is
dropped.

TFX types a column INT or FLOAT when every cell parses as a number. The text and label columns are text
whatever they hold: labels 0/1 or 1-5 stars (SST-2, IMDB, review ratings) are class names, and Transform's
vocabulary, the schema's domain and the served label read them as such.

A label cell becomes the values the task's label module reads in it (tasks/): one class (stripped: " positive"
is "positive"), or a multi-label row's labels, one value each, so that TFDV checks each against the schema.

With a {SPAN} pattern and a span window N > 1, the examples are those of the newest span (which TFX's
driver resolves, and whose files key the cache) and of the N - 1 spans before it: training sees the last
N spans, in every orchestrator (a SpanRange resolver would do it in the local ones, but Vertex AI compiles
no such resolver). Spans are immutable once written: a changed old span is not noticed by the cache.

The split hashes each row's text, as TFX's own partition does, unless the input shape groups rows that share
texts (a sentence pair's, tasks/text_pair.py): then a row's split is hashed from its group's key, so that no
text is on both sides. Everything else is TFX's own executor.
"""
import bisect
import hashlib
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

import tasks
from contracts import typed_settings
from contracts.raw_data import read_header, span_patterns

SPAN_WINDOW_KEY, SPAN_PATTERN_KEY, TASK_KEY = "span_window", "span_pattern", "task"


def _column_names(csv_files: List[str]) -> List[str]:
    names = read_header(csv_files[0])
    for path in csv_files[1:]:
        if read_header(path) != names:
            raise RuntimeError(f"{path}: header {read_header(path)} differs from {names} in {csv_files[0]}")
    return names


def example_gen_config(task: tasks.TaskSettings, pattern: str = "", span_window: int = 1
                       ) -> example_gen_pb2.CustomConfig:
    """ExampleGen's custom_config: the task (its columns, how a label cell is read, how rows are split) and a
    window of span_window spans of `pattern` (relative to input_base)."""
    values: Dict[str, Any] = {TASK_KEY: typed_settings.to_json(task)}
    if span_window > 1:
        values.update({SPAN_PATTERN_KEY: pattern, SPAN_WINDOW_KEY: span_window})
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


def _task(exec_properties: Dict[str, Any]) -> tasks.TaskSettings:
    return typed_settings.from_json(tasks.TaskSettings, _custom_config(exec_properties)[TASK_KEY],
                                    "ExampleGen's custom_config task")


def _window_patterns(exec_properties: Dict[str, Any], split_pattern: str) -> List[str]:
    """The file patterns to read: the resolved split pattern, or those of the window that ends with it."""
    window = _custom_config(exec_properties)
    if SPAN_WINDOW_KEY not in window:
        return [split_pattern]
    span = exec_properties[example_gen_utils.SPAN_PROPERTY_NAME]
    logging.info("Reading the %d spans up to span %d", int(window[SPAN_WINDOW_KEY]), span)
    return span_patterns(window[SPAN_PATTERN_KEY], span, int(window[SPAN_WINDOW_KEY]))


def _as_text(column_infos: List[csv_decoder.ColumnInfo], columns: List[str]) -> List[csv_decoder.ColumnInfo]:
    """The inferred column types, with `columns` read as text whatever their cells look like."""
    return [info._replace(type=csv_decoder.ColumnType.STRING) if info.name in columns else info
            for info in column_infos]


def _read_labels(example: tf.train.Example, label_column: str, label_task: tasks.LabelTask) -> tf.train.Example:
    read = tf.train.Example()
    read.CopyFrom(example)  # Beam's elements are not to be changed in place
    values = read.features.feature[label_column].bytes_list.value
    labels = [label.encode("utf-8") for cell in values for label in label_task.row_labels(cell.decode("utf-8"))]
    del values[:]
    values.extend(labels)
    return read


@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
class _CsvToExample(beam.PTransform):
    """TFX's _CsvToExample.expand with _column_names in place of io_utils.load_csv_column_names, the task's
    columns as text, and the label cells read by the task."""

    def __init__(self, exec_properties, split_pattern: str):
        super().__init__()
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        self._csv_patterns = [os.path.join(input_base, p) for p in _window_patterns(exec_properties, split_pattern)]
        self._task = _task(exec_properties)

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
        read_as_text = [*self._task.columns.columns, self._task.label_column]
        column_infos = beam.pvalue.AsSingleton(
            parsed_csv_lines
            | "InferColumnTypes" >> beam.CombineGlobally(
                csv_decoder.ColumnTypeInferrer(column_names, skip_blank_lines=True))
            | "TaskColumnsAsText" >> beam.Map(_as_text, read_as_text))
        to_example = csv_executor._ParsedCsvToTfExample()  # noqa: SLF001 (TFX's own, as its _CsvToExample uses it)
        examples = parsed_csv_lines | "ToTFExample" >> beam.ParDo(to_example, column_infos)
        if self._task.label_column not in column_names:  # a drop without labels
            return examples
        return examples | "ReadLabels" >> beam.Map(_read_labels, self._task.label_column,
                                                   tasks.label_task(self._task))


def _texts(example: tf.train.Example, columns: List[str]) -> List[str]:
    return [example.features.feature[column].bytes_list.value[0].decode("utf-8") for column in columns]


def _group_split(example: tf.train.Example, num_partitions: int, groups: Dict[str, str], columns: List[str],
                 buckets: List[int]) -> int:
    """TFX's hash partition (base_example_gen_executor._PartitionFn) of the row's group key, in place of its
    first text: a group of one text splits as TFX would split that text."""
    key = tf.train.Feature(bytes_list=tf.train.BytesList(value=[groups[_texts(example, columns)[0]].encode("utf-8")]))
    bucket = int(hashlib.sha256(key.SerializeToString(deterministic=True)).hexdigest(), 16) % buckets[-1]
    return bisect.bisect(buckets, bucket)


def _log_groups(groups: Dict[str, str]) -> Dict[str, str]:
    sizes: Dict[str, int] = {}
    for key in groups.values():
        sizes[key] = sizes.get(key, 0) + 1
    logging.info("Split by groups of texts shared between rows: %d texts in %d groups, the largest of %d texts",
                 len(groups), len(sizes), max(sizes.values(), default=0))
    return groups


class Executor(csv_executor.Executor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CsvToExample

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline, exec_properties: Dict[str, Any]
                               ) -> Dict[str, beam.pvalue.PCollection]:
        task = _task(exec_properties)
        shape = tasks.input_shape(task)
        if not shape.groups_rows:
            return super().GenerateExamplesByBeam(pipeline, exec_properties)
        input_config = proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                                                 example_gen_pb2.Input())
        output_config = proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                                                  example_gen_pb2.Output())
        exec_properties["_beam_pipeline_args"] = self._beam_pipeline_args or []
        buckets = [sum(split.hash_buckets for split in output_config.split_config.splits[:i + 1])
                   for i in range(len(output_config.split_config.splits))]
        columns = list(task.columns.columns)
        examples = pipeline | "InputToRecord" >> _CsvToExample(exec_properties, input_config.splits[0].pattern)
        groups = beam.pvalue.AsSingleton(
            examples
            | "RowTexts" >> beam.Map(_texts, columns)
            | "AllRows" >> beam.combiners.ToList()
            | "GroupSharedTexts" >> beam.Map(lambda rows: _log_groups(shape.split_groups(rows))))
        splits = examples | "SplitData" >> beam.Partition(_group_split, len(buckets), groups, columns, buckets)
        names = example_gen_utils.generate_output_split_names(input_config, output_config)
        return dict(zip(names, splits))


class CsvExampleGen(TfxCsvExampleGen):
    """Named like TFX's, so its node id, output paths and ML Metadata records read the same.
    custom_config: example_gen_config(...)."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, input_base: str, input_config: example_gen_pb2.Input, output_config: example_gen_pb2.Output,
                 custom_config: Optional[example_gen_pb2.CustomConfig] = None):
        # FileBasedExampleGen's constructor: TFX's CsvExampleGen does not pass custom_config on.
        super(TfxCsvExampleGen, self).__init__(input_base=input_base, input_config=input_config,
                                               output_config=output_config, custom_config=custom_config)
