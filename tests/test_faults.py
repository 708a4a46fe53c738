"""A run killed for real (SIGKILL of the run's whole process group) mid-training, then re-run on the same
outputs directory: the re-run completes; training resumed from its BackupAndRestore backup and ran exactly the
configured steps; what had finished was reused from the cache; ML Metadata holds no live artifact that is
missing on disk. (The runs: tests/shared_runs.py, killed_then_completed. A kill during the push:
tests/test_serving_pusher.py.)"""
import glob
import json
import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline import configs

from pipeline_runs import cached_nodes, summary
from shared_runs import BACKUP_EVERY
from shared_runs import KILLED_STEPS as STEPS


def test_the_kill_landed_mid_training(killed_then_completed):
    """The Trainer was running when the process group died, had saved a backup, and had not finished."""
    log = killed_then_completed[1]
    assert "node Trainer is running." in log and "node Trainer is finished." not in log, log[-3000:]
    assert f"Training from step 0/{STEPS}, saving the backup in" in log


def test_training_resumes_from_the_backup_and_runs_exactly_the_configured_steps(killed_then_completed):
    outputs, _, final = killed_then_completed
    resumed = [line for line in final.stderr.splitlines() if "Training resumed at step" in line]
    assert len(resumed) == 1, final.stderr[-3000:]
    step = int(resumed[0].split("Training resumed at step ")[1].split("/")[0])
    assert 0 < step < STEPS and step % BACKUP_EVERY == 0, resumed
    assert f"/{STEPS} from the backup in {outputs}/trainer_backup/" in resumed[0]
    hyperparameters = json.load(open(os.path.join(summary(final.stdout)["pushed"], "assets.extra",
                                                  "hyperparameters.json")))
    assert hyperparameters["train_steps"] == hyperparameters["steps_trained"] == STEPS
    # The backup is gone once training finished: a later run with the same inputs starts afresh.
    assert not glob.glob(os.path.join(str(outputs), "trainer_backup", "*", "*", "chief", "*"))


def test_the_rerun_reuses_what_finished_before_the_kill(killed_then_completed):
    _, _, final = killed_then_completed
    upstream = {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomaliesGate", "Transform"}
    assert upstream <= cached_nodes(final.stderr) and "Trainer" not in cached_nodes(final.stderr)


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
