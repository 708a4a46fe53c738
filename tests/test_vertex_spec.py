"""The Vertex AI Pipelines spec, compiled by the documented command (`tfx pipeline create --engine=vertex` on
kubeflow_v2_runner.py), parsed with KFP's own protos; nothing calls Google Cloud."""
import importlib
import json
import os
import shlex
import subprocess
import sys

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline import configs

pytestmark = pytest.mark.slow  # compiles the pipeline in a subprocess: `make test`, not `make test-fast`

IMAGE = "europe-west4-docker.pkg.dev/acme-ml/tfx/bert-text-classifier:7"
ROOT = "gs://acme-ml-tfx/bert"
FLAGS = ["--gcp-project", "acme-ml", "--gcp-region", "europe-west4", "--outputs-dir", ROOT,
         "--data", "gs://acme-ml-tfx/data/span-{SPAN}/*.csv", "--span-window", "3", "--pipeline-image", IMAGE,
         "--beam-runner", "dataflow", "--beam-workers", "16", "--trainer-backend", "vertex", "--vertex-machines", "3",
         "--score-data", "gs://acme-ml-tfx/incoming/span-{SPAN}/*.csv"]
COMPONENTS = {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomaliesGate", "Transform",
              "Trainer", "Evaluator", "BlessingGate", "ServingPusher", "BatchScoring"}


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory):
    home = tmp_path_factory.mktemp("vertex_home")
    bin_dir = os.path.dirname(sys.executable)
    # As in an activated venv: the tfx CLI looks for kfp with the `pip` on PATH.
    env = {**os.environ, "PIPELINE_FLAGS": shlex.join(FLAGS), "VERTEX_HOME": str(home),
           "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    tfx = os.path.join(bin_dir, "tfx")
    created = subprocess.run([tfx, "pipeline", "create", "--engine", "vertex",
                              "--pipeline_path", "kubeflow_v2_runner.py"],
                             env=env, cwd=configs.PROJECT_DIR, capture_output=True, text=True, timeout=600)
    assert created.returncode == 0, created.stderr[-3000:]
    return os.path.join(home, configs.PipelineConfig.pipeline_name, "pipeline.json")


@pytest.fixture(scope="module")
def job(spec_path):
    with open(spec_path) as f:
        job = json_format.ParseDict(json.load(f), pipeline_spec_pb2.PipelineJob())
    spec = json_format.ParseDict(json_format.MessageToDict(job.pipeline_spec), pipeline_spec_pb2.PipelineSpec())
    return job, spec


def _parameters(spec, task):
    return {name: value.runtime_value.constant_value
            for name, value in spec.root.dag.tasks[task].inputs.parameters.items()}


def test_the_job_lists_every_component_in_the_pipeline_image(job):
    job, spec = job
    assert job.runtime_config.gcs_output_directory == f"{ROOT}/pipeline_root/bert-text-classifier"
    assert COMPONENTS <= set(spec.root.dag.tasks)
    for component in COMPONENTS:
        container = spec.deployment_spec["executors"][f"{component}_executor"]["container"]
        assert container["image"] == IMAGE
        assert container["command"][-1] == "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"
        args = list(container["args"])
        # Beam on Dataflow, its workers on the same image, this package staged from the image's copy.
        assert args[args.index("--json_serialized_invocation_args") + 2:] == [
            "--runner=DataflowRunner", "--project=acme-ml", "--region=europe-west4",
            f"--temp_location={ROOT}/beam_tmp", "--max_num_workers=16", "--setup_file=/pipeline/setup.py",
            "--experiments=use_runner_v2", f"--sdk_container_image={IMAGE}"]


def test_every_code_path_in_the_job_resolves_inside_the_package(job):
    _, spec = job
    paths = [spec.deployment_spec["executors"][f"{c}_executor"]["container"]["args"][1] for c in COMPONENTS]
    paths += [_parameters(spec, "Transform")["preprocessing_fn"].string_value,
              _parameters(spec, "Trainer")["run_fn"].string_value]
    assert "preprocessing.transform.preprocessing_fn" in paths and "model.training.run_fn" in paths
    for path in paths:
        module, name = path.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name)), path
    # Files the components read are where the Dockerfile puts this project.
    schema = _parameters(spec, "ImportSchemaGen")["schema_file"].string_value
    assert schema == configs.IMAGE_PROJECT_DIR + "/schema/default/schema.pbtxt"
    assert os.path.isfile(os.path.join(configs.PROJECT_DIR, os.path.relpath(schema, configs.IMAGE_PROJECT_DIR)))


