"""The configuration that moves the same pipeline to more workers: Beam's arguments, Vertex AI's worker pools,
the pipeline image, and a checkpoint on a remote filesystem."""
import dataclasses
import os
import re
import uuid

import pytest
import tensorflow as tf

from pipeline import configs
from preprocessing import checkpoint

BASE = configs.PipelineConfig(outputs_dir="gs://acme/run", gcp_project="acme", gcp_region="europe-west4")


def test_beam_runs_in_memory_by_default_and_in_processes_with_more_workers():
    assert BASE.beam_pipeline_args() == ["--runner=FnApiRunner", "--direct_running_mode=in_memory",
                                         "--direct_num_workers=1"]
    assert dataclasses.replace(BASE, beam_workers=4).beam_pipeline_args() == [
        "--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=4"]


def test_a_beam_job_here_makes_no_network_attempt(monkeypatch):
    """Beam's default DirectRunner tries to download its Prism runner from GitHub first; the named runner
    runs the job without it (the download goes through urllib: any call is recorded and fails)."""
    import urllib.request

    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    attempts = []

    def no_network(url, *args, **kwargs):
        attempts.append(url)
        raise OSError("no network here")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with beam.Pipeline(options=PipelineOptions(BASE.beam_pipeline_args())) as p:
        assert_that(p | beam.Create([1, 2, 3]) | beam.Map(lambda x: 2 * x), equal_to([2, 4, 6]))
    assert attempts == []


def test_dataflow_arguments_are_built_from_the_config():
    config = dataclasses.replace(BASE, beam_runner="dataflow", beam_workers=16, pipeline_image="img:7",
                                 beam_args=("--machine_type=n2-standard-8", "--max_num_workers=32"))
    assert config.beam_pipeline_args("/pipeline") == [
        "--runner=DataflowRunner", "--project=acme", "--region=europe-west4", "--temp_location=gs://acme/run/beam_tmp",
        "--max_num_workers=16", "--setup_file=/pipeline/setup.py", "--experiments=use_runner_v2",
        "--sdk_container_image=img:7",
        "--machine_type=n2-standard-8", "--max_num_workers=32"]  # extra arguments last: Beam takes the last
    no_image = dataclasses.replace(config, pipeline_image="", beam_args=())
    assert not any(a.startswith("--sdk_container_image") for a in no_image.beam_pipeline_args())
    assert no_image.beam_pipeline_args()[5] == f"--setup_file={configs.PROJECT_DIR}/setup.py"


def test_an_unknown_beam_runner_is_refused():
    with pytest.raises(ValueError, match="beam_runner must be 'direct' or 'dataflow', not 'flink'"):
        dataclasses.replace(BASE, beam_runner="flink").beam_pipeline_args()


def test_vertex_worker_pools_are_the_chief_then_the_workers():
    one = dataclasses.replace(BASE, pipeline_image="img:7").vertex_training_args()
    assert one["project"] == "acme"
    assert one["job_spec"]["worker_pool_specs"] == [{
        "machine_spec": {"machine_type": "n1-standard-8", "accelerator_type": "NVIDIA_TESLA_T4",
                         "accelerator_count": 2},
        "container_spec": {"image_uri": "img:7"}, "replica_count": 1}]
    cpus = dataclasses.replace(BASE, vertex_machines=4, vertex_accelerator="").vertex_training_args()
    pools = cpus["job_spec"]["worker_pool_specs"]
    assert [p["replica_count"] for p in pools] == [1, 3]
    assert all(p["machine_spec"] == {"machine_type": "n1-standard-8"} for p in pools)


def test_the_dockerfile_builds_the_pinned_stack_where_the_config_expects_it():
    import tfx

    with open(os.path.join(configs.PROJECT_DIR, "Dockerfile")) as f:
        dockerfile = f.read()
    assert re.search(r"^FROM tensorflow/tfx:(\S+)$", dockerfile, re.M).group(1) == tfx.__version__
    assert re.search(r"^WORKDIR (\S+)$", dockerfile, re.M).group(1) == configs.IMAGE_PROJECT_DIR
    assert "--require-hashes" in dockerfile and "-r requirements/lock.txt" in dockerfile
    assert "-r requirements/embedded-defaults.txt" in dockerfile
    copied = set(re.findall(r"^COPY (\S+)/ ", dockerfile, re.M))
    # Every package of the project (the components import them), the default schema and the serving config.
    packages = {name for name in os.listdir(configs.PROJECT_DIR)
                if os.path.isfile(os.path.join(configs.PROJECT_DIR, name, "__init__.py")) and name != "tests"}
    assert {"components", "reports"} <= packages and packages | {"serving_config", "schema"} <= copied
    assert "TF_USE_LEGACY_KERAS=1" in dockerfile and "HF_HUB_OFFLINE=1" in dockerfile


def test_a_remote_checkpoint_is_read_through_a_local_copy(checkpoint_dir):
    remote = f"ram://checkpoints/{uuid.uuid4().hex}"  # TensorFlow's in-memory filesystem stands in for gs://
    for name in ("config.json", "vocab.txt", "tokenizer.json"):
        tf.io.gfile.makedirs(remote)
        tf.io.gfile.copy(os.path.join(checkpoint_dir, name), f"{remote}/{name}", overwrite=True)
    local = checkpoint.local_dir(remote)
    assert "://" not in local and sorted(os.listdir(local)) == ["config.json", "tokenizer.json", "vocab.txt"]
    with open(os.path.join(local, "vocab.txt"), "rb") as copy, \
            open(os.path.join(checkpoint_dir, "vocab.txt"), "rb") as f:
        assert copy.read() == f.read()
    assert checkpoint.local_dir(remote) == local  # copied once
    assert checkpoint.local_dir("") == checkpoint_dir and checkpoint.local_dir("/models/x") == "/models/x"
