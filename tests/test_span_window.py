"""A window of spans, for real: the pipeline's CsvExampleGen (TFX's driver resolves the newest span, our
executor adds the spans before it) run by LocalDagRunner on three small spans."""
import csv
import glob
import os

import tensorflow as tf
from tfx import v1 as tfx

from contracts import names, raw_csv
from pipeline import configs, pipeline
from reports import run_outputs

ROWS = 30


def write_spans(data_dir, spans):
    for span in spans:
        os.makedirs(data_dir / f"span-{span}")
        with open(data_dir / f"span-{span}" / "data.csv", "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([("text", "label")] + [(f"span {span} text {i}", "neutral") for i in range(ROWS)])


def example_texts(pipeline_root):
    pattern = os.path.join(pipeline_root, "CsvExampleGen", "examples", "*", "Split-*", "*")
    return [tf.train.Example.FromString(record.numpy()).features.feature["text"].bytes_list.value[0].decode()
            for record in tf.data.TFRecordDataset(glob.glob(pattern), compression_type="GZIP")]


def test_a_window_of_two_spans_reads_the_newest_span_and_the_one_before(tmp_path):
    write_spans(tmp_path / "data", [1, 2, 3])
    config = configs.PipelineConfig(data=str(tmp_path / "data" / "span-{SPAN}" / "*.csv"), span_window=2,
                                    outputs_dir=str(tmp_path / "outputs"))
    assert raw_csv.csv_files(config.data, config.span_window) == [
        str(tmp_path / "data" / f"span-{span}" / "data.csv") for span in (2, 3)]

    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name, pipeline_root=config.pipeline_root,
        components=[pipeline._example_gen(config)],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)))

    texts = example_texts(config.pipeline_root)
    assert sorted(texts) == sorted(f"span {span} text {i}" for span in (2, 3) for i in range(ROWS))
    _, _, outputs = run_outputs.latest_run_outputs(run_outputs.open_store(config.metadata_path))
    assert outputs[names.CSV_EXAMPLE_GEN][names.EXAMPLES].custom_properties["span"].int_value == 3
