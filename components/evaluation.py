"""The Evaluator's TFMA configuration: what is measured, overall and per slice, for the reports and the model
card; which metrics, the label task's (tasks/). No thresholds: the blessing is components/blessing_gate.py's
(TFX's Evaluator blesses nothing then)."""
import tensorflow_model_analysis as tfma

import tasks
from contracts import features, names


def eval_config(task: tasks.TaskSettings, classes: int) -> tfma.EvalConfig:
    """classes: the schema's label domain's size, which per-class metrics need before the run."""
    label_task = tasks.label_task(task)
    # The served model on tf.Examples, with Transform's labels (transform_features) as TFMA's labels.
    model_spec = tfma.ModelSpec(signature_name=names.SERVING_TF_EXAMPLE,
                                preprocessing_function_names=[names.TRANSFORM_FEATURES],
                                label_key=features.LABEL_ID, prediction_key=label_task.tfma_prediction_key)
    metrics_specs, slicing_specs = label_task.tfma_metrics(task.label_column, classes)
    return tfma.EvalConfig(model_specs=[model_spec], slicing_specs=slicing_specs, metrics_specs=metrics_specs)
