"""Multi-label rows (--label-separator), on the shared multi-label run (tests/shared_runs.py; its data, made from
the corpus: tests/multi_label_data.py): ExampleGen turns a label cell into one value per label and the schema
checks each one; the pushed model answers each label yes or no through serving_default; TFMA's per-label and
averaged metrics, and the BlessingGate's macro F1, equal a direct computation from the model's outputs; the
report and the model card show per-label figures; bad labels are refused before anything runs."""
import glob
import json
import os
import re

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_text  # noqa: F401 (registers the tokenizer's ops, which loading the model needs)
from tensorflow_metadata.proto.v0 import anomalies_pb2

from contracts import layout, names
from model import validation
from pipeline import configs
from reports import run_facts, run_outputs, run_report
from tasks import TaskSettings, multi_label

from multi_label_data import LABELS, QUESTION, SEPARATOR, labels_of
from pipeline_runs import run_artifacts, run_name, run_refused, summary


@pytest.fixture(scope="module")
def run(multi_label_run):
    root, result = multi_label_run
    return root, result, run_artifacts(root / "outputs", run_name(result.stdout))


@pytest.fixture(scope="module")
def eval_rows(run):
    """The eval split's (text, labels) as ExampleGen wrote them."""
    files = glob.glob(os.path.join(run[2][names.CSV_EXAMPLE_GEN][names.EXAMPLES].uri, "Split-eval", "*"))
    features = [tf.train.Example.FromString(record.numpy()).features.feature
                for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    rows = [(f["text"].bytes_list.value[0].decode(), [v.decode() for v in f["label"].bytes_list.value])
            for f in features]
    assert len(rows) > 50
    return rows


@pytest.fixture(scope="module")
def served(run, eval_rows):
    """The pushed model's answers on the eval texts, and its hyperparameters."""
    pushed = summary(run[1].stdout)["pushed"]
    out = tf.saved_model.load(pushed).signatures[names.SERVING_DEFAULT](text=tf.constant([t for t, _ in eval_rows]))
    return {name: value.numpy() for name, value in out.items()}, json.load(open(os.path.join(pushed,
                                                                                     layout.HYPERPARAMETERS)))


def test_the_multi_label_model_learned_its_task_and_was_blessed_at_the_default_gates(run):
    lines = summary(run[1].stdout)
    assert lines["blessed"] == "yes", lines.get("blessing")
    assert float(lines["eval macro F1"]) >= 0.85, lines.get("blessing")  # measured 0.96 on 96 eval texts


def test_examplegen_writes_one_value_per_label_and_the_schema_lists_single_labels(run, eval_rows):
    # each row's labels are its rule's (multi_label_data.labels_of), whatever order and spacing the cell had
    assert all(sorted(labels) == sorted(labels_of(text)) for text, labels in eval_rows)
    assert sum(len(labels) == 2 for _, labels in eval_rows) > 10
    schema = tfdv.load_schema_text(str(run[0] / "schema" / "schema.pbtxt"))
    assert sorted(tfdv.get_domain(schema, "label").value) == sorted(LABELS)
    label = tfdv.get_feature(schema, "label")
    assert label.value_count.min == 1 and not label.HasField("shape")


def test_the_schema_flags_an_unknown_label_and_a_row_without_one(run):
    """What the ExampleValidator sees for data the input check cannot read beforehand (gs://)."""
    schema = tfdv.load_schema_text(str(run[0] / "schema" / "schema.pbtxt"))
    for labels, anomaly in ((["link", "angry"], "ENUM_TYPE_UNEXPECTED_STRING_VALUES"),
                            ([], "FEATURE_TYPE_LOW_NUMBER_VALUES")):
        stats = tfdv.generate_statistics_from_dataframe(pd.DataFrame({"text": ["a", "b"],
                                                                      "label": [["hashtag"], labels]}))
        found = tfdv.validate_statistics(stats, schema).anomaly_info["label"]
        assert anomaly in {anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in found.reason}, found


def test_the_served_model_answers_each_label_above_its_threshold(served):
    out, hyperparameters = served
    class_names = hyperparameters["class_names"]
    assert sorted(class_names) == sorted(LABELS) and hyperparameters["task"]["label_separator"] == SEPARATOR
    thresholds = np.array([hyperparameters["label_thresholds"][name] for name in class_names])
    probabilities = out[names.PROBABILITIES]
    assert set(out) == {names.PROBABILITIES, names.LABEL, names.CLASS_ID, names.ANSWERED}
    assert probabilities.shape[1] == len(LABELS) and ((0 <= probabilities) & (probabilities <= 1)).all()
    assert not np.allclose(probabilities.sum(axis=1), 1.0)  # each label's own probability, not a softmax
    answered = probabilities > thresholds
    expected = [SEPARATOR.join(name for name, yes in zip(class_names, row) if yes) for row in answered]
    assert [label.decode() for label in out[names.LABEL]] == expected
    assert (out[names.ANSWERED] == answered).all()
    assert out[names.CLASS_ID].tolist() == probabilities.argmax(axis=1).tolist()
    assert len(set(expected)) > 1  # the model tells texts apart


def test_the_served_thresholds_are_the_ones_chosen_on_the_validation_slice(run, served):
    """The validation slice's texts (the training split's, picked as the Trainer picks them), answered by the
    pushed model: the thresholds it serves are the ones choose_thresholds makes of them, not the eval split's."""
    pushed = tf.saved_model.load(summary(run[1].stdout)["pushed"])
    files = glob.glob(os.path.join(run[2][names.CSV_EXAMPLE_GEN][names.EXAMPLES].uri, "Split-train", "*"))
    records = [record.numpy() for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    ids = pushed.signatures[names.TRANSFORM_FEATURES](examples=tf.constant(records))["input_ids"].numpy()
    hyperparameters = served[1]
    fraction = hyperparameters["validation_fraction"]
    in_slice = [bool(validation.in_slice(_ids_example(row), fraction)) for row in ids]
    texts = [tf.train.Example.FromString(r).features.feature["text"].bytes_list.value[0] for r, keep in
             zip(records, in_slice) if keep]
    assert len(texts) == hyperparameters["validation_texts"] and 0 < len(texts) < len(records) / 5
    probabilities = pushed.signatures[names.SERVING_DEFAULT](text=tf.constant(texts))[names.PROBABILITIES].numpy()
    class_names = hyperparameters["class_names"]
    truth = np.array([[name in labels_of(text.decode()) for name in class_names] for text in texts])
    chosen = multi_label.choose_thresholds(probabilities, truth)
    assert dict(zip(class_names, chosen.tolist())) == hyperparameters["label_thresholds"]
    assert any(t != multi_label.DEFAULT_THRESHOLD for t in chosen)  # else the choice is not seen at work


def _ids_example(ids: np.ndarray) -> bytes:
    """Transform's example of a text as in_slice reads it: its word pieces."""
    feature = tf.train.Feature(int64_list=tf.train.Int64List(value=ids.tolist()))
    return tf.train.Example(features=tf.train.Features(feature={"input_ids": feature})).SerializeToString()


def _direct_scores(eval_rows, served):
    """Each label's precision, recall and F1 from the served probabilities (above each label's threshold), and
    the averages."""
    out, hyperparameters = served
    class_names = hyperparameters["class_names"]
    truth = np.array([[name in labels for name in class_names] for _, labels in eval_rows])
    answered = out[names.PROBABILITIES] > np.array([hyperparameters["label_thresholds"][n] for n in class_names])
    tp, fp, fn = ((truth & answered).sum(0), (~truth & answered).sum(0), (truth & ~answered).sum(0))
    safe = lambda a, b: np.divide(a, b, out=np.zeros(len(a)), where=b > 0)  # noqa: E731
    precision, recall, f1 = safe(tp, tp + fp), safe(tp, tp + fn), safe(2 * tp, 2 * tp + fp + fn)
    per_label = {name: {"precision": precision[k], "recall": recall[k], "f1_score": f1[k]}
                 for k, name in enumerate(class_names)}
    micro = 2 * tp.sum() / (2 * tp.sum() + fp.sum() + fn.sum())
    return per_label, {"f1_score (macro)": f1.mean(), "precision (macro)": precision.mean(),
                       "recall (macro)": recall.mean(), "f1_score (micro)": micro}


def test_tfma_metrics_equal_a_direct_computation_from_the_models_outputs(run, eval_rows, served):
    per_label, averages = _direct_scores(eval_rows, served)
    metrics = run_facts.evaluation_metrics(run[2][names.EVALUATOR][names.EVALUATION].uri,
                                           served[1]["class_names"])
    assert metrics["overall"][names.EXAMPLE_COUNT] == len(eval_rows)
    for name, scores in per_label.items():
        assert metrics["per_class"][name] == pytest.approx(scores, abs=1e-6), name
    assert {name: metrics["overall"][name] for name in averages} == pytest.approx(averages, abs=1e-6)
    assert metrics["headline"] == ("macro F1", pytest.approx(averages["f1_score (macro)"], abs=1e-6))
    assert metrics["confusion"] == []


def test_the_blessing_is_on_the_macro_f1_of_the_served_answers(run, eval_rows, served):
    decision = run_outputs.read_decision(run[2][names.BLESSING_GATE][names.BLESSING].uri)
    assert decision["metric"] == "macro F1" and decision["examples"] == len(eval_rows)
    assert decision["accuracy"] == pytest.approx(_direct_scores(eval_rows, served)[1]["f1_score (macro)"])
    assert decision["reason"].startswith(f"macro F1 {decision['accuracy']:.4f} (95% lower bound")


def test_the_summary_report_and_card_show_per_label_figures(run, served):
    root, result, _ = run
    facts = run_report.gather(configs.PipelineConfig(outputs_dir=str(root / "outputs")), run_name(result.stdout))
    macro = facts["evaluation"]["headline"][1]
    assert summary(result.stdout)["eval macro F1"] == f"{macro:.4f}"
    report = open(re.search(r"^report: (.+)$", result.stdout, re.M).group(1), encoding="utf-8").read()
    assert f"eval macro F1 <b>{macro:.4f}</b>" in report and 'id="task-note"' in report
    for name, scores in facts["evaluation"]["per_class"].items():
        assert f"<tr><td>{name}</td><td class=\"n\">{scores['precision']:.4f}</td>" in report
    card = open(os.path.join(summary(result.stdout)["pushed"], "model_card.md"), encoding="utf-8").read()
    assert f"multi-label text classification: each text gets any of {len(LABELS)} labels" in card
    assert "Per label (its own yes/no answers):" in card
    assert f"| {QUESTION} | {facts['evaluation']['per_class'][QUESTION]['precision']:.4f} |" in card


def test_an_unknown_label_in_a_multi_label_cell_is_refused_before_anything_runs(run, tmp_path, capsys):
    data = tmp_path / "tags.csv"
    data.write_text("text,label\nwhere is it?,question|link\nlovely #day,hashtag|delighted\n", encoding="utf-8")
    assert run_refused(tmp_path, capsys, "--data", str(data), "--schema", str(run[0] / "schema" / "schema.pbtxt"),
                       "--label-separator", SEPARATOR) == (
        f"{data}, line 3: label 'delighted' is not one of {sorted(LABELS)} in the schema: fix the row, or "
        "regenerate the schema (make schema) if it is a new class")


def test_a_rare_labels_positive_texts_weigh_as_much_as_its_negative_ones_in_the_loss():
    """Each label's positives are weighted by (1 - share) / share: a label on 2% of the training texts weighs
    49 per positive text, one on half of them 1; without the weights a rare tag is learned to be answered no."""
    np.testing.assert_allclose(multi_label.positive_weights([0.02, 0.5, 0.0, 0.001]), [49.0, 1.0, 1.0, 100.0])
    task = multi_label.MultiLabel(TaskSettings(labels="multi_label", label_separator="|"))
    loss, _ = task.loss_and_accuracy([0.02, 0.5])
    targets, logits = tf.constant([[1.0, 0.0], [0.0, 1.0]]), tf.zeros([2, 2])
    per_label = np.log(2.0) * np.array([[49.0, 1.0], [1.0, 1.0]])  # -log(sigmoid(0)) = log 2, positives weighted
    assert float(loss(targets, logits)) == pytest.approx(per_label.mean(axis=1).mean(), rel=1e-6)
    unweighted, _ = task.loss_and_accuracy()
    assert float(unweighted(targets, logits)) == pytest.approx(np.log(2.0), rel=1e-6)
