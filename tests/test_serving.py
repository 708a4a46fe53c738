"""The pushed model as TF Serving sees it: warm-up records, models.config, saved_model_cli, hostile texts,
and the predict CLI. Uses the model the shared small pipeline run pushed (conftest.first_run)."""
import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  the graph's tokenizer ops, as TF Serving links them

from components import serving_ops
from contracts import typed_settings
from contracts.text_columns import TextColumns
from model import export, reexport
from model.settings import TrainerSettings
from pipeline import configs
from serving import model_server_config, predict, warmup

from pipeline_runs import run_artifacts, run_name, split_texts

CONTRACT = {"probabilities", "label", "class_id"}


@pytest.fixture(scope="module")
def model(pushed_model):
    return tf.saved_model.load(pushed_model)


@pytest.fixture(scope="module")
def class_names(pushed_model):
    return predict.Classifier(pushed_model).class_names


def classify(model, texts):
    out = model.signatures["serving_default"](text=tf.constant(texts, dtype=tf.string))
    return {name: value.numpy() for name, value in out.items()}


def test_warmup_requests_are_real_eval_texts_and_run(first_run, pushed_model, model):
    records = warmup.read(pushed_model)
    assert len(records) == 3
    held_out = split_texts(first_run[0], run_name(first_run[1].stdout))
    for record in records:
        request = record.predict_log.request
        assert request.model_spec.name == "text_classifier"
        ((name, tensor),) = request.inputs.items()
        values = tf.make_ndarray(tensor)
        out = model.signatures[request.model_spec.signature_name](**{name: tf.constant(values)})
        assert set(out) == CONTRACT
        assert out["probabilities"].shape == (len(values), 3)
    texts = [t.decode() for t in tf.make_ndarray(records[1].predict_log.request.inputs["text"])]
    assert len(texts) == 8 and set(texts) <= held_out
    assert [r.predict_log.request.model_spec.signature_name for r in records] == [
        "serving_default", "serving_default", "serving_tf_example"]


def test_an_int8_export_runs_on_stock_serving_ops_and_answers_like_float32(first_run, pushed_model, model, tmp_path):
    """--serving-precision int8, exported again from the pushed model's weights (model/reexport.py, as
    `make bench-serving` does): the quantized matmuls are in the graph, the Pusher's op check passes, and on the
    run's eval texts the probabilities stay within 0.03 of float32's (the labels the same). The model's record
    lacks its training settings, as one pushed before a setting existed does (--refit-max-texts, say): the
    export again reads none of them."""
    older = str(tmp_path / "older")
    shutil.copytree(pushed_model, older)
    recorded = export.read_hyperparameters(older)
    serving = {"task", "checkpoint_dir", "serving_sub_batch_size", "serving_encoder_branches"}
    export.write_hyperparameters(older, {k: v for k, v in recorded.items()
                                         if k not in {f.name for f in dataclasses.fields(TrainerSettings)} - serving})
    int8_dir = str(tmp_path / "int8")
    transform = run_artifacts(first_run[0], run_name(first_run[1].stdout))["Transform"]["transform_graph"].uri
    reexport.reexport(older, transform, int8_dir, serving_precision="int8")
    assert "QuantizedMatMulWithBiasAndDequantize" in serving_ops.graph_ops(int8_dir)
    assert serving_ops.unservable_ops(int8_dir) == set()
    assert export.read_hyperparameters(int8_dir)["serving_precision"] == "int8"
    texts = sorted(split_texts(first_run[0], run_name(first_run[1].stdout)))
    full, quantized = classify(model, texts), classify(tf.saved_model.load(int8_dir), texts)
    difference = np.abs(quantized["probabilities"] - full["probabilities"]).max()
    print(f"int8 against float32 on {len(texts)} eval texts: probabilities within {difference:.4f}")
    assert difference < 0.03 and (quantized["label"] == full["label"]).all()


