"""Runs killed for real (SIGKILL of the run's whole process group) in Transform, mid-training and in the
Evaluator, each followed by a re-run on the same outputs directory. The last run completes; training
resumed from its BackupAndRestore backup and ran exactly the configured steps; what had finished was
reused from the cache; ML Metadata holds no live artifact that is missing on disk. (The runs:
tests/shared_runs.py, killed_then_completed.)"""
import glob
import json
import os

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline import configs

from pipeline_runs import cached_nodes, summary
from shared_runs import BACKUP_EVERY
from shared_runs import KILLED_STEPS as STEPS


@pytest.mark.parametrize("moment, component", [("in Transform", "Transform"), ("mid-training", "Trainer"),
                                               ("in Evaluator", "Evaluator")])
def test_each_kill_landed_where_it_was_aimed(killed_then_completed, moment, component):
    """The component was running when the process group died, and had not finished."""
    log = killed_then_completed[1][moment]
    assert f"node {component} is running." in log and f"node {component} is finished." not in log, log[-3000:]


def test_training_resumes_from_the_backup_and_runs_exactly_the_configured_steps(killed_then_completed):
    outputs, logs, final = killed_then_completed
    assert f"Training from step 0/{STEPS}, saving the backup in" in logs["mid-training"]
    resumed = [line for line in logs["in Evaluator"].splitlines() if "Training resumed at step" in line]
    assert len(resumed) == 1, logs["in Evaluator"][-3000:]
    step = int(resumed[0].split("Training resumed at step ")[1].split("/")[0])
    assert 0 < step < STEPS and step % BACKUP_EVERY == 0, resumed
    assert f"/{STEPS} from the backup in {outputs}/trainer_backup/" in resumed[0]
    hyperparameters = json.load(open(os.path.join(summary(final.stdout)["pushed"], "assets.extra",
                                                  "hyperparameters.json")))
    assert hyperparameters["train_steps"] == hyperparameters["steps_trained"] == STEPS
    # The backup is gone once training finished: a later run with the same inputs starts afresh.
    assert not glob.glob(os.path.join(str(outputs), "trainer_backup", "*", "*", "chief", "*"))


def test_each_rerun_reuses_what_finished_before_the_kill(killed_then_completed):
    _, logs, final = killed_then_completed
    upstream = {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomaliesGate"}
    assert upstream <= cached_nodes(logs["mid-training"]) and "Transform" not in cached_nodes(logs["mid-training"])
    assert upstream | {"Transform"} <= cached_nodes(logs["in Evaluator"])
    assert "Trainer" not in cached_nodes(logs["in Evaluator"])
    assert upstream | {"Transform", "Trainer"} <= cached_nodes(final.stderr)


def test_the_completed_run_pushes_one_whole_version(killed_then_completed):
    outputs, _, final = killed_then_completed
    lines = summary(final.stdout)
    assert lines["blessed"] == "yes"
    model_root = os.path.join(str(outputs), "serving", "text_classifier")
    assert os.listdir(model_root) == [os.path.basename(lines["pushed"])]
    assert os.path.isfile(os.path.join(lines["pushed"], "saved_model.pb"))


def test_metadata_has_no_live_artifact_missing_on_disk(killed_then_completed):
    outputs, _, _ = killed_then_completed
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = configs.PipelineConfig(outputs_dir=str(outputs)).metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    artifacts = metadata_store.MetadataStore(connection).get_artifacts()
    live = [a for a in artifacts if a.state == metadata_store_pb2.Artifact.LIVE]
    assert len(live) >= 10
    assert [a.uri for a in live if not os.path.exists(a.uri)] == []
