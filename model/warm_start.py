"""Warm start: the Trainer begins from the weights of the model serving now instead of the checkpoint.

The newest version under the serving root is the latest blessed model: the Pusher writes only blessed
models there. The Trainer reads it from that path (in its config) rather than through TFX's `base_model`
input channel, for two reasons. An input channel fed by a LatestBlessedModel resolver changes each time
a model is blessed, so re-running with no new data would train again (and push a near-copy) instead of
being served from the cache. And the orchestrators differ in which resolvers they compile (Vertex AI:
LatestArtifact and LatestBlessedModel only), while a path reads the same everywhere, gs:// included.
Which model a training started from is recorded in the new model's hyperparameters.json.
"""
import os
from typing import Dict, List, Optional, Tuple

import tensorflow as tf
import tf_keras
from absl import logging

from contracts import layout
from model import encoder, export, head


def newest_model(serving_root: str) -> Optional[str]:
    versions = layout.versions(serving_root)
    return os.path.join(serving_root, str(versions[-1])) if versions else None


def _class_order(base_classes: List[str], class_names: List[str]) -> Tuple[Optional[List[int]], str]:
    """Where each of this training's classes sits in the base model's head, or why they do not match."""
    if sorted(base_classes) != sorted(class_names):
        return None, f"its classes {base_classes} differ from this data's {class_names}"
    return [base_classes.index(name) for name in class_names], ""


def saved_weights(model_dir: str) -> Dict[str, tf.Tensor]:
    """The pushed model's classifier weights by name. Models exported before the serving encoder kept the
    Keras variables themselves (`classifier_variables`): still read, so a schedule carries on across the upgrade."""
    import tensorflow_text  # noqa: F401  (the graph's tokenizer ops, needed to load it)

    saved = tf.saved_model.load(model_dir)
    if hasattr(saved, "encoder"):
        return saved.encoder.classifier_weights()
    return encoder.keras_weights(saved.classifier_variables)


def _label_task(hyperparameters: Dict) -> str:
    """The label task a pushed model answers (models pushed before tasks/ recorded only a label separator)."""
    return hyperparameters.get("task", {}).get("labels") or (
        "multi_label" if hyperparameters.get("label_separator") else "single_label")


def restore(classifier: tf_keras.Model, class_names: List[str], labels: str, serving_root: str) -> Optional[str]:
    """Loads the newest served model's weights into `classifier` (built from the checkpoint, under the
    training strategy's scope) when it answers the same label task (`labels`, tasks.LABEL_TASKS) over the same
    classes; returns that model's directory, or None when training starts cold."""
    base = newest_model(serving_root) if serving_root else None
    if base is None:
        logging.info("Cold start from the checkpoint: %s", "warm start is off" if not serving_root
                     else f"no model under {serving_root} yet")
        return None
    hyperparameters = export.read_hyperparameters(base)
    order, mismatch = _class_order(hyperparameters["class_names"], class_names)
    served_labels = _label_task(hyperparameters)
    if served_labels != labels:
        order, mismatch = None, f"it answers another label task ({served_labels}, not {labels})"
    saved = saved_weights(base)
    targets = encoder.keras_weights(classifier.variables)
    if order is not None and {name: v.shape for name, v in saved.items()} != {
            name: v.shape for name, v in targets.items()}:
        mismatch = "its weights have other names or shapes (another checkpoint)"
    if mismatch:
        logging.warning("Cold start from the checkpoint, not from %s: %s", base, mismatch)
        return None
    head_weights = {id(weight) for weight in classifier.get_layer(head.HEAD_LAYER).weights}
    for name, target in targets.items():
        value = tf.convert_to_tensor(saved[name])
        target.assign(tf.gather(value, order, axis=-1) if id(target) in head_weights else value)
    logging.info("Warm start from %s (the model serving now)", base)
    return base
