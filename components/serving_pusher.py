"""TFX's Pusher, made safe for a TF Serving model directory that a server is watching.

Two changes to the filesystem push:
- A version directory appears whole or not at all: the model is copied into a hidden directory beside it
  (TF Serving ignores non-numeric names) and renamed into place, which is atomic on one filesystem.
  TFX's own Pusher copies file by file into the final directory.
- A model identical to the newest version already there (same SavedModel fingerprint) is not pushed
  again: re-running an unchanged pipeline re-blesses the same model and must not add a duplicate version.
"""
import os
import time
import uuid
from typing import Any, Dict, List, Optional

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

FINGERPRINT_FILE = "fingerprint.pb"


def latest_version(model_root: str) -> Optional[int]:
    """The highest numeric version under a TF Serving model directory, if any."""
    if not fileio.exists(model_root):
        return None
    versions = [int(name.rstrip("/")) for name in fileio.listdir(model_root) if name.rstrip("/").isdigit()]
    return max(versions, default=None)


def _same_model(model_path: str, version_path: str) -> bool:
    fingerprints = [os.path.join(path, FINGERPRINT_FILE) for path in (model_path, version_path)]
    if not all(fileio.exists(path) for path in fingerprints):
        return False
    return io_utils.read_bytes_file(fingerprints[0]) == io_utils.read_bytes_file(fingerprints[1])


def push_atomically(model_path: str, model_root: str) -> str:
    """Copies the SavedModel to a new version under model_root; returns the version directory."""
    newest = latest_version(model_root)
    if newest is not None and _same_model(model_path, os.path.join(model_root, str(newest))):
        logging.info("Model identical to serving version %d: not pushed again.", newest)
        return os.path.join(model_root, str(newest))
    version = max(int(time.time()), (newest or 0) + 1)  # strictly increasing, even within a second
    staging = os.path.join(model_root, f".staging-{version}-{uuid.uuid4().hex[:8]}")
    io_utils.copy_dir(model_path, staging)
    serving_path = os.path.join(model_root, str(version))
    fileio.rename(staging, serving_path)
    logging.info("Model written to serving path %s.", serving_path)
    return serving_path


class Executor(pusher_executor.Executor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        destination = proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], pusher_pb2.PushDestination())
        model_path = self.GetModelPath(input_dict)
        serving_path = push_atomically(model_path, destination.filesystem.base_directory)
        io_utils.copy_dir(model_path, model_push.uri)  # the archive copy TFX's Pusher keeps
        self._MarkPushed(model_push, pushed_destination=serving_path,
                         pushed_version=os.path.basename(serving_path))
