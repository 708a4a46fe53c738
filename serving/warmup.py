"""Warm-up requests that TF Serving replays when it loads a version, before the version takes traffic.

Without them the first real requests pay for graph initialization (lookup tables, the tokenizer's
tables, memory pools): seconds instead of milliseconds. The file is a TFRecord of PredictionLog records at
<version>/assets.extra/tf_serving_warmup_requests; the Pusher builds it from real eval texts.
"""
import os
from typing import Dict, List, Mapping, Sequence

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from contracts import names
from contracts.text_columns import TextColumns

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
TEXT_SIGNATURE, EXAMPLE_SIGNATURE = names.SERVING_DEFAULT, names.SERVING_TF_EXAMPLE


def signature_inputs(saved_model_dir: str) -> Dict[str, List[str]]:
    """signature name -> its inputs' names, read from saved_model.pb (no model load)."""
    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    return {name: sorted(signature.inputs) for name, signature in saved_model.meta_graphs[0].signature_def.items()}


def _predict_log(model_name: str, signature: str, inputs: Mapping[str, Sequence[bytes]]):
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature),
        inputs={name: tf.make_tensor_proto(list(values), dtype=tf.string) for name, values in inputs.items()})
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def build_requests(saved_model_dir: str, model_name: str, texts: Mapping[str, Sequence[str]],
                   columns: TextColumns) -> List:
    """A single text (or pair) and the whole batch through the text signature, and the batch as
    tf.Examples; texts: {column: texts} for each of the model's text columns."""
    inputs = signature_inputs(saved_model_dir)
    if sorted(columns.inputs) != inputs[TEXT_SIGNATURE]:
        raise ValueError(f"{saved_model_dir}: {TEXT_SIGNATURE} takes {inputs[TEXT_SIGNATURE]}, not the inputs of "
                         f"the text columns {list(columns.columns)}")
    encoded = {column: [t.encode("utf-8") for t in values] for column, values in texts.items()}
    examples = [tf.train.Example(features=tf.train.Features(feature={
        column: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value])) for column, value in row.items()}))
        .SerializeToString() for row in (dict(zip(encoded, values)) for values in zip(*encoded.values()))]
    (example_input,) = inputs[EXAMPLE_SIGNATURE]
    return [_predict_log(model_name, TEXT_SIGNATURE, columns.feed({c: v[:1] for c, v in encoded.items()})),
            _predict_log(model_name, TEXT_SIGNATURE, columns.feed(encoded)),
            _predict_log(model_name, EXAMPLE_SIGNATURE, {example_input: examples})]


def write(saved_model_dir: str, records: Sequence) -> str:
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record.SerializeToString())
    return path


def read(saved_model_dir: str) -> List:
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy()) for record in tf.data.TFRecordDataset(path)]
