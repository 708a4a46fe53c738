"""Warm-up requests that TF Serving replays when it loads a version, before the version takes traffic.

Without them the first real requests pay for graph initialization (lookup tables, the tokenizer's
tables, memory pools): seconds instead of milliseconds. The file is a TFRecord of PredictionLog records at
<version>/assets.extra/tf_serving_warmup_requests; the Pusher builds it from real eval texts.
"""
import os
from typing import Dict, List, Sequence

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from contracts import names

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
TEXT_SIGNATURE, EXAMPLE_SIGNATURE = names.SERVING_DEFAULT, names.SERVING_TF_EXAMPLE


def signature_inputs(saved_model_dir: str) -> Dict[str, str]:
    """signature name -> its single input's name, read from saved_model.pb (no model load)."""
    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    signatures = saved_model.meta_graphs[0].signature_def
    return {name: next(iter(signature.inputs)) for name, signature in signatures.items()
            if len(signature.inputs) == 1}


def _predict_log(model_name: str, signature: str, input_name: str, values: Sequence[bytes]):
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature),
        inputs={input_name: tf.make_tensor_proto(list(values), dtype=tf.string)})
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def build_requests(saved_model_dir: str, model_name: str, texts: Sequence[str], text_column: str) -> List:
    """A single text and the whole batch through the text signature, and the batch as tf.Examples."""
    inputs = signature_inputs(saved_model_dir)
    encoded = [t.encode("utf-8") for t in texts]
    examples = [tf.train.Example(features=tf.train.Features(feature={
        text_column: tf.train.Feature(bytes_list=tf.train.BytesList(value=[t]))})).SerializeToString()
        for t in encoded]
    return [_predict_log(model_name, TEXT_SIGNATURE, inputs[TEXT_SIGNATURE], encoded[:1]),
            _predict_log(model_name, TEXT_SIGNATURE, inputs[TEXT_SIGNATURE], encoded),
            _predict_log(model_name, EXAMPLE_SIGNATURE, inputs[EXAMPLE_SIGNATURE], examples)]


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
