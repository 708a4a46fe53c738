"""Sentence pairs end to end (--text-pair-column), on the shared sentence-pair run (tests/shared_runs.py; its
data, made from the corpus: tests/pair_data.py): `make schema` pins both texts; training reads the second text's
token type; the pushed model's
serving_default takes text and text_pair, reads both and encodes them as the checkpoint's tokenizer does; the
warm-up requests, the pipeline's scoring step and the predict CLI carry pairs; inputs without the second
text are refused before anything runs."""
import csv
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401 (registers the tokenizer's ops, which loading the model needs)
from tensorflow_metadata.proto.v0 import schema_pb2

from contracts import names
from pipeline import cli
from serving import predict, warmup

from pair_data import DROP_ROWS
from pipeline_runs import run_artifacts, run_refused, summary

MAX_SEQ_LENGTH = 64  # the run's (the default)
PROBABILITY_TOLERANCE = 1e-6  # the predict CLI rounds to 6 decimals


@pytest.fixture(scope="module")
def pushed(sentence_pair_run):
    return summary(sentence_pair_run[1].stdout)["pushed"]


@pytest.fixture(scope="module")
def model(pushed):
    return tf.saved_model.load(pushed)


@pytest.fixture(scope="module")
def eval_rows(sentence_pair_run):
    """(text, text_pair, label) of the run's eval split."""
    root, result = sentence_pair_run
    examples = run_artifacts(root / "outputs", None)[names.CSV_EXAMPLE_GEN][names.EXAMPLES]
    files = glob.glob(os.path.join(examples.uri, "Split-eval", "*"))
    rows = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        rows.append(tuple(feature[name].bytes_list.value[0].decode() for name in ("text", "text_pair", "label")))
    assert len(rows) > 40
    return rows


def _examples(rows):
    return tf.constant([tf.train.Example(features=tf.train.Features(feature={
        name: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
        for name, value in zip(("text", "text_pair", "label"), row)})).SerializeToString() for row in rows])


def test_the_pair_model_learned_its_task_and_was_blessed_at_the_default_gates(sentence_pair_run):
    lines = summary(sentence_pair_run[1].stdout)
    assert lines["blessed"] == "yes", lines.get("blessing")
    assert float(lines["eval accuracy"]) >= 0.65, lines.get("blessing")  # measured: 0.71 on 77 pairs


def test_make_schema_pins_both_texts(sentence_pair_run):
    from google.protobuf import text_format

    with open(sentence_pair_run[0] / "schema" / "schema.pbtxt") as f:
        schema = text_format.Parse(f.read(), schema_pb2.Schema())
    features = {feature.name: feature for feature in schema.feature}
    for name in ("text", "text_pair"):
        assert features[name].presence.min_fraction == 1.0
        assert not features[name].HasField("domain") and not features[name].HasField("string_domain")
    assert features["label"].HasField("domain") or features["label"].HasField("string_domain")


def test_training_read_the_second_texts_token_type(pushed):
    """The token-type path through training: the embedding of token type 1 (the second text's) moved off its own
    direction. An embedding no token used gets no gradient, and weight decay only scales it (its residual below
    measured 1e-6 in a one-text run, 0.03 for type 0 there)."""
    from safetensors.numpy import load_file

    from pipeline import defaults

    weights = load_file(os.path.join(defaults.default_checkpoint_dir(), "model.safetensors"))
    before = next(v for k, v in weights.items() if k.endswith("token_type_embeddings.weight"))[1]
    after = tf.train.load_variable(os.path.join(pushed, "variables", "variables"),
                                   "encoder/_embeddings/token_type_embeddings.Sembeddings/.ATTRIBUTES/VARIABLE_VALUE")[1]
    off_direction = after - (after @ before) / (before @ before) * before
    assert np.linalg.norm(off_direction) / np.linalg.norm(before) > 1e-4


def test_serving_default_takes_both_texts_and_reads_the_second(model, eval_rows):
    serve = model.signatures[names.SERVING_DEFAULT]
    assert sorted(serve.structured_input_signature[1]) == [names.TEXT_INPUT, names.TEXT_PAIR_INPUT]
    texts, pairs = [row[0] for row in eval_rows], [row[1] for row in eval_rows]
    answers = serve(text=tf.constant(texts), text_pair=tf.constant(pairs))[names.PROBABILITIES].numpy()
    # The same first texts with their second texts rotated: the labels follow the second text.
    rotated = serve(text=tf.constant(texts), text_pair=tf.constant(pairs[1:] + pairs[:1]))[names.PROBABILITIES]
    assert answers.shape == (len(eval_rows), 2)
    assert np.abs(answers - rotated.numpy()).max() > 0.01
    # serving_tf_example (TFMA's and gRPC clients' way in) answers what serving_default answers.
    by_example = model.signatures[names.SERVING_TF_EXAMPLE](examples=_examples(eval_rows))[names.PROBABILITIES]
    np.testing.assert_allclose(by_example.numpy(), answers, atol=1e-6)


def test_the_served_graph_encodes_pairs_as_the_checkpoints_tokenizer(model, eval_rows, reference_tokenizer):
    """The eval pairs, and pairs cut by longest_first (one side, or both, longer than the limit)."""
    long_text = " ".join(row[0] for row in eval_rows[:6])
    rows = eval_rows + [(long_text, "short", "1"), ("short", long_text, "0"), (long_text, long_text[::-1], "1")]
    ours = model.signatures[names.TRANSFORM_FEATURES](examples=_examples(rows))
    reference = reference_tokenizer([row[0] for row in rows], [row[1] for row in rows], truncation="longest_first",
                                    max_length=MAX_SEQ_LENGTH, padding="max_length", return_tensors="np")
    for name in ("input_ids", "token_type_ids", "attention_mask"):
        np.testing.assert_array_equal(ours[name].numpy(), reference[name], err_msg=name)
    assert (reference["attention_mask"].sum(axis=1) == MAX_SEQ_LENGTH).sum() >= 3  # the cut pairs were cut


def test_the_warmup_requests_carry_pairs_and_run(model, pushed):
    requests = [record.predict_log.request for record in warmup.read(pushed)]
    text_requests = [r for r in requests if r.model_spec.signature_name == names.SERVING_DEFAULT]
    assert len(text_requests) == 2
    for request in text_requests:
        assert sorted(request.inputs) == [names.TEXT_INPUT, names.TEXT_PAIR_INPUT]
        inputs = {name: tf.constant(tf.make_ndarray(tensor)) for name, tensor in request.inputs.items()}
        assert model.signatures[names.SERVING_DEFAULT](**inputs)[names.PROBABILITIES].shape[0] == len(
            inputs[names.TEXT_INPUT])


def test_the_pipelines_scoring_step_scored_the_pairs_as_the_predict_cli_does(sentence_pair_run, pushed):
    directory = summary(sentence_pair_run[1].stdout)["scores"].split(" (")[0]
    rows = [row for shard in sorted(glob.glob(os.path.join(directory, "scores-*.csv")))
            for row in csv.DictReader(open(shard, encoding="utf-8", newline=""))]
    assert len(rows) == DROP_ROWS and list(rows[0])[:3] == ["id", "text", "text_pair"]
    classifier = predict.Classifier(pushed)
    expected = classifier.predict([row["text"] for row in rows], [row["text_pair"] for row in rows])
    for row, answer in zip(rows, expected):
        assert row["label"] == answer["label"]
        for name, probability in answer["probabilities"].items():
            assert abs(float(row[f"p_{name}"]) - probability) <= PROBABILITY_TOLERANCE


def test_the_predict_cli_takes_pairs_and_refuses_a_text_alone(pushed, model, tmp_path, capsys):
    assert predict.main(["--model", pushed, "--text", "late again", "--text-pair", "best crew ever"]) == 0
    (answer,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    served = model.signatures[names.SERVING_DEFAULT](text=tf.constant(["late again"]),
                                                     text_pair=tf.constant(["best crew ever"]))
    assert answer["text_pair"] == "best crew ever"
    np.testing.assert_allclose(list(answer["probabilities"].values()), served[names.PROBABILITIES].numpy()[0],
                               atol=PROBABILITY_TOLERANCE)

    source = tmp_path / "pairs.csv"
    source.write_text("q1,q2\nlate again,best crew ever\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert predict.main(["--model", pushed, "--input", str(source), "--text-column", "q1",
                         "--text-pair-column", "q2", "--output", str(out)]) == 0
    with open(out, encoding="utf-8", newline="") as f:
        (row,) = csv.DictReader(f)
    assert (row["text"], row["text_pair"], row["label"]) == ("late again", "best crew ever", answer["label"])

    capsys.readouterr()
    assert predict.main(["--model", pushed, "--text", "late again"]) == 2
    assert capsys.readouterr().err == (f"error: {pushed} classifies sentence pairs: give each text its second text "
                                       "(--text-pair, or --text-pair-column for a CSV or JSONL input)\n")


def test_pair_inputs_without_the_second_text_are_refused_before_anything_runs(tmp_path, capsys):
    data = tmp_path / "pairs.csv"
    data.write_text("text,text_pair,label\nlate again,best crew ever,positive\nfine, ,neutral\n", encoding="utf-8")
    assert run_refused(tmp_path, capsys, "--data", str(data), "--text-pair-column", "text_pair") == (
        f"schema {cli.configs.DEFAULT_SCHEMA} has no feature 'text_pair': regenerate it for this data with "
        "`make schema` (ARGS=\"--text-pair-column ...\" for a sentence pair)")
    schema = tmp_path / "schema.pbtxt"
    schema.write_text(open(cli.configs.DEFAULT_SCHEMA).read() + 'feature { name: "text_pair" type: BYTES }\n')
    flags = ["--schema", str(schema), "--text-pair-column"]
    assert run_refused(tmp_path, capsys, "--data", str(data), *flags, "text_pair") == (
        f"{data}, line 3: empty text in column 'text_pair': fill it or drop the row")
    assert run_refused(tmp_path, capsys, "--data", str(data), *flags, "question2") == (
        f"schema {schema} has no feature 'question2': regenerate it for this data with `make schema` "
        "(ARGS=\"--text-pair-column ...\" for a sentence pair)")
    schema.write_text(schema.read_text() + 'feature { name: "question2" type: BYTES }\n')
    assert run_refused(tmp_path, capsys, "--data", str(data), *flags, "question2") == (
        f"{data}: no column 'question2' in the header ['text', 'text_pair', 'label']: rename the column or "
        "pass --text-pair-column")
    assert run_refused(tmp_path, capsys, "--data", str(data), *flags, "text") == (
        "--text-pair-column 'text': name a column other than --text-column and --label-column")
