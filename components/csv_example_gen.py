"""TFX's CsvExampleGen, reading the header as the data rows are read.

TFX 1.16 takes the column names from `first_line.strip().split(',')`: a UTF-8 byte-order mark (Excel
writes one) becomes part of the first column's name, and a quoted header name keeps its quotes, so the
text or label column "does not exist". Here the header goes through the csv module after the mark is
dropped; everything else is TFX's own executor.
"""
import csv
import os
from typing import List

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.types import standard_component_specs
from tfx.v1.components import CsvExampleGen as TfxCsvExampleGen
from tfx_bsl.coders import csv_decoder

BYTE_ORDER_MARK = "\ufeff"


def read_header(path: str) -> List[str]:
    """The column names: the first line, byte-order mark dropped, parsed as CSV (quotes honoured)."""
    with fileio.open(path, "rb") as f:
        first_line = f.readline().decode("utf-8", errors="replace").lstrip(BYTE_ORDER_MARK)
    return next(csv.reader([first_line]), [])


def _column_names(csv_files: List[str]) -> List[str]:
    names = read_header(csv_files[0])
    for path in csv_files[1:]:
        if read_header(path) != names:
            raise RuntimeError(f"{path}: header {read_header(path)} differs from {names} in {csv_files[0]}")
    return names


@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
class _CsvToExample(beam.PTransform):
    """TFX's _CsvToExample.expand with _column_names in place of io_utils.load_csv_column_names."""

    def __init__(self, exec_properties, split_pattern: str):
        super().__init__()
        self._csv_pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)

    def expand(self, pipeline: beam.Pipeline) -> beam.pvalue.PCollection:
        csv_files = fileio.glob(self._csv_pattern)
        if not csv_files:
            raise RuntimeError(f"Split pattern {self._csv_pattern} does not match any files.")
        column_names = _column_names(csv_files)
        parsed_csv_lines = (
            pipeline
            | "CreateFilenames" >> beam.Create(csv_files)
            | "ReadFromText" >> beam.ParDo(csv_executor._ReadCsvRecordsFromTextFile())
            | "ParseCSVLine" >> beam.ParDo(csv_decoder.ParseCSVLine(delimiter=","))
            | "ExtractParsedCSVLines" >> beam.Keys())
        column_infos = beam.pvalue.AsSingleton(
            parsed_csv_lines
            | "InferColumnTypes" >> beam.CombineGlobally(
                csv_decoder.ColumnTypeInferrer(column_names, skip_blank_lines=True)))
        return parsed_csv_lines | "ToTFExample" >> beam.ParDo(csv_executor._ParsedCsvToTfExample(), column_infos)


class Executor(csv_executor.Executor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CsvToExample


class CsvExampleGen(TfxCsvExampleGen):
    """Named like TFX's, so its node id, output paths and ML Metadata records read the same."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
