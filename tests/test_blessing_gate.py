"""The BlessingGate component and the Pusher after it, as TFX runs them, on the shared small run's eval split
(conftest.first_run) and its trained model: each gate refuses what it exists to refuse, and nothing is pushed
then; a copy of the model serving now is blessed."""
import json
import os

import pytest
import tensorflow as tf
from google.protobuf import json_format
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts

from components import blessing_gate, serving_pusher
from contracts import names, typed_settings
from contracts.text_columns import TextColumns
from pipeline import configs
from reports import run_outputs

from pipeline_runs import run_artifacts, run_name, tree_digest

CONFIG = configs.PipelineConfig()
RULE = typed_settings.to_dict(CONFIG.blessing_rule())
# Below the largest class's share (0.43 of the first run's eval split), so that only the gate under test can
# refuse a one-class model.
LOW_FLOOR = 0.3


def one_class_model(directory, label: str) -> standard_artifacts.Model:
    """A Trainer output whose serving_default answers `label` for every text (the contract's outputs)."""
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=names.TEXT_INPUT)])
    def serve(text):
        count = tf.shape(text)[0]
        return {names.LABEL: tf.fill([count], label), names.CLASS_ID: tf.zeros([count], tf.int64),
                names.PROBABILITIES: tf.ones([count, 3]) / 3}

    tf.saved_model.save(module, os.path.join(directory, "Format-Serving"), signatures={names.SERVING_DEFAULT: serve})
    model = standard_artifacts.Model()
    model.uri = str(directory)
    return model


@pytest.fixture(scope="module")
def run(first_run):
    outputs = run_artifacts(first_run[0], run_name(first_run[1].stdout))  # later tests run there too
    return outputs[names.CSV_EXAMPLE_GEN][names.EXAMPLES], outputs[names.TRAINER][names.MODEL]


@pytest.fixture(scope="module")
def majority_class(run):
    labels = [label for label, in blessing_gate.eval_examples(run[0], TextColumns(), "label")[1]]
    return max(set(labels), key=labels.count)


def judge(tmp_path, examples, model, baseline=None, **rule):
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    os.makedirs(blessing.uri)
    blessing_gate.BlessingGate.EXECUTOR_SPEC.executor_class().Do(
        {"examples": [examples], "model": [model], **({"baseline_model": [baseline]} if baseline else {})},
        {"blessing": [blessing]},
        {"rule": json.dumps({**RULE, **rule}), "task": typed_settings.to_json(CONFIG.task_settings())})
    return blessing, run_outputs.read_decision(blessing.uri)


def test_a_copy_of_the_model_serving_now_is_blessed(tmp_path, run):
    examples, trained = run
    blessing, decision = judge(tmp_path, examples, trained, baseline=trained)
    assert decision["blessed"] and blessing.get_int_custom_property("blessed") == 1
    assert (decision["difference"], decision["candidate_only"], decision["baseline_only"]) == (0.0, 0, 0)
    assert blessing.get_int_custom_property("current_model_id") == trained.id
    assert os.path.exists(os.path.join(blessing.uri, "BLESSED"))


def test_a_one_class_model_is_refused_though_above_the_floor(tmp_path, run, majority_class):
    examples, _ = run
    _, decision = judge(tmp_path, examples, one_class_model(tmp_path / "model", majority_class),
                        accuracy_floor=LOW_FLOOR)
    assert decision["accuracy"] == pytest.approx(decision["majority_share"])
    assert decision["accuracy"] > LOW_FLOOR
    assert not decision["blessed"] and "does not beat the largest class's share" in decision["reason"]


def test_a_model_clearly_worse_than_the_baseline_is_refused_and_nothing_is_pushed(tmp_path, run, majority_class):
    """The one-class model against the trained one, with the floor and the majority check out of the way
    (majority_margin -1): only the comparison with the baseline refuses it. The Pusher then writes nothing."""
    examples, trained = run
    candidate = one_class_model(tmp_path / "model", majority_class)
    blessing, decision = judge(tmp_path, examples, candidate, baseline=trained, majority_margin=-1.0,
                               accuracy_floor=LOW_FLOOR)
    assert decision["accuracy"] > LOW_FLOOR and decision["difference"] < -0.1
    assert not decision["blessed"] and "is not above -0.02" in decision["reason"]

    serving_root = tmp_path / "serving" / "text_classifier"
    os.makedirs(serving_root)
    before = tree_digest(tmp_path / "serving")
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed")
    destination = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(
        base_directory=str(serving_root)))
    serving_pusher.Executor().Do({"model": [candidate], "model_blessing": [blessing], "examples": [examples]},
                                 {"pushed_model": [pushed]},
                                 {"push_destination": json_format.MessageToJson(destination),
                                  "custom_config": typed_settings.to_json(CONFIG.pusher_settings())})
    assert pushed.get_int_custom_property("pushed") == 0
    assert tree_digest(tmp_path / "serving") == before
