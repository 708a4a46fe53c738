"""Picks the tf.distribute strategy and precision policy for the machine the Trainer runs on."""
import json
import os

import tensorflow as tf
import tf_keras


def choose_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirrored when TF_CONFIG names several workers, Mirrored over the visible GPUs when
    there are several, the default strategy otherwise (one GPU or the CPU)."""
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    if sum(len(cluster.get(role, [])) for role in ("chief", "worker")) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def set_precision_policy(requested: str) -> str:
    """'auto' means mixed_float16 on a GPU (with Keras' loss scaling) and float32 on the CPU."""
    if requested == "auto":
        requested = "mixed_float16" if tf.config.list_logical_devices("GPU") else "float32"
    elif requested == "off":
        requested = "float32"
    tf_keras.mixed_precision.set_global_policy(requested)
    return requested
