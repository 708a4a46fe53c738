"""What the last run produced, read back from ML Metadata: eval accuracy, blessing, pushed path."""
import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from pipeline import configs
from serving import model_server_config

RunOutputs = Dict[str, Dict[str, metadata_store_pb2.Artifact]]  # component class -> output key -> artifact


@dataclasses.dataclass
class RunSummary:
    run_id: str
    accuracy: Optional[float]
    blessed: bool
    pushed_path: Optional[str]
    cached_components: int
    executed_components: int
    span: Optional[int] = None  # for {SPAN} data: the span this run read
    started_from: Optional[str] = None  # the served model the training warm-started from, if any
    labels: Optional[str] = None  # models.config's version labels after the push

    def lines(self):
        accuracy = "n/a" if self.accuracy is None else f"{self.accuracy:.4f}"
        yield f"run {self.run_id}: {self.executed_components} component(s) executed, {self.cached_components} cached"
        if self.span is not None:
            yield f"span: {self.span}"
        yield f"trained from: {self.started_from + ' (warm start)' if self.started_from else 'the checkpoint'}"
        yield f"eval accuracy: {accuracy}"
        yield f"blessed: {'yes' if self.blessed else 'no'}"
        yield f"pushed: {self.pushed_path or 'nothing (not blessed)'}"
        if self.labels:
            yield f"labels: {self.labels}"


def open_store(config: configs.PipelineConfig) -> mlmd.MetadataStore:
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = config.metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return mlmd.MetadataStore(connection)


def latest_run_outputs(store: mlmd.MetadataStore, run_name: Optional[str] = None
                       ) -> Tuple[metadata_store_pb2.Context, List, RunOutputs]:
    """The latest run (or the run of that name), its executions (cached ones included) and their outputs."""
    runs = [c for c in store.get_contexts_by_type("pipeline_run") if run_name in (None, c.name)]
    if not runs:
        raise LookupError(f"no pipeline run {run_name or ''} recorded in ML Metadata")
    run = max(runs, key=lambda c: c.create_time_since_epoch)
    executions = store.get_executions_by_context(run.id)
    events = [e for e in store.get_events_by_execution_ids([e.id for e in executions])
              if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
    artifacts = {a.id: a for a in store.get_artifacts_by_id(sorted({e.artifact_id for e in events}))}
    component_of = execution_components(store, executions)
    outputs: RunOutputs = {}
    for event in events:
        outputs.setdefault(component_of[event.execution_id], {})[event.path.steps[0].key] = \
            artifacts[event.artifact_id]
    return run, executions, outputs


def execution_components(store: mlmd.MetadataStore, executions: List) -> Dict[int, str]:
    """Execution id -> the component class it ran (its execution type's last dotted part)."""
    execution_types = {t.id: t.name.rsplit(".", 1)[-1] for t in store.get_execution_types()}
    return {e.id: execution_types[e.type_id] for e in executions}


def overall_accuracy(evaluation_uri: str) -> Optional[float]:
    """The candidate's accuracy on the whole eval split (TFMA names it 'candidate' when a baseline exists)."""
    import tensorflow_model_analysis as tfma

    from components.evaluation import ACCURACY

    for metrics in tfma.load_metrics(evaluation_uri):
        if metrics.slice_key.single_slice_keys:
            continue
        for entry in metrics.metric_keys_and_values:
            if entry.key.name == ACCURACY and entry.key.model_name in ("", "candidate"):
                return entry.value.double_value.value
    return None


def _started_from(model: metadata_store_pb2.Artifact) -> Optional[str]:
    from tfx.utils import path_utils

    from components import model as classifier_model

    hyperparameters = classifier_model.read_hyperparameters(path_utils.serving_model_path(model.uri))
    return hyperparameters.get("warm_started_from")


def serving_labels(serving_dir: str) -> Optional[str]:
    """'stable=1, canary=2', and any loaded version no label names yet, with what to do about it."""
    path = os.path.join(serving_dir, model_server_config.CONFIG_FILE)
    if not os.path.exists(path):
        return None
    config = model_server_config.read(path)
    text = ", ".join(f"{k}={v}" for k, v in sorted(model_server_config.labels(config).items()))
    unlabeled = model_server_config.unlabeled_versions(serving_dir, config)
    if unlabeled:
        text += (f"; version {', '.join(map(str, unlabeled))} unlabeled until TF Serving has loaded it: "
                 "then `make canary`, or pass --serving-server")
    return text


def summarize(config: configs.PipelineConfig, since: float = 0) -> Optional[RunSummary]:
    """The latest run, or None when no run started after `since` (seconds since the epoch)."""
    if not os.path.exists(config.metadata_path):
        return None
    try:
        run, executions, outputs = latest_run_outputs(open_store(config))
    except LookupError:
        return None
    if run.create_time_since_epoch < since * 1000:
        return None
    cached = sum(e.last_known_state == metadata_store_pb2.Execution.CACHED for e in executions)
    evaluation = outputs.get("Evaluator", {}).get("evaluation")
    blessing = outputs.get("Evaluator", {}).get("blessing")
    pushed = outputs.get("ServingPusher", {}).get("pushed_model")
    is_pushed = bool(pushed and pushed.custom_properties["pushed"].int_value)
    examples = outputs.get("CsvExampleGen", {}).get("examples")
    model = outputs.get("Trainer", {}).get("model")
    return RunSummary(
        run_id=run.name,
        accuracy=overall_accuracy(evaluation.uri) if evaluation else None,
        blessed=bool(blessing and blessing.custom_properties["blessed"].int_value),
        pushed_path=pushed.custom_properties["pushed_destination"].string_value if is_pushed else None,
        cached_components=cached, executed_components=len(executions) - cached,
        span=examples.custom_properties["span"].int_value if examples and configs.SPAN_SPEC in config.data else None,
        started_from=_started_from(model) if model else None,
        labels=serving_labels(os.path.dirname(config.serving_model_root)) if is_pushed else None)
