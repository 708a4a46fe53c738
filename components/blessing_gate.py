"""BlessingGate: the component that decides, unattended, whether the candidate replaces the model serving now.

Both models (the Trainer's candidate and the last blessed model, from the pipeline's baseline resolver)
classify every text of the eval split through their serving_default signature, the one TF Serving runs;
the task's label module judges the two sets of answers on its metric (tasks/judging.py: the rule). The
output is the ModelBlessing the Pusher and the baseline resolver read, with the properties TFX's Evaluator
would set (blessed, current and baseline model), BLESSED or NOT_BLESSED written as TFX's Evaluator does,
and decision.json: the numbers behind it.
TFMA's Evaluator still computes the reports' metrics; with no thresholds it blesses nothing.

A component rather than code in a runner, so that it runs wherever the pipeline runs (Vertex AI too).
"""
import json
import os
from typing import Dict, List, Optional, Tuple

import tensorflow as tf
from absl import logging
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import path_utils

import tasks
from contracts import layout, names, typed_settings
from contracts.text_columns import TextColumns
from tasks.judging import Decision, Rule

_BATCH = 256


def eval_examples(examples: standard_artifacts.Examples, columns: TextColumns, label_column: str
                  ) -> Tuple[Dict[str, List[str]], List[List[str]]]:
    """The eval split's texts ({column: texts}) and each one's labels (one, or a multi-label text's several),
    in file order."""
    files = tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], names.EVAL_SPLIT), "*"))
    texts, labels = {column: [] for column in columns.columns}, []
    for record in tf.data.TFRecordDataset(sorted(files), compression_type="GZIP"):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        for column, values in texts.items():
            values.append(feature[column].bytes_list.value[0].decode("utf-8"))
        labels.append([label.decode("utf-8") for label in feature[label_column].bytes_list.value])
    return texts, labels


def answers(model: standard_artifacts.Model, texts: Dict[str, List[str]], columns: TextColumns) -> List[str]:
    """The label the model's serving_default answers for each text (or pair)."""
    import tensorflow_text  # noqa: F401  (the graph tokenizer's ops, before the model loads)

    loaded = tf.saved_model.load(path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model)))
    serve = loaded.signatures[names.SERVING_DEFAULT]
    count = len(texts[columns.text])
    return [label.decode("utf-8") for start in range(0, count, _BATCH)
            for label in serve(**columns.feed({column: tf.constant(values[start:start + _BATCH])
                                               for column, values in texts.items()}))[names.LABEL].numpy()]


def _record(blessing_artifact: standard_artifacts.ModelBlessing, decision: Decision,
            model: standard_artifacts.Model, baseline: Optional[standard_artifacts.Model]) -> None:
    """What TFX's Evaluator records on its blessing, so that the Pusher and the LatestBlessedModel resolver
    read this one the same way; and decision.json."""
    blessing_artifact.set_int_custom_property("blessed", int(decision.blessed))
    blessing_artifact.set_string_custom_property("current_model", model.uri)
    blessing_artifact.set_int_custom_property("current_model_id", model.id)
    if baseline is not None:
        blessing_artifact.set_string_custom_property("baseline_model", baseline.uri)
        blessing_artifact.set_int_custom_property("baseline_model_id", baseline.id)
    with tf.io.gfile.GFile(os.path.join(blessing_artifact.uri, "BLESSED" if decision.blessed else "NOT_BLESSED"),
                           "w") as f:
        f.write("")
    with tf.io.gfile.GFile(os.path.join(blessing_artifact.uri, layout.BLESSING_DECISION), "w") as f:
        json.dump(decision.to_json(), f, indent=2)


@component
def BlessingGate(examples: InputArtifact[standard_artifacts.Examples],
                 model: InputArtifact[standard_artifacts.Model],
                 blessing: OutputArtifact[standard_artifacts.ModelBlessing],
                 rule: Parameter[str], task: Parameter[str],
                 baseline_model: InputArtifact[standard_artifacts.Model] = None) -> None:
    """rule: tasks/judging.Rule as JSON (pipeline/configs.py, blessing_rule); task: tasks.TaskSettings as JSON:
    the text columns both models read, and the label task that judges their answers."""
    settings = typed_settings.from_json(tasks.TaskSettings, task, "the BlessingGate's task")
    texts, labels = eval_examples(examples, settings.columns, settings.label_column)
    candidate = answers(model, texts, settings.columns)
    baseline = answers(baseline_model, texts, settings.columns) if baseline_model else None
    decision = tasks.label_task(settings).judge(labels, candidate, baseline,
                                                typed_settings.from_json(Rule, rule, "the BlessingGate's rule"))
    _record(blessing, decision, model, baseline_model)
    logging.info("Blessing: %s", decision.reason)
