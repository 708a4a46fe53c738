"""The push into TF Serving's directory: whole versions only, and no duplicate of the serving model."""
import os

import tensorflow as tf

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
