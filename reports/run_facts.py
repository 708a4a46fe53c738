"""What a run's report shows, read from its artifacts in ML Metadata: plain numbers, no HTML.

Each section is read from the artifacts the run produced (cached ones included) and is None when the run
did not get that far (a run stopped by the anomalies gate still has its data section).
"""
import glob
import json
import math
import os
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2

import tasks
from contracts import names, typed_settings
from contracts.text_columns import TextColumns
from preprocessing.settings import TransformSettings
from reports import run_outputs

TOKEN_SAMPLE = 50_000  # texts per split the token statistics read; the first ones, in file order
HISTOGRAM_EDGES = list(range(0, 129, 4))  # word pieces per text, [CLS] and [SEP] included; the last bin is open
EXAMPLE_PREDICTIONS = 6


def properties(execution_or_artifact, name: str) -> Any:
    """A property's value, parsed when it is JSON (TFX stores custom_config and protos as JSON strings)."""
    for source in (execution_or_artifact.properties, execution_or_artifact.custom_properties):
        if name in source:
            value = source[name]
            field = value.WhichOneof("value")
            raw = getattr(value, field)
            if field == "string_value":
                try:
                    return json.loads(raw)
                except ValueError:
                    return raw
            return raw
    return None


def split_uris(artifact: metadata_store_pb2.Artifact) -> Dict[str, str]:
    return {name: os.path.join(artifact.uri, f"Split-{name}") for name in properties(artifact, "split_names")}


