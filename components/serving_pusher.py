"""The Pusher into TF Serving's model directory: gated on servable ops, whole versions only, warmed up.

TFX's Pusher, with these changes:
- A model that needs an op stock TF Serving lacks is refused before anything is written (UnservableModelError),
  instead of failing later with "Op type not registered" when the server loads it.
- TF Serving never loads a partial version: the model is copied into a hidden directory beside the versions
  (TF Serving ignores non-numeric names), completed there (warm-up requests, model card), then made a
  version. On a local filesystem by a rename, atomic. On an object store (gs://, s3://) a "rename" is a
  copy then a delete, file by file, in no promised order; there the files are copied into the version in
  an order that keeps the version unloadable until it is whole: saved_model.pb last, because TF Serving's
  loader takes a directory for a SavedModel only once saved_model.pb is in it (tensorflow's
  MaybeSavedModelDirectory), and a load that fails before that is retried (--max_num_load_retries).
  TFX's own Pusher copies file by file into the final directory. A staging directory left by a killed
  push is removed by the next push (one pipeline pushes into a serving root at a time: the run lock).
- The version carries warm-up requests built from real eval texts (serving/warmup.py) and its model card
  (reports/model_card.py: model_card.md and model_card.html), and the serving
  directory's models.config is rewritten with the stable/canary labels (serving/model_server_config.py).
- A model identical to the newest version already there (same SavedModel fingerprint) is not pushed
  again: re-running an unchanged pipeline re-blesses the same model and must not add a duplicate version.
"""
import os
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, channel, component_spec, standard_artifacts, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components import serving_ops
from components.settings import PusherSettings
from contracts import typed_settings
from contracts.errors import UnservableModelError
from contracts.text_columns import TextColumns
from reports import model_card, run_facts, run_outputs
from serving import model_server_config, warmup

FINGERPRINT_FILE = "fingerprint.pb"
EXAMPLES_KEY = "examples"
EVALUATION_KEY = "model_evaluation"
STATISTICS_KEY = "statistics"
BLESSING_KEY = standard_component_specs.MODEL_BLESSING_KEY
STAGING_PREFIX = ".staging-"
SAVED_MODEL_FILE = "saved_model.pb"  # what TF Serving's loader looks for first


def check_servable(model_path: str) -> None:
    missing = serving_ops.unservable_ops(model_path)
    if missing:
        raise UnservableModelError(
            f"the model needs ops stock TF Serving does not have: {', '.join(sorted(missing))}; nothing was "
            f"pushed. Build the graph from core TF and the ops in {serving_ops.SERVING_TEXT_OPS_FILE}")


def _versions(model_root: str) -> List[int]:
    """The numeric version directories (through TFX's fileio, as every write of the push)."""
    if not fileio.isdir(model_root):
        return []
    return [int(name.rstrip("/")) for name in fileio.listdir(model_root) if name.rstrip("/").isdigit()]


def latest_version(model_root: str) -> Optional[int]:
    """The highest numeric version under a TF Serving model directory, if any."""
    return max(_versions(model_root), default=None)


def renames_atomically(path: str) -> bool:
    """Local filesystems rename a directory in one step; object stores copy it object by object."""
    return "://" not in path


def copy_saved_model_last(source: str, target: str) -> None:
    """Copies a SavedModel directory file by file with saved_model.pb last: until it lands, TF Serving cannot
    take the target for a SavedModel, and once it has, every other file is there."""
    walked = list(fileio.walk(source))
    for root, _, _ in walked:  # empty directories (assets/) too
        fileio.makedirs(os.path.join(target, os.path.relpath(root, source)))
    files = [os.path.join(root, name) for root, _, names in walked for name in names]
    for path in sorted(files, key=lambda path: os.path.basename(path) == SAVED_MODEL_FILE):
        fileio.copy(path, os.path.join(target, os.path.relpath(path, source)), overwrite=True)


def _same_model(model_path: str, version_path: str) -> bool:
    fingerprints = [os.path.join(path, FINGERPRINT_FILE) for path in (model_path, version_path)]
    if not all(fileio.exists(path) for path in fingerprints):
        return False
    return io_utils.read_bytes_file(fingerprints[0]) == io_utils.read_bytes_file(fingerprints[1])


def _remove_unfinished_pushes(model_root: str) -> None:
    """A staging directory, or (on an object store) a version without its saved_model.pb, is what a killed
    push leaves; the next push removes it."""
    unfinished = fileio.glob(os.path.join(model_root, STAGING_PREFIX + "*")) + [
        os.path.join(model_root, str(version)) for version in _versions(model_root)
        if not fileio.exists(os.path.join(model_root, str(version), SAVED_MODEL_FILE))]
    for path in unfinished:
        logging.info("Removing %s, left by a push that was killed.", path)
        fileio.rmtree(path)


