"""Inputs are never unpickled: checkpoints are read as safetensors (or HDF5) even when a pickled
pytorch_model.bin sits beside them, and no project code calls a loader of executable formats."""
import glob
import os
import pickle
import re

from model import keras_classifier
from pipeline import configs

UNSAFE_LOADERS = re.compile(r"\bpickle\.loads?\(|\btorch\.load\(|allow_pickle\s*=\s*True|\bjoblib\.load\(|"
                            r"\bdill\.|\bcloudpickle\.loads?\(|from_pt\s*=\s*True")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling this writes the marker file
        return (open, (self.marker, "w"))


def test_a_pickled_checkpoint_beside_the_safetensors_is_never_opened(tmp_path, checkpoint_dir):
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    for name in os.listdir(checkpoint_dir):
        os.symlink(os.path.join(checkpoint_dir, name), checkpoint / name)
    marker = tmp_path / "unpickled"
    (checkpoint / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(str(marker))))
    classifier = keras_classifier.load_classifier(str(checkpoint), num_classes=3)
    assert classifier.output_shape == (None, 3)
    assert not marker.exists()


def test_no_project_code_loads_executable_formats():
    packages = ("contracts", "preprocessing", "model", "serving", "reports", "components", "pipeline", "bench")
    sources = [path for package in packages for path in glob.glob(os.path.join(configs.PROJECT_DIR, package, "*.py"))]
    assert len(sources) > 20
    offenders = [f"{os.path.relpath(path, configs.PROJECT_DIR)}: {line.strip()}" for path in sources
                 for line in open(path, encoding="utf-8") if UNSAFE_LOADERS.search(line)]
    assert offenders == []
