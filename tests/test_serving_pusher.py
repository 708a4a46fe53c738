"""The push into TF Serving's directory: whole versions only, no duplicate of the serving model, and no
model that stock TF Serving cannot load."""
import json
import os

import pytest
import tensorflow as tf
from google.protobuf import json_format
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils, path_utils

import test_serving_ops
from components import serving_pusher


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
    io_utils.copy_dir(saved_model_dir, path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model)))
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
