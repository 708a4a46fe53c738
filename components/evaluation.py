"""The Evaluator's TFMA configuration: what is measured, overall and per slice, for the reports and the model
card. No thresholds: the blessing is components/blessing_gate.py's (TFX's Evaluator blesses nothing then)."""
import tensorflow_model_analysis as tfma

from contracts import names
from preprocessing import features


def eval_config(label_column: str) -> tfma.EvalConfig:
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name=names.SERVING_TF_EXAMPLE, preprocessing_function_names=[names.TRANSFORM_FEATURES],
            label_key=features.LABEL_ID, prediction_key=names.PROBABILITIES)],
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
