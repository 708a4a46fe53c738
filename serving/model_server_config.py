"""TF Serving's models.config for the pushed versions: which versions carry the `stable` and `canary` labels.

TF Serving's rules for labels (it re-reads the file every --model_config_file_poll_wait_seconds): a label
may name a version the server has not loaded yet only when the label is new and the server runs with
--allow_version_labels_for_unavailable_models (the compose file passes it: the first push labels its one
version before the server has loaded it); a label already in use moves only to a loaded version, and a
config that breaks this is refused, keeping the old one.

So after a push, from the template serving_config/models.config:
- with the server's address (--serving-server, its REST port), the Pusher waits until the server reports the
  new version AVAILABLE, then labels it `canary`; `stable` stays where it was while that version is loaded;
- without it, if the server cannot be reached, or if it has not loaded the version in time, the new version
  is written unlabeled (clients reach it by number), and the labels stay on versions the server already had;
  `canary` labels the newest version once the server has it, `promote` makes the canary stable.
A label whose version leaves the loaded window (the policy keeps the newest N) moves to the oldest version
still in it. The file is replaced atomically, so a polling server never reads half of it.

    python -m serving.model_server_config show    [--serving-dir outputs/serving]
    python -m serving.model_server_config canary  [--serving-dir ...] [--server http://127.0.0.1:8501]
    python -m serving.model_server_config promote [--serving-dir ...] [--server http://127.0.0.1:8501]
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Dict, List, Optional, Set

import tensorflow as tf
from absl import logging
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from contracts import layout

TEMPLATE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "serving_config",
                        "models.config")
CONFIG_FILE = layout.MODELS_CONFIG  # beside the model directories, in the directory mounted as /models
STABLE, CANARY = "stable", "canary"


class LabelError(RuntimeError):
    """A label cannot move where it was asked to: one line for the user."""


def read(path: str) -> model_server_config_pb2.ModelServerConfig:
    with tf.io.gfile.GFile(path) as f:
        return text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())


def available_versions(server: str, model_name: str) -> Optional[Set[int]]:
    """The versions TF Serving reports AVAILABLE (its REST model status API); None if it cannot be reached (which
    says nothing of what it has loaded)."""
    try:
        with urllib.request.urlopen(f"{server.rstrip('/')}/v1/models/{model_name}", timeout=5) as response:
            status = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return {int(v["version"]) for v in status.get("model_version_status", []) if v.get("state") == "AVAILABLE"}


def wait_until_available(server: str, model_name: str, version: int, seconds: float) -> Optional[Set[int]]:
    """The last answer of available_versions, once it holds `version` or when the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        available = available_versions(server, model_name)
        if (available is not None and version in available) or time.monotonic() >= deadline:
            return available
        time.sleep(1)


def _entry(config: model_server_config_pb2.ModelServerConfig, model_name: str):
    entries = config.model_config_list.config
    if len(entries) != 1:
        raise ValueError(f"{TEMPLATE} must describe exactly one model, found {len(entries)}")
    entry = entries[0]
    entry.name = model_name
    entry.base_path = f"{os.path.dirname(entry.base_path)}/{model_name}"
    return entry


