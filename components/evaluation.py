"""The Evaluator's TFMA configuration: what is measured, overall and per slice, for the reports and the model
card. No thresholds: the blessing is components/blessing_gate.py's (TFX's Evaluator blesses nothing then)."""
import json

import tensorflow_model_analysis as tfma

from contracts import names
from preprocessing import features

MULTI_LABEL_METRICS = ("Precision", "Recall", "F1Score")
# The served model on tf.Examples, with Transform's labels (transform_features) as TFMA's labels.
_MODEL_SPEC = tfma.ModelSpec(signature_name=names.SERVING_TF_EXAMPLE,
                             preprocessing_function_names=[names.TRANSFORM_FEATURES],
                             label_key=features.LABEL_ID, prediction_key=names.PROBABILITIES)


def eval_config(label_column: str, multi_label_classes: int = 0) -> tfma.EvalConfig:
    """multi_label_classes: a multi-label model's number of labels; 0 for one class per text."""
    if multi_label_classes:
        return _multi_label_config(multi_label_classes)
    return tfma.EvalConfig(
        model_specs=[_MODEL_SPEC],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[label_column])],
        metrics_specs=[
            tfma.MetricsSpec(metrics=[
                # Per class slice, a class's accuracy is its recall.
                tfma.MetricConfig(class_name="SparseCategoricalAccuracy"),
                tfma.MetricConfig(class_name="ExampleCount"),
                # The argmax (served label) confusion matrix: the reports derive per-class precision,
                # recall and F1 from it. TFMA's own per-class Precision/Recall binarize at probability 0.5,
                # which is not what the served label does.
                tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
            ]),
        ])


def _multi_label_config(classes: int) -> tfma.EvalConfig:
    """Each label's precision, recall and F1 (its probability above the served threshold), their macro
    average (the blessing's metric) and micro average. Transform's labels are a 0/1 row per text
    (model/export.py, transform_features). No slice per label: a text is in several."""
    binarize = tfma.BinarizationOptions(class_ids={"values": list(range(classes))})
    weights = dict.fromkeys(range(classes), 1.0)
    served_threshold = json.dumps({"thresholds": names.MULTI_LABEL_THRESHOLD})

    def spec(**average):
        return tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name=name, config=served_threshold)
                                         for name in MULTI_LABEL_METRICS],
                                binarize=binarize, aggregate=tfma.AggregationOptions(**average, class_weights=weights))

    return tfma.EvalConfig(
        model_specs=[_MODEL_SPEC],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount")]),
                       spec(macro_average=True), spec(micro_average=True)])
