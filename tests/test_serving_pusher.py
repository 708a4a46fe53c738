"""The push into TF Serving's directory: whole versions only (even when the push is killed), no duplicate
of the serving model, and no model that stock TF Serving cannot load."""
import glob
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
from tfx.dsl.io import filesystem_registry
from tfx.dsl.io.plugins import local
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils, path_utils

from components import serving_pusher
from contracts import typed_settings
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
         "custom_config": typed_settings.to_json(configs.PipelineConfig(warmup_texts=2).pusher_settings())})
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
    directory that is visible without the whole model in it. loadable_only: count a version as visible only
    once its saved_model.pb is there, as TF Serving's loader does (tensorflow's MaybeSavedModelDirectory)."""

    def __init__(self, root, expected_files, loadable_only=False):
        super().__init__(daemon=True)
        self.root, self.expected, self.loadable_only, self.running = root, expected_files, loadable_only, True
        self.served, self.partial = set(os.listdir(root)), set()

    def run(self):
        while self.running:
            for name in set(os.listdir(self.root)) - self.served:
                version = os.path.join(self.root, name)
                if self.loadable_only and not os.path.exists(os.path.join(version, serving_pusher.SAVED_MODEL_FILE)):
                    continue
                if name.isdigit() and files_under(version) != self.expected:
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
    for fraction in (0.15, 0.4, 0.65, 0.85):
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


class ObjectStore(local.LocalFilesystem):
    """An object store as a push sees one, over a local directory: objstore:///a/b is /a/b, and renaming a
    directory copies it object by object, then deletes the source (as gs:// does). It copies saved_model.pb
    first, the worst order for a server polling the destination, and slowly enough to be caught at it."""

    SUPPORTED_SCHEMES = ["objstore://"]
    PREFIX = "objstore://"

    @staticmethod
    def mapped(path):
        return path[len(ObjectStore.PREFIX):]

    @staticmethod
    def unmapped(path):
        return ObjectStore.PREFIX + path

    @staticmethod
    def open(name, mode="r"):
        return local.LocalFilesystem.open(ObjectStore.mapped(name), mode)

    @staticmethod
    def copy(src, dst, overwrite=False):
        local.LocalFilesystem.copy(ObjectStore.mapped(src), ObjectStore.mapped(dst), overwrite)

    @staticmethod
    def exists(path):
        return local.LocalFilesystem.exists(ObjectStore.mapped(path))

    @staticmethod
    def glob(pattern):
        return [ObjectStore.unmapped(p) for p in local.LocalFilesystem.glob(ObjectStore.mapped(pattern))]

    @staticmethod
    def isdir(path):
        return local.LocalFilesystem.isdir(ObjectStore.mapped(path))

    @staticmethod
    def listdir(path):
        return local.LocalFilesystem.listdir(ObjectStore.mapped(path))

    @staticmethod
    def makedirs(path):
        local.LocalFilesystem.makedirs(ObjectStore.mapped(path))

    @staticmethod
    def remove(path):
        local.LocalFilesystem.remove(ObjectStore.mapped(path))

    @staticmethod
    def rmtree(path):
        local.LocalFilesystem.rmtree(ObjectStore.mapped(path))

    @staticmethod
    def stat(path):
        return local.LocalFilesystem.stat(ObjectStore.mapped(path))

    @staticmethod
    def walk(top, topdown=True, onerror=None):
        for root, dirs, files in local.LocalFilesystem.walk(ObjectStore.mapped(top), topdown, onerror):
            yield ObjectStore.unmapped(root), dirs, files

    @staticmethod
    def rename(src, dst, overwrite=False):
        source, target = ObjectStore.mapped(src), ObjectStore.mapped(dst)
        walked = list(os.walk(source))
        for root, _, _ in walked:
            os.makedirs(os.path.join(target, os.path.relpath(root, source)), exist_ok=True)
        files = sorted((os.path.relpath(os.path.join(root, name), source) for root, _, names in walked
                        for name in names), key=lambda path: path != serving_pusher.SAVED_MODEL_FILE)
        for path in files:
            shutil.copyfile(os.path.join(source, path), os.path.join(target, path))
            time.sleep(0.05)
        shutil.rmtree(source)


@pytest.fixture(scope="module")
def object_store():
    filesystem_registry.DEFAULT_FILESYSTEM_REGISTRY.register(ObjectStore, priority=0)
    return ObjectStore.PREFIX


def test_on_an_object_store_a_server_never_finds_a_loadable_partial_version(tmp_path, object_store):
    """Where a rename is a copy, the push writes saved_model.pb last: a server polling the root never finds
    a version it would load before the whole model is there; the store's own rename would expose one."""
    candidate = saved_model(tmp_path / "candidate", 3.0)
    root = tmp_path / "serving" / "model"
    os.makedirs(root)
    assert not serving_pusher.renames_atomically(object_store + str(root)) and serving_pusher.renames_atomically(
        str(root))
    watcher = VersionWatcher(str(root), files_under(candidate), loadable_only=True)
    watcher.start()
    version = serving_pusher.push_atomically(candidate, object_store + str(root))
    renamed = root / "99"  # the store's own rename of a staged copy, for contrast
    shutil.copytree(candidate, root / ".staging-99")
    ObjectStore.rename(object_store + str(root / ".staging-99"), object_store + str(renamed))
    watcher.running = False
    watcher.join()
    assert watcher.partial == {"99"}, "the watcher would have missed a partial version"
    assert files_under(ObjectStore.mapped(version)) == files_under(candidate)
    assert float(tf.saved_model.load(ObjectStore.mapped(version)).f(tf.constant(1.0))) == 3.0
    assert not glob.glob(str(root / ".staging-*"))


def test_a_version_left_without_its_saved_model_is_removed_by_the_next_push(tmp_path, object_store):
    """What a push killed mid-copy leaves on an object store: a numbered directory that cannot load."""
    root = tmp_path / "serving" / "model"
    shutil.copytree(saved_model(tmp_path / "a", 1.0), root / "5", ignore=shutil.ignore_patterns("saved_model.pb"))
    version = serving_pusher.push_atomically(saved_model(tmp_path / "b", 2.0), object_store + str(root))
    assert os.listdir(root) == [os.path.basename(version)] and int(os.path.basename(version)) > 5