def _current_labels(serving_dir: str) -> Dict[str, int]:
    path = os.path.join(serving_dir, CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        return {}
    entries = read(path).model_config_list.config
    return dict(entries[0].version_labels) if entries else {}


def _window(entry, pushed: List[int]) -> List[int]:
    """The versions the server keeps loaded under the entry's version policy."""
    policy = entry.model_version_policy
    return pushed[-policy.latest.num_versions:] if policy.HasField("latest") else pushed


def render(serving_dir: str, model_name: str, available: Optional[Set[int]] = None,
           template: str = TEMPLATE) -> model_server_config_pb2.ModelServerConfig:
    """The config for the versions under serving_dir/model_name now. `available`: the versions the server
    reports loaded; None when unknown, and then the versions pushed before the newest, and any version
    already labelled, count as loaded."""
    pushed = layout.versions(os.path.join(serving_dir, model_name))
    if not pushed:
        raise ValueError(f"no version under {os.path.join(serving_dir, model_name)}: nothing to serve")
    config = read(template)
    entry = _entry(config, model_name)
    current = _current_labels(serving_dir)
    newest = pushed[-1]
    if not current:  # new labels may name a version the server is still loading (the compose flag)
        entry.version_labels.update({STABLE: newest, CANARY: newest})
        return config
    window = _window(entry, pushed)
    loaded = [v for v in window if (v in available if available is not None
                                    else v != newest or v in current.values())]
    for label in (STABLE, CANARY):
        version = current.get(label)
        entry.version_labels[label] = version if version in loaded else (loaded[0] if loaded else newest)
    if newest in loaded and available is not None:
        entry.version_labels[CANARY] = newest
    return config


def write(serving_dir: str, config: model_server_config_pb2.ModelServerConfig) -> str:
    path = os.path.join(serving_dir, CONFIG_FILE)
    staging = os.path.join(serving_dir, f".{CONFIG_FILE}.{uuid.uuid4().hex[:8]}")
    with tf.io.gfile.GFile(staging, "w") as f:
        f.write(text_format.MessageToString(config))
    tf.io.gfile.rename(staging, path, overwrite=True)  # atomic on a local filesystem
    return path


def labels(config: model_server_config_pb2.ModelServerConfig) -> Dict[str, int]:
    return dict(config.model_config_list.config[0].version_labels)


def unlabeled_versions(serving_dir: str, config: model_server_config_pb2.ModelServerConfig) -> List[int]:
    """Loaded versions that no label names (a new version before `canary`)."""
    entry = config.model_config_list.config[0]
    window = _window(entry, layout.versions(os.path.join(serving_dir, entry.name)))
    return sorted(set(window) - set(entry.version_labels.values()))


def update(serving_dir: str, model_name: str, server: str = "", wait_seconds: float = 0) -> str:
    """Called by the Pusher after a push: rewrites serving_dir/models.config; with the server's address, waits
    up to wait_seconds for it to load the new version, so that the new version can be the canary. A server that
    cannot be reached counts as no server: the labels stay where they are."""
    available = None
    if server:
        newest = layout.versions(os.path.join(serving_dir, model_name))[-1]
        available = wait_until_available(server, model_name, newest, wait_seconds)
        if available is None:
            logging.warning("TF Serving at %s cannot be reached (GET /v1/models/%s): the labels stay on the versions "
                            "they name; version %d is unlabeled until `make canary` once the server has it",
                            server, model_name, newest)
    return write(serving_dir, render(serving_dir, model_name, available))


def _require_available(server: str, model_name: str, version: int) -> None:
    if not server:
        return
    available = available_versions(server, model_name)
    if available is None:
        raise LabelError(f"the server at {server} cannot be reached (GET /v1/models/{model_name}): start it, or "
                         "check --server")
    if version not in available:
        raise LabelError(f"the server at {server} has not loaded version {version} of {model_name} yet: "
                         "try again once GET /v1/models/<name> shows it AVAILABLE")


def move_label(serving_dir: str, label: str, server: str = "") -> model_server_config_pb2.ModelServerConfig:
    """`canary` onto the newest version, or `stable` onto the canary's; with the server's address, only onto
    a version it has loaded."""
    config = read(os.path.join(serving_dir, CONFIG_FILE))
    entry = config.model_config_list.config[0]
    version = (layout.versions(os.path.join(serving_dir, entry.name))[-1] if label == CANARY
               else entry.version_labels[CANARY])
    _require_available(server, entry.name, version)
    entry.version_labels[label] = version
    write(serving_dir, config)
    return config


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["show", "canary", "promote"],
                        help="show the labels; canary: label the newest version; promote: make the canary stable")
    parser.add_argument("--serving-dir", default=layout.serving_dir(layout.DEFAULT_OUTPUTS_DIR),
                        help="the directory the pipeline pushes to (mounted as /models by the compose stack)")
    parser.add_argument("--server", default="", help="TF Serving's REST address, e.g. http://127.0.0.1:8501: "
                        "a label moves only to a version it reports AVAILABLE")
    args = parser.parse_args(argv)
    path = os.path.join(args.serving_dir, CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        print(f"error: {path} does not exist: push a model first (`make run`)", file=sys.stderr)
        return 2
    try:
        config = read(path) if args.action == "show" else move_label(
            args.serving_dir, STABLE if args.action == "promote" else CANARY, args.server)
    except LabelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for entry in config.model_config_list.config:
        unlabeled = unlabeled_versions(args.serving_dir, config)
        note = f"; unlabeled: {', '.join(map(str, unlabeled))}" if unlabeled else ""
        print(f"{entry.name}: {', '.join(f'{k}={v}' for k, v in sorted(entry.version_labels.items()))}{note} ({path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
