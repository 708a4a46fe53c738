"""The Evaluator's TFMA configuration: what is measured, per slice, and what it takes to be blessed."""
import tensorflow_model_analysis as tfma

from contracts import names
from preprocessing import features


def eval_config(label_column: str, accuracy_floor: float,
                regression_tolerance: float) -> tfma.EvalConfig:
    """Blessed when accuracy >= the floor and, if a blessed baseline exists, no more than
    `regression_tolerance` below it. On the first run there is no baseline and only the floor applies."""
    accuracy_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": accuracy_floor}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -regression_tolerance}))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name=names.SERVING_TF_EXAMPLE, preprocessing_function_names=[names.TRANSFORM_FEATURES],
            label_key=features.LABEL_ID, prediction_key=names.PROBABILITIES)],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[label_column])],
        metrics_specs=[
            tfma.MetricsSpec(metrics=[
                # Gate on the overall slice only: a per-class slice's accuracy is that class's recall.
                tfma.MetricConfig(class_name="SparseCategoricalAccuracy", per_slice_thresholds=[
                    tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()],
                                                 threshold=accuracy_threshold)]),
                tfma.MetricConfig(class_name="ExampleCount"),
                # The argmax (served label) confusion matrix: the reports derive per-class precision,
                # recall and F1 from it. TFMA's own per-class Precision/Recall binarize at probability 0.5,
                # which is not what the served label does.
                tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
            ]),
        ])