def executions_table(store, executions: List) -> List[Dict[str, Any]]:
    components = run_outputs.execution_components(store, executions)
    states = metadata_store_pb2.Execution.State.Name
    return [{"component": components[e.id], "state": states(e.last_known_state).lower(),
             "seconds": (e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000}
            for e in sorted(executions, key=lambda e: e.create_time_since_epoch)]


# Data -----------------------------------------------------------------------------------------------------

def _feature_name(feature) -> str:
    return feature.path.step[0] if feature.path.step else feature.name


def feature_rows(statistics) -> List[Dict[str, Any]]:
    """One row per feature of a split's TFDV statistics: the numbers of TFDV's own overview."""
    rows = []
    for feature in statistics.features:
        kind = feature.WhichOneof("stats")
        common = (feature.string_stats.common_stats if kind == "string_stats" else feature.num_stats.common_stats)
        row = {"name": _feature_name(feature),
               "type": {0: "INT", 1: "FLOAT", 2: "STRING", 3: "BYTES", 4: "STRUCT"}.get(feature.type, "?"),
               "present": common.num_non_missing, "missing": common.num_missing}
        if kind == "string_stats":
            top = feature.string_stats.top_values[0] if feature.string_stats.top_values else None
            row.update(unique=feature.string_stats.unique, avg_length=feature.string_stats.avg_length,
                       top=f"{top.value} ({int(top.frequency)})" if top else "")
        else:
            row.update(mean=feature.num_stats.mean, std=feature.num_stats.std_dev,
                       min=feature.num_stats.min, max=feature.num_stats.max)
        rows.append(row)
    return rows


def label_counts(statistics, label_column: str) -> Dict[str, int]:
    for feature in statistics.features:
        if _feature_name(feature) == label_column:
            buckets = feature.string_stats.rank_histogram.buckets
            return {b.label: int(b.sample_count) for b in buckets}
    return {}


def anomalies_by_split(anomalies: Optional[metadata_store_pb2.Artifact]) -> Dict[str, List[str]]:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    found = {}
    for split, uri in (split_uris(anomalies) if anomalies else {}).items():
        path = os.path.join(uri, "SchemaDiff.pb")
        if tf.io.gfile.exists(path):
            report = anomalies_pb2.Anomalies.FromString(tf.io.gfile.GFile(path, "rb").read())
            found[split] = [f"{name}: {info.short_description}: {info.description}"
                            for name, info in sorted(report.anomaly_info.items())]
            found[split] += [f"dataset: {r.short_description}: {r.description}"
                             for r in report.dataset_anomaly_info.reason]
    return found


def read_texts(split_uri: str, columns: TextColumns, limit: int) -> Dict[str, List[str]]:
    """The texts of the split's first `limit` examples, {column: texts} for each text column."""
    files = sorted(tf.io.gfile.glob(os.path.join(split_uri, "*")))
    records = tf.data.TFRecordDataset(files, compression_type="GZIP").take(limit)
    features = [tf.train.Example.FromString(r.numpy()).features.feature for r in records]
    return {column: [feature[column].bytes_list.value[0].decode("utf-8", "replace") for feature in features]
            for column in columns.columns}


def wordpiece_tokenizer(checkpoint_dir: str):
    """The Transform graph's tokenizer for the checkpoint and its [UNK] id (building it takes seconds: once)."""
    from preprocessing import checkpoint, tokenize

    spec = tokenize.load_wordpiece_spec(checkpoint.local_dir(checkpoint_dir))
    with open(spec.vocab_file, encoding="utf-8") as f:
        unk_id = [line.rstrip("\n") for line in f].index(spec.unk_token)
    return tokenize.BertGraphTokenizer(spec), unk_id


def token_statistics(texts: Dict[str, List[str]], tokenizer, unk_id: int, shape: tasks.InputShape) -> Dict[str, Any]:
    """Word pieces per example ({column: texts}: a text, or a pair's two) as the Transform graph's tokenizer
    counts them, before truncation, [CLS] and each text's [SEP] included, and what the input shape makes of
    them (truncated, or the windows per text)."""
    count = len(next(iter(texts.values())))
    lengths, unknown, pieces = np.full(count, 1 + len(texts)), 0, 0
    for column_texts in texts.values():
        for start in range(0, count, 1024):
            ids = tokenizer.tokenize(tf.constant(column_texts[start:start + 1024]))
            lengths[start:start + 1024] += ids.row_lengths().numpy()
            unknown += int(tf.reduce_sum(tf.cast(ids.flat_values == unk_id, tf.int64)))
            pieces += int(tf.size(ids.flat_values))
    return {"texts": count, "lengths": lengths.tolist(), "mean": float(lengths.mean()),
            "p95": float(np.percentile(lengths, 95)), "max": int(lengths.max()),
            "max_seq_length": shape.settings.max_seq_length, "unk_rate": unknown / max(pieces, 1),
            "columns": shape.length_columns(lengths), "note": shape.length_note()}


def data_section(outputs: run_outputs.RunOutputs, settings: TransformSettings) -> Optional[Dict[str, Any]]:
    """settings: Transform's (its checkpoint's tokenizer, the task's columns and input shape)."""
    import tensorflow_data_validation as tfdv

    statistics = outputs.get(names.STATISTICS_GEN, {}).get(names.STATISTICS)
    examples = outputs.get(names.CSV_EXAMPLE_GEN, {}).get(names.EXAMPLES)
    if not statistics or not examples:
        return None
    tokenizer, unk_id = wordpiece_tokenizer(settings.checkpoint_dir)
    task = settings.task
    splits = {}
    for split, uri in split_uris(statistics).items():
        stats = tfdv.load_stats_binary(os.path.join(uri, "FeatureStats.pb")).datasets[0]
        splits[split] = {"examples": int(stats.num_examples), "features": feature_rows(stats),
                         "labels": label_counts(stats, task.label_column)}
        texts = read_texts(split_uris(examples)[split], task.columns, TOKEN_SAMPLE)
        splits[split]["tokens"] = token_statistics(texts, tokenizer, unk_id, tasks.input_shape(task))
    return {"examples_uri": examples.uri, "splits": splits,
            "anomalies": anomalies_by_split(outputs.get(names.EXAMPLE_VALIDATOR, {}).get(names.ANOMALIES))}


def model_task(hyperparameters: Dict[str, Any]) -> tasks.TaskSettings:
    """The task a model was trained for, as its hyperparameters.json records it."""
    return typed_settings.from_dict(tasks.TaskSettings, hyperparameters["task"], "hyperparameters.json task")


def task_sentences(hyperparameters: Dict[str, Any], eval_examples: int) -> Dict[str, str]:
    """What the report and the model card say of the model's task: its label task's and input shape's words."""
    task = model_task(hyperparameters)
    labels, shape = tasks.label_task(task), tasks.input_shape(task)
    return {"task": labels.card_task(hyperparameters["class_names"], hyperparameters), "output": labels.card_output(),
            "input": shape.card_input(), "limitation": shape.card_limitation(), "per_class": labels.per_class_heading,
            "total": labels.label_total_heading, "evaluation": labels.evaluation_note(hyperparameters, eval_examples)}


# Training -------------------------------------------------------------------------------------------------

def scalars(log_dir: str) -> Dict[str, List[List[float]]]:
    """tag -> [[step, value], ...] from the TensorBoard event files under log_dir (train/, validation/)."""
    curves: Dict[str, List[List[float]]] = {}
    for path in sorted(tf.io.gfile.glob(os.path.join(log_dir, "*", "events.out.tfevents.*"))):
        prefix = os.path.basename(os.path.dirname(path))
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.HasField("tensor") and value.metadata.plugin_data.plugin_name == "scalars":
                    curves.setdefault(f"{prefix}/{value.tag}", []).append(
                        [event.step, float(tf.make_ndarray(value.tensor))])
    return {tag: sorted(points) for tag, points in curves.items()}


def training_section(outputs: run_outputs.RunOutputs) -> Optional[Dict[str, Any]]:
    from tfx.utils import path_utils

    from model import export, validation

    trained = outputs.get(names.TRAINER, {})
    if names.MODEL not in trained:
        return None
    hyperparameters = export.read_hyperparameters(path_utils.serving_model_path(trained[names.MODEL].uri))
    return {"model_uri": trained[names.MODEL].uri, "log_dir": trained["model_run"].uri,
            "curves": scalars(trained["model_run"].uri), "hyperparameters": hyperparameters,
            "outcome": validation.outcome(hyperparameters)}


# Evaluation -----------------------------------------------------------------------------------------------

def _metric_entries(evaluation_uri: str):
    """(slice, model name, metric name, class id or None, is_diff, value) for every scalar metric."""
    import tensorflow_model_analysis as tfma

    for metrics in tfma.load_metrics(evaluation_uri):
        slice_name = ", ".join(f"{k.column}={k.bytes_value.decode() or k.int64_value or k.float_value}"
                               for k in metrics.slice_key.single_slice_keys) or "overall"
        for entry in metrics.metric_keys_and_values:
            if not entry.value.HasField("double_value"):
                continue
            key = entry.key
            class_id = key.sub_key.class_id.value if key.sub_key.HasField("class_id") else None
            name = (f"{key.name} (macro)" if key.aggregation_type.macro_average else
                    f"{key.name} (micro)" if key.aggregation_type.micro_average else key.name)
            yield (slice_name, key.model_name or "candidate", name, class_id, key.is_diff,
                   entry.value.double_value.value)


def confusion_matrix(evaluation_uri: str, num_classes: int, model: str = "candidate") -> List[List[int]]:
    """Rows: true class; columns: predicted class; the model (candidate or baseline) on the whole eval split."""
    import tensorflow_model_analysis as tfma

    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for plots in tfma.load_plots(evaluation_uri):
        if plots.slice_key.single_slice_keys:
            continue
        for entry in plots.plot_keys_and_values:
            if (entry.key.model_name or "candidate") != model:
                continue
            # The lowest threshold's matrix is the argmax prediction's (TFMA's default: threshold 0 only).
            at_lowest = min(entry.value.multi_class_confusion_matrix_at_thresholds.matrices,
                            key=lambda m: m.threshold)
            for cell in at_lowest.entries:
                if cell.predicted_class_id >= 0:  # -1: no class above the threshold
                    matrix[cell.actual_class_id, cell.predicted_class_id] += round(cell.num_weighted_examples)
    return matrix.tolist()


def evaluation_metrics(evaluation_uri: str, class_names: List[str]) -> Dict[str, Any]:
    """The candidate's metrics on the eval split: overall, per class, per slice, and the baseline's beside.
    A multi-label model's per-label precision, recall and F1 are TFMA's (the label task's metrics); it has
    no confusion matrix (empty). A score of no answers (the precision of a label never answered: TFMA's NaN)
    counts 0, as scikit-learn's zero_division=0 and the single-label table count it, and the macro averages
    are taken over those."""
    overall, per_slice, baseline, diff, per_label = {}, {}, {}, {}, {}
    for slice_name, model_name, name, class_id, is_diff, value in _metric_entries(evaluation_uri):
        if class_id is not None:
            if slice_name == "overall" and model_name == "candidate" and not is_diff:
                per_label.setdefault(class_names[class_id], {})[name] = 0.0 if math.isnan(value) else value
        elif slice_name != "overall":
            if name == names.ACCURACY and model_name == "candidate" and not is_diff:
                per_slice[slice_name] = value
        elif is_diff:
            diff[name] = value
        elif model_name == "baseline":
            baseline[name] = value
        else:
            overall[name] = value
    per_class, confusion = per_label, []
    if per_label:
        overall.update(macro_scores(per_label))
    else:  # one class per text: the served label's scores, from the argmax confusion matrix
        confusion = confusion_matrix(evaluation_uri, len(class_names))
        per_class = per_class_scores(confusion, class_names)
        overall.update(macro_scores(per_class))
        if baseline:
            baseline.update(macro_scores(per_class_scores(
                confusion_matrix(evaluation_uri, len(class_names), "baseline"), class_names)))
            diff.update({name: overall[name] - baseline[name] for name in macro_scores(per_class)})
    headline = (("macro F1", overall[f"{names.F1_SCORE} (macro)"]) if per_label else
                ("accuracy", overall[names.ACCURACY]))
    return {"uri": evaluation_uri, "overall": overall, "per_class": per_class, "per_slice": per_slice,
            "baseline": baseline, "diff": diff, "class_names": class_names, "confusion": confusion,
            "headline": headline}


def macro_scores(per_class: Dict[str, Dict[str, float]]) -> Dict[str, float]:
    return {f"{name} (macro)": float(np.mean([scores[name] for scores in per_class.values()]))
            for name in ("precision", "recall", "f1_score")}


def per_class_scores(confusion: List[List[int]], class_names: List[str]) -> Dict[str, Dict[str, float]]:
    """Precision, recall and F1 of the served label (the argmax), per class, from the confusion matrix."""
    matrix = np.array(confusion, dtype=np.float64)
    scores = {}
    for i, name in enumerate(class_names):
        precision = matrix[i, i] / matrix[:, i].sum() if matrix[:, i].sum() else 0.0
        recall = matrix[i, i] / matrix[i].sum() if matrix[i].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = {"precision": float(precision), "recall": float(recall), "f1_score": float(f1)}
    return scores


def evaluation_section(outputs: run_outputs.RunOutputs, class_names: List[str]) -> Optional[Dict[str, Any]]:
    """TFMA's metrics, and the BlessingGate's decision with the numbers behind it."""
    evaluated = outputs.get(names.EVALUATOR, {})
    if names.EVALUATION not in evaluated:
        return None
    metrics = evaluation_metrics(evaluated[names.EVALUATION].uri, class_names)
    blessing = outputs.get(names.BLESSING_GATE, {}).get(names.BLESSING)
    decision = run_outputs.read_decision(blessing.uri) if blessing else None
    return {**metrics, "blessed": bool(decision and decision["blessed"]), "decision": decision}


# Serving --------------------------------------------------------------------------------------------------

def signatures(model_dir: str) -> Dict[str, Dict[str, List[str]]]:
    from tensorflow.python.tools import saved_model_utils

    meta_graph = saved_model_utils.get_meta_graph_def(model_dir, "serve")
    describe = lambda tensors: [f"{name}: {tf.dtypes.as_dtype(t.dtype).name} "
                                f"{[d.size for d in t.tensor_shape.dim]}" for name, t in sorted(tensors.items())]
    return {name: {"inputs": describe(sig.inputs), "outputs": describe(sig.outputs)}
            for name, sig in sorted(meta_graph.signature_def.items()) if not name.startswith("__")}


def directory_bytes(path: str) -> int:
    return sum(os.path.getsize(f) for f in glob.glob(os.path.join(path, "**"), recursive=True) if os.path.isfile(f))


def predictions(model_dir: str, texts: Dict[str, List[str]], columns: TextColumns) -> List[Dict[str, Any]]:
    """The model's answers for eval texts ({column: texts}); a pair shows as "a [SEP] b"."""
    serve = tf.saved_model.load(model_dir).signatures[names.SERVING_DEFAULT]
    out = serve(**columns.feed({column: tf.constant(values) for column, values in texts.items()}))
    shown = [" [SEP] ".join(row) for row in zip(*(texts[column] for column in columns.columns))]
    return [{"text": text, "label": label.decode(), "probability": float(max(probabilities))}
            for text, label, probabilities in zip(shown, out[names.LABEL].numpy(), out[names.PROBABILITIES].numpy())]


def serving_section(outputs: run_outputs.RunOutputs, eval_texts: Dict[str, List[str]], columns: TextColumns
                    ) -> Optional[Dict[str, Any]]:
    pushed = outputs.get(names.PUSHER, {}).get(names.PUSHED_MODEL)
    if not pushed or not properties(pushed, "pushed"):
        return None
    path = properties(pushed, "pushed_destination")
    return {"path": path, "version": str(properties(pushed, "pushed_version")), "signatures": signatures(path),
            "bytes": directory_bytes(path),
            "predictions": predictions(path, {c: texts[:EXAMPLE_PREDICTIONS] for c, texts in eval_texts.items()},
                                       columns)}
