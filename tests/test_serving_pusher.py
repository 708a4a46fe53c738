"""The push into TF Serving's directory: whole versions only (even when the push is killed), no duplicate
of the serving model, and no model that stock TF Serving cannot load."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
import tensorflow as tf
from google.protobuf import json_format
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils, path_utils

from components import serving_pusher
from pipeline import configs

import test_serving_ops
from pipeline_runs import tree_digest


def saved_model(path, value):
    module = tf.Module()
    module.v = tf.Variable(value)
    module.f = tf.function(lambda x: x * module.v, input_signature=[tf.TensorSpec([], tf.float32)])
    tf.saved_model.save(module, str(path))
    return str(path)


def test_pushes_whole_versions_and_skips_an_identical_model(tmp_path):
    root = str(tmp_path / "serving" / "model")
    model = saved_model(tmp_path / "a", 1.0)
    first = serving_pusher.push_atomically(model, root)
    assert os.path.basename(first).isdigit()
    assert os.path.isfile(os.path.join(first, "saved_model.pb"))

    # The same model blessed again (an unchanged re-run): nothing new for TF Serving to load.
    assert serving_pusher.push_atomically(model, root) == first

    second = serving_pusher.push_atomically(saved_model(tmp_path / "b", 2.0), root)
    assert int(os.path.basename(second)) > int(os.path.basename(first))
    assert sorted(os.listdir(root)) == sorted([os.path.basename(first), os.path.basename(second)])
    assert float(tf.saved_model.load(second).f(tf.constant(1.0))) == 2.0


def run_pusher(tmp_path, saved_model_dir, serving_root):
    """The Pusher's executor, as TFX calls it, on a blessed model."""
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "trainer_model")
    io_utils.copy_dir(saved_model_dir,
                      path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model)))
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", 1)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed_model")
    destination = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(
        base_directory=serving_root))
    serving_pusher.Executor().Do(
        {"model": [model], "model_blessing": [blessing], "examples": [examples]}, {"pushed_model": [pushed]},
        {"push_destination": json_format.MessageToJson(destination),
         "custom_config": json.dumps({"text_column": "text", "warmup_texts": 2})})
    return pushed


def test_a_model_stock_serving_cannot_load_is_not_pushed(tmp_path):
    serving_root = str(tmp_path / "serving" / "model")
    first = serving_pusher.push_atomically(saved_model(tmp_path / "a", 1.0), serving_root)
    with pytest.raises(serving_pusher.UnservableModelError, match=r"TFText>RoundRobinTrim; nothing was pushed"):
        run_pusher(tmp_path, test_serving_ops.unservable_model(tmp_path), serving_root)
    assert os.listdir(serving_root) == [os.path.basename(first)]  # no version, no staging directory


def files_under(root):
    return sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "**"), recursive=True))


class VersionWatcher(threading.Thread):
    """Lists the serving root every millisecond, as TF Serving polls it, and records every version
    directory that is visible without the whole model in it."""

    def __init__(self, root, expected_files):
        super().__init__(daemon=True)
        self.root, self.expected, self.running = root, expected_files, True
        self.served, self.partial = set(os.listdir(root)), set()

    def run(self):
        while self.running:
            for name in set(os.listdir(self.root)) - self.served:
                if name.isdigit() and files_under(os.path.join(self.root, name)) != self.expected:
                    self.partial.add(name)
            time.sleep(0.001)


PUSH = ("import sys; from components import serving_pusher; print(flush=True); "
        "serving_pusher.push_atomically(*sys.argv[1:]); print(flush=True)")


def start_push(candidate, root):
    process = subprocess.Popen([sys.executable, "-c", PUSH, candidate, root], cwd=configs.PROJECT_DIR,
                               stdout=subprocess.PIPE, text=True)
    process.stdout.readline()  # imports done: the push starts now
    return process, time.monotonic()


def test_a_killed_push_never_shows_a_partial_version(tmp_path, pushed_model):
    root = str(tmp_path / "serving" / "text_classifier")
    shutil.copytree(pushed_model, os.path.join(root, "1"))  # the version being served
    served = tree_digest(os.path.join(root, "1"))
    candidate = str(tmp_path / "candidate")  # another model: no fingerprint to match the served one
    shutil.copytree(pushed_model, candidate, ignore=shutil.ignore_patterns(serving_pusher.FINGERPRINT_FILE))
    watcher = VersionWatcher(root, files_under(candidate))
    watcher.start()

    process, started = start_push(candidate, str(tmp_path / "timing"))
    process.stdout.readline()  # pushed
    duration = time.monotonic() - started
    process.wait()
    killed_mid_push = 0
    for fraction in (0.1, 0.25, 0.4, 0.55, 0.7, 0.85):
        process, started = start_push(candidate, root)
        time.sleep(max(0.0, started + fraction * duration - time.monotonic()))
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_mid_push += bool(glob.glob(os.path.join(root, serving_pusher.STAGING_PREFIX + "*")))
        assert tree_digest(os.path.join(root, "1")) == served  # the previous version keeps serving

    process, _ = start_push(candidate, root)
    assert process.wait() == 0
    watcher.running = False
    watcher.join()
    assert watcher.partial == set()
    assert killed_mid_push >= 2, "the kills all missed the copy; the test proved nothing"
    versions = [name for name in os.listdir(root) if name.isdigit()]
    assert "1" in versions and len(versions) >= 2  # whole versions only, no staging directory left over
    assert sorted(os.listdir(root)) == sorted(versions)