def test_the_trainer_is_a_vertex_ai_custom_job_on_three_machines(job):
    _, spec = job
    args = spec.deployment_spec["executors"]["Trainer_executor"]["container"]["args"]
    assert args[1] == "tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor"
    custom = json.loads(_parameters(spec, "Trainer")["custom_config"].string_value)
    assert custom["ai_platform_enable_vertex"] is True and custom["ai_platform_vertex_region"] == "europe-west4"
    training = custom["ai_platform_training_args"]
    assert training["project"] == "acme-ml"
    pools = training["job_spec"]["worker_pool_specs"]
    assert [pool["replica_count"] for pool in pools] == [1, 2]  # the chief, then two workers
    for pool in pools:
        assert pool["container_spec"] == {"image_uri": IMAGE}
        assert pool["machine_spec"] == {"machine_type": "n1-standard-8", "accelerator_type": "NVIDIA_TESLA_T4",
                                        "accelerator_count": 2}
    # The embedded checkpoint is resolved inside the image; the backups live on Cloud Storage.
    assert custom["checkpoint_dir"] == "" and custom["backup_dir"].startswith(ROOT + "/")
    assert custom["task"]["labels"] == "single_label"  # the task travels whole (tasks.TaskSettings)
    destination = json.loads(_parameters(spec, "ServingPusher")["push_destination"].string_value)
    assert destination["filesystem"]["base_directory"] == f"{ROOT}/serving/text_classifier"


def test_example_gen_reads_the_newest_span_checked_for_drift_and_the_trainer_warm_starts(job):
    _, spec = job
    example_gen = _parameters(spec, "CsvExampleGen")
    assert example_gen["input_base"].string_value == "gs://acme-ml-tfx/data"
    assert json.loads(example_gen["input_config"].string_value)["splits"] == [
        {"name": "data", "pattern": "span-{SPAN}/*.csv"}]
    window = json.loads(example_gen["custom_config"].string_value)["custom_config"]["value"]
    assert (window["span_pattern"], window["span_window"]) == ("span-{SPAN}/*.csv", 3.0)
    custom = json.loads(_parameters(spec, "Trainer")["custom_config"].string_value)
    assert custom["warm_start_root"] == f"{ROOT}/serving/text_classifier"
    # The drift check reads the spans from Cloud Storage in the pipeline image, before Transform.
    drift = _parameters(spec, "DriftCheck")
    assert (drift["input_base"].string_value, drift["pattern"].string_value) == (
        "gs://acme-ml-tfx/data", "span-{SPAN}/*.csv")
    assert drift["action"].string_value == "stop"
    assert "DriftCheck" in spec.root.dag.tasks["Transform"].dependent_tasks


def test_the_scheduled_run_scores_the_new_drop_after_the_push_on_dataflow(job):
    """The scoring step's Beam is the pipeline's (Dataflow: checked for every component above)."""
    _, spec = job
    scoring = _parameters(spec, "BatchScoring")
    assert scoring["data"].string_value == "gs://acme-ml-tfx/incoming/span-{SPAN}/*.csv"
    assert scoring["data_fingerprint"].string_value == ""  # resolved by the step at run time, on the bucket
    assert "ServingPusher" in spec.root.dag.tasks["BatchScoring"].dependent_tasks


def test_the_schedule_dry_run_prints_the_exact_request_for_the_compiled_job(spec_path, job, capsys):
    from google.cloud import aiplatform_v1

    from pipeline import schedule

    job, _ = job
    assert schedule.main(FLAGS + ["--schedule-cron", "TZ=Europe/Amsterdam 30 2 * * 1-5", "--spec", spec_path,
                                  "--dry-run"]) == 0
    request = aiplatform_v1.CreateScheduleRequest.from_json(capsys.readouterr().out)
    assert request.parent == "projects/acme-ml/locations/europe-west4"
    assert request.schedule.cron == "TZ=Europe/Amsterdam 30 2 * * 1-5"
    assert request.schedule.max_concurrent_run_count == 1
    created = request.schedule.create_pipeline_job_request
    assert created.parent == request.parent
    sent = json.loads(aiplatform_v1.PipelineJob.to_json(created.pipeline_job))
    assert sent["pipelineSpec"] == json_format.MessageToDict(job.pipeline_spec)
    assert sent["runtimeConfig"]["gcsOutputDirectory"] == job.runtime_config.gcs_output_directory


@pytest.mark.parametrize("flag, value, message", [
    ("--outputs-dir", "/tmp/out", "--outputs-dir /tmp/out is not on Cloud Storage"),
    ("--data", "local.csv", "--data local.csv is not on Cloud Storage"),
    ("--checkpoint", "/models/bert", "--checkpoint /models/bert is not on Cloud Storage"),
    ("--pipeline-image", "", "--pipeline-image is empty"),
])
def test_a_local_path_or_a_missing_image_is_refused_in_one_line(flag, value, message, tmp_path, capsys):
    from pipeline import vertex

    assert vertex.main(FLAGS + [flag, value, "--spec", str(tmp_path / "spec.json")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"error: {message}"), error
    assert not (tmp_path / "spec.json").exists()


def test_scheduling_a_spec_never_compiled_is_refused_in_one_line(tmp_path, capsys):
    from pipeline import schedule

    assert schedule.main(FLAGS + ["--spec", str(tmp_path / "missing.json"), "--dry-run"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "does not exist: compile it first (make compile-vertex)" in error[0], error
