"""Which ops an exported SavedModel needs, and whether stock TensorFlow Serving has them all.

Stock TF Serving links core TensorFlow and a fixed set of TF Text ops (serving_config/
tf_serving_text_ops.txt); any other op fails at load time with "Op type not registered".
"""
import os
from typing import Set

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

SERVING_TEXT_OPS_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                     "serving_config", "tf_serving_text_ops.txt")


def graph_ops(saved_model_dir: str) -> Set[str]:
    """Every op type in the SavedModel: the graphs and every function in their libraries."""
    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    ops = set()
    for meta_graph in saved_model.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def serving_text_ops() -> Set[str]:
    with open(SERVING_TEXT_OPS_FILE) as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def unservable_ops(saved_model_dir: str) -> Set[str]:
    """Ops that neither core TensorFlow nor stock TF Serving's TF Text provide."""
    core = set(dir(tf.raw_ops))  # generated for core TensorFlow only; TF Text's ops are not in it
    return graph_ops(saved_model_dir) - core - serving_text_ops()