def test_a_models_record_gives_back_the_export_settings_it_was_exported_with():
    """What model/reexport.py reads (ExportSettings.of_record) is what the Trainer's export used (.of), for every
    task, from the record hyperparameters.json keeps (the TrainerSettings as a dict, with other keys)."""
    for task in ({}, {"text_pair_column": "text_b"}, {"label_separator": "|"}, {"long_text": "chunk"}):
        settings = configs.PipelineConfig(**task, serving_precision="int8").trainer_settings()
        recorded = {**typed_settings.to_dict(settings), "class_names": ["a", "b"]}
        assert export.ExportSettings.of_record(recorded) == export.ExportSettings.of(settings)


def test_models_config_labels_the_pushed_version(first_run, pushed_model):
    config = model_server_config.read(os.path.join(str(first_run[0]), "serving", "models.config"))
    (entry,) = config.model_config_list.config
    version = int(os.path.basename(pushed_model))
    assert dict(entry.version_labels) == {"stable": version, "canary": version}
    assert (entry.name, entry.base_path) == ("text_classifier", "/models/text_classifier")


SAVED_MODEL_CLI = ("import sys, tensorflow_text; from tensorflow.python.tools.saved_model_cli import main; "
                   "sys.argv[0] = 'saved_model_cli'; sys.exit(main())")