def push_atomically(model_path: str, model_root: str,
                    prepare: Callable[[str, str], Any] = lambda staging, version: None) -> str:
    """Copies the SavedModel to a new version under model_root; returns the version directory.
    `prepare(staging_dir, version)` adds to the staged copy before it becomes visible."""
    _remove_unfinished_pushes(model_root)
    newest = latest_version(model_root)
    if newest is not None and _same_model(model_path, os.path.join(model_root, str(newest))):
        logging.info("Model identical to serving version %d: not pushed again.", newest)
        return os.path.join(model_root, str(newest))
    version = max(int(time.time()), (newest or 0) + 1)  # strictly increasing, even within a second
    staging = os.path.join(model_root, f"{STAGING_PREFIX}{version}-{uuid.uuid4().hex[:8]}")
    io_utils.copy_dir(model_path, staging)
    prepare(staging, str(version))
    serving_path = os.path.join(model_root, str(version))
    if renames_atomically(model_root):
        fileio.rename(staging, serving_path)
    else:
        copy_saved_model_last(staging, serving_path)
        fileio.rmtree(staging)
    logging.info("Model written to serving path %s.", serving_path)
    return serving_path


def _eval_texts(examples: List[types.Artifact], columns: TextColumns, count: int) -> Dict[str, List[str]]:
    return run_facts.read_texts(artifact_utils.get_split_uri(examples, "eval"), columns, count)


def _card_facts(input_dict: Dict[str, List[types.Artifact]], model_path: str, model_root: str, version: str,
                settings: PusherSettings) -> Dict[str, Any]:
    statistics = artifact_utils.get_single_instance(input_dict[STATISTICS_KEY])
    return model_card.card_facts(
        model_path, artifact_utils.get_single_uri(input_dict[EVALUATION_KEY]),
        {split: artifact_utils.get_split_uri([statistics], split)
         for split in artifact_utils.decode_split_names(statistics.split_names)},
        artifact_utils.get_single_uri(input_dict[EXAMPLES_KEY]), os.path.basename(model_root), version,
        settings.intended_use, settings.task.label_column,
        run_outputs.read_decision(artifact_utils.get_single_uri(input_dict[BLESSING_KEY])))


def _label(model_root: str, serving_path: str, settings: PusherSettings) -> None:
    """Rewrites models.config; says so when the new version waits, unlabeled, for the server to load it."""
    serving_dir = os.path.dirname(model_root)
    path = model_server_config.update(serving_dir, os.path.basename(model_root), settings.serving_server,
                                      settings.serving_server_wait_seconds)
    config = model_server_config.read(path)
    logging.info("models.config labels: %s", model_server_config.labels(config))
    if int(os.path.basename(serving_path)) in model_server_config.unlabeled_versions(serving_dir, config):
        logging.warning("Version %s carries no label until TF Serving has loaded it (%s): then `make canary` "
                        "labels it canary and `make promote` makes it stable",
                        os.path.basename(serving_path),
                        f"not AVAILABLE at {settings.serving_server} in time" if settings.serving_server
                        else "no --serving-server to ask")


class Executor(pusher_executor.Executor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        check_servable(model_path)
        settings = typed_settings.from_json(PusherSettings, exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY],
                                            "the ServingPusher's settings")
        destination = proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], pusher_pb2.PushDestination())
        model_root = destination.filesystem.base_directory
        columns = settings.task.columns
        texts = _eval_texts(input_dict[EXAMPLES_KEY], columns, settings.warmup_texts)
        requests = warmup.build_requests(model_path, os.path.basename(model_root), texts, columns)

        def prepare(staging: str, version: str) -> None:
            warmup.write(staging, requests)
            model_card.write(staging, _card_facts(input_dict, model_path, model_root, version, settings))

        serving_path = push_atomically(model_path, model_root, prepare)
        _label(model_root, serving_path, settings)
        io_utils.copy_dir(serving_path, model_push.uri)  # the archive copy TFX's Pusher keeps
        self._MarkPushed(model_push, pushed_destination=serving_path,
                         pushed_version=os.path.basename(serving_path))


class ServingPusherSpec(types.ComponentSpec):
    PARAMETERS = standard_component_specs.PusherSpec.PARAMETERS
    INPUTS = {**standard_component_specs.PusherSpec.INPUTS,
              EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
              EVALUATION_KEY: component_spec.ChannelParameter(type=standard_artifacts.ModelEvaluation),
              STATISTICS_KEY: component_spec.ChannelParameter(type=standard_artifacts.ExampleStatistics)}
    OUTPUTS = standard_component_specs.PusherSpec.OUTPUTS


class ServingPusher(base_component.BaseComponent):
    """Pusher(model, model_blessing) plus the examples whose eval split provides the warm-up texts, and the
    evaluation and statistics its model card reports."""

    SPEC_CLASS = ServingPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel, examples: types.BaseChannel,
                 model_evaluation: types.BaseChannel, statistics: types.BaseChannel, serving_model_root: str,
                 settings: PusherSettings):
        """settings: pipeline/configs.py's pusher_settings."""
        super().__init__(spec=ServingPusherSpec(
            model=model, model_blessing=model_blessing, examples=examples, model_evaluation=model_evaluation,
            statistics=statistics,
            push_destination=pusher_pb2.PushDestination(
                filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_model_root)),
            custom_config=typed_settings.to_json(settings),
            pushed_model=channel.Channel(type=standard_artifacts.PushedModel)))
