"""TF Serving's models.config for the pushed versions: which versions carry the `stable` and `canary` labels.

The Pusher writes it after every push, from the template serving_config/models.config: the new version is
the canary; `stable` stays where it was as long as that version is still loaded (the policy keeps the
newest two), else it moves to the older of the two. `python -m serving.model_server_config promote`
makes the canary stable. The file is replaced atomically, so a polling server never reads half of it.

    python -m serving.model_server_config show    [--serving-dir outputs/serving]
    python -m serving.model_server_config promote [--serving-dir outputs/serving]
"""
import argparse
import os
import sys
import uuid
from typing import List, Optional

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from pipeline import configs

TEMPLATE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "serving_config",
                        "models.config")
CONFIG_FILE = "models.config"  # beside the model directories, in the directory mounted as /models
STABLE, CANARY = "stable", "canary"


def read(path: str) -> model_server_config_pb2.ModelServerConfig:
    with tf.io.gfile.GFile(path) as f:
        return text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())


def versions(model_root: str) -> List[int]:
    """The numeric version directories, oldest first (hidden staging directories are not versions)."""
    if not tf.io.gfile.isdir(model_root):
        return []
    return sorted(int(name.rstrip("/")) for name in tf.io.gfile.listdir(model_root) if name.rstrip("/").isdigit())


def _entry(config: model_server_config_pb2.ModelServerConfig, model_name: str):
    entries = config.model_config_list.config
    if len(entries) != 1:
        raise ValueError(f"{TEMPLATE} must describe exactly one model, found {len(entries)}")
    entry = entries[0]
    entry.name = model_name
    entry.base_path = f"{os.path.dirname(entry.base_path)}/{model_name}"
    return entry


def render(serving_dir: str, model_name: str, template: str = TEMPLATE) -> model_server_config_pb2.ModelServerConfig:
    """The config for what is under serving_dir/model_name now, keeping the current stable label if loaded."""
    pushed = versions(os.path.join(serving_dir, model_name))
    if not pushed:
        raise ValueError(f"no version under {os.path.join(serving_dir, model_name)}: nothing to serve")
    config = read(template)
    entry = _entry(config, model_name)
    loaded = pushed[-entry.model_version_policy.latest.num_versions:] if entry.model_version_policy.HasField(
        "latest") else pushed
    stable = _current_label(serving_dir, STABLE)
    if stable not in loaded:
        stable = loaded[-2] if len(loaded) > 1 else loaded[-1]
    entry.version_labels[STABLE] = stable
    entry.version_labels[CANARY] = pushed[-1]
    return config


def _current_label(serving_dir: str, label: str) -> Optional[int]:
    path = os.path.join(serving_dir, CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        return None
    entries = read(path).model_config_list.config
    return entries[0].version_labels.get(label) if entries else None


def write(serving_dir: str, config: model_server_config_pb2.ModelServerConfig) -> str:
    path = os.path.join(serving_dir, CONFIG_FILE)
    staging = os.path.join(serving_dir, f".{CONFIG_FILE}.{uuid.uuid4().hex[:8]}")
    with tf.io.gfile.GFile(staging, "w") as f:
        f.write(text_format.MessageToString(config))
    tf.io.gfile.rename(staging, path, overwrite=True)  # atomic on a local filesystem
    return path


def update(serving_dir: str, model_name: str) -> str:
    """Called by the Pusher after a push: rewrites serving_dir/models.config."""
    return write(serving_dir, render(serving_dir, model_name))


def promote(serving_dir: str) -> model_server_config_pb2.ModelServerConfig:
    config = read(os.path.join(serving_dir, CONFIG_FILE))
    entry = config.model_config_list.config[0]
    entry.version_labels[STABLE] = entry.version_labels[CANARY]
    write(serving_dir, config)
    return config


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["show", "promote"])
    parser.add_argument("--serving-dir", default=os.path.dirname(configs.PipelineConfig().serving_model_root),
                        help="the directory the pipeline pushes to (mounted as /models by the compose stack)")
    args = parser.parse_args(argv)
    path = os.path.join(args.serving_dir, CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        print(f"error: {path} does not exist: push a model first (`make run`)", file=sys.stderr)
        return 2
    config = promote(args.serving_dir) if args.action == "promote" else read(path)
    for entry in config.model_config_list.config:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(entry.version_labels.items()))
        print(f"{entry.name}: {labels} ({path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