def test_saved_model_cli_run_matches_in_process_prediction(pushed_model, model, tmp_path):
    """TensorFlow's own CLI, in a TF1 session like TF Serving's, with TF Text's ops loaded as TF Serving
    links them (plain `saved_model_cli` fails with "Op type not registered 'WordpieceTokenizeWithOffsets'")."""
    texts = ["what a great flight, thank you!", "worst customer service ever", "my flight is at 6pm"]
    result = subprocess.run(
        [sys.executable, "-c", SAVED_MODEL_CLI, "run", "--dir", pushed_model, "--tag_set", "serve",
         "--signature_def", "serving_default", "--input_exprs", f"text={json.dumps(texts)}",
         "--outdir", str(tmp_path), "--overwrite"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Result for output key probabilities" in result.stdout
    expected = classify(model, texts)
    np.testing.assert_allclose(np.load(tmp_path / "probabilities.npy"), expected["probabilities"], atol=1e-5)
    # label.npy is an object array (loading it needs pickle): check the printed labels instead.
    assert f"Result for output key label:\n{expected['label']}" in result.stdout
    assert np.load(tmp_path / "class_id.npy").tolist() == expected["class_id"].tolist()


HOSTILE = {
    "empty": "",
    "whitespace only": " \t\n\r  ",
    "control characters": "\x00\x01\x07 my bag \x1b[31m is lost\x7f\u200b",
    "emoji": "✈️😡😡 delayed AGAIN 🙄",
    "CJK": "飞机晚点了三个小时，服务很差",
    "mixed scripts": "Merci! great crew ✈ но багаж потерян 荷物 مفقود",
    "100 KB": "thank you for the great flight " * 3400,
}


def test_hostile_texts_get_valid_predictions(model, class_names):
    texts = list(HOSTILE.values())
    assert len(HOSTILE["100 KB"].encode()) > 100_000
    batch = classify(model, texts)
    assert batch["probabilities"].shape == (len(texts), 3)
    assert np.isfinite(batch["probabilities"]).all()
    np.testing.assert_allclose(batch["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    assert {label.decode() for label in batch["label"]} <= set(class_names)
    for i, text in enumerate(texts):  # alone or in a batch: padding is masked, the answer is the same
        np.testing.assert_allclose(classify(model, [text])["probabilities"][0], batch["probabilities"][i], atol=1e-5)
    # Truncated, not failed: past max_seq_length the rest of the 100 KB text changes nothing.
    prefix = "thank you for the great flight " * 20  # 120 words, more than the 62 tokens that fit
    np.testing.assert_allclose(classify(model, [prefix])["probabilities"], classify(model, [HOSTILE["100 KB"]])[
        "probabilities"], atol=1e-6)


@pytest.mark.parametrize("size", [0, 1, 512])
def test_batch_sizes(model, corpus, size):
    texts = [text for text, _ in corpus[:size]]
    out = classify(model, texts)
    assert out["probabilities"].shape == (size, 3) and out["class_id"].shape == (size,)


PREDICT = os.path.join(os.path.dirname(sys.executable), "predict")  # the console script setup.py installs


def run_predict(*args):
    return subprocess.run([PREDICT, *args], capture_output=True, text=True, timeout=300)


def test_predict_cli_on_texts_matches_the_model(first_run, pushed_model, model):
    serving_root = os.path.dirname(pushed_model)  # a serving root: its newest version is used
    result = run_predict("--model", serving_root, "--text", "lost my bag again", "--text", "great crew, thanks")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = classify(model, ["lost my bag again", "great crew, thanks"])
    assert [r["text"] for r in rows] == ["lost my bag again", "great crew, thanks"]
    assert [r["label"] for r in rows] == [label.decode() for label in expected["label"]]
    np.testing.assert_allclose([list(r["probabilities"].values()) for r in rows], expected["probabilities"],
                               atol=1e-5)


def test_predict_cli_csv_to_csv_with_progress(pushed_model, tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    texts = ['said "on time", was not', "ok, fine", "", "✈️ again"] * 10
    with open(source, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["id", "text"]] + [[i, t] for i, t in enumerate(texts)])
    result = run_predict("--model", pushed_model, "--input", str(source), "--output", str(target), "--batch-size", "16")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "40/40" in result.stderr  # the progress bar
    rows = list(csv.DictReader(open(target, encoding="utf-8")))
    assert [r["text"] for r in rows] == texts
    assert list(rows[0]) == ["text", "label", "class_id", "p_negative", "p_neutral", "p_positive"]
    assert not os.path.exists(str(target) + ".partial")


def test_predict_reads_jsonl_and_plain_text(pushed_model, tmp_path):
    jsonl, plain = tmp_path / "in.jsonl", tmp_path / "in.txt"
    jsonl.write_text('{"text": "late again"}\n\n{"text": "smooth landing", "id": 7}\n', encoding="utf-8")
    plain.write_text("late again\nsmooth landing\n", encoding="utf-8")
    assert predict.read_texts(str(jsonl), TextColumns()) == predict.read_texts(str(plain), TextColumns()) == {
        "text": ["late again", "smooth landing"]}


@pytest.mark.parametrize("make_input, message", [
    (lambda d: d / "missing.csv", "missing.csv does not exist"),
    (lambda d: (d / "a.csv").write_text("tweet\nhello\n") and d / "a.csv", "has no column 'text' (columns: tweet)"),
    (lambda d: (d / "a.jsonl").write_text('{"text": "ok"}\nnot json\n') and d / "a.jsonl",
     "a.jsonl line 2: expected a JSON object with a 'text' field"),
    (lambda d: (d / "a.txt").write_bytes(b"caf\xe9\n") and d / "a.txt", "is not UTF-8 (byte 3)"),
])
def test_predict_refuses_bad_input_files(tmp_path, capsys, make_input, message):
    assert predict.main(["--input", str(make_input(tmp_path)), "--model", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_predict_refuses_a_missing_or_broken_model(tmp_path, capsys):
    assert predict.main(["--text", "hi", "--model", str(tmp_path / "nope")]) == 2
    assert "does not exist: run `make run`" in capsys.readouterr().err
    assert predict.main(["--text", "hi", "--model", str(tmp_path)]) == 2
    assert "neither saved_model.pb nor numeric version directories" in capsys.readouterr().err
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "saved_model.pb").write_bytes(b"\x00garbage")
    assert predict.main(["--text", "hi", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / '3'} is not a loadable SavedModel" in err and len(err.strip().splitlines()) == 1
