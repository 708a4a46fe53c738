"""Warm start from the served model, on the model the shared small run pushed (conftest.first_run)."""
import os

import numpy as np
import tensorflow as tf

from contracts import features
from model import export, keras_classifier, training, warm_start

TEXTS = ["what a great flight, thank you!", "worst customer service ever", "my flight is at 6pm"]


def test_restore_loads_the_served_weights_in_this_datas_class_order(pushed_model, checkpoint_dir):
    """The head's columns follow the label vocabulary, whose order may change from one span to the next:
    restored with the classes in reverse, the classifier answers what the served model answers, reversed."""
    class_names = export.read_hyperparameters(pushed_model)["class_names"]
    classifier = keras_classifier.load_classifier(checkpoint_dir, len(class_names))
    served_root = os.path.dirname(pushed_model)
    assert warm_start.restore(classifier, class_names[::-1], "single_label", served_root) == pushed_model

    served = tf.saved_model.load(pushed_model)
    examples = [tf.train.Example(features=tf.train.Features(feature={
        "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()])),
        "label": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"neutral"]))})).SerializeToString()
        for text in TEXTS]
    transformed = served.signatures["transform_features"](examples=tf.constant(examples))
    logits = classifier({name: transformed[name] for name in features.MODEL_INPUTS}, training=False)
    expected = served.signatures["serving_default"](text=tf.constant(TEXTS))["probabilities"].numpy()
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), expected[:, ::-1], atol=1e-5)


def test_cold_start_when_nothing_serves_or_the_classes_or_the_label_task_differ(pushed_model, checkpoint_dir,
                                                                                 tmp_path):
    classifier = keras_classifier.load_classifier(checkpoint_dir, 3)
    untouched = training.weights_digest(classifier)
    classes, served_root = ["negative", "neutral", "positive"], os.path.dirname(pushed_model)
    assert warm_start.restore(classifier, classes, "single_label", str(tmp_path / "empty")) is None
    assert warm_start.restore(classifier, classes, "single_label", "") is None  # --no-warm-start
    assert warm_start.restore(classifier, ["spam", "ham", "eggs"], "single_label", served_root) is None
    # The same class names as labels of a multi-label task: a softmax head is no start for sigmoid answers.
    assert warm_start.restore(classifier, classes, "multi_label", served_root) is None
    assert training.weights_digest(classifier) == untouched
