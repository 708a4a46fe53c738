"""A pipeline run read back from ML Metadata: its executions and the artifacts they output, by component.
Shared by the run summary (pipeline/summary.py), the run report and the benchmarks."""
import dataclasses
import json
import os
from typing import Dict, Iterator, List, Optional, Tuple

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from contracts import layout, names

RunOutputs = Dict[str, Dict[str, metadata_store_pb2.Artifact]]  # component class -> output key -> artifact


@dataclasses.dataclass(frozen=True)
class OutputsDir:
    """A pipeline's --outputs-dir, laid out as contracts/layout.py says."""

    outputs_dir: str
    pipeline_name: str = layout.DEFAULT_PIPELINE_NAME

    @property
    def metadata_path(self) -> str:
        return layout.metadata_path(self.outputs_dir, self.pipeline_name)

    @property
    def reports_dir(self) -> str:
        return layout.reports_dir(self.outputs_dir)


def open_store(metadata_path: str) -> mlmd.MetadataStore:
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
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


def read_decision(blessing_uri: str) -> Optional[Dict]:
    """The BlessingGate's decision.json in its ModelBlessing (components/blessing.py's Decision), if any."""
    import tensorflow as tf  # gfile: the artifact may be on gs://

    path = os.path.join(blessing_uri, layout.BLESSING_DECISION)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def overall_accuracy(evaluation_uri: str, model: str = "candidate") -> Optional[float]:
    """A model's accuracy on the whole eval split: the candidate's (TFMA names it 'candidate' when a baseline
    exists, '' when not) or the baseline's (None without one, or for a multi-label model)."""
    return dict(_overall_headlines(evaluation_uri, model)).get("accuracy")


def headline_metric(evaluation_uri: str) -> Optional[Tuple[str, float]]:
    """The candidate's headline figure on the whole eval split: ("accuracy", value), or ("macro F1", value)
    for a multi-label model (components/evaluation.py)."""
    return next(_overall_headlines(evaluation_uri, "candidate"), None)


def _overall_headlines(evaluation_uri: str, model: str) -> Iterator[Tuple[str, float]]:
    import tensorflow_model_analysis as tfma

    model_names = ("", "candidate") if model == "candidate" else (model,)
    for metrics in tfma.load_metrics(evaluation_uri):
        if metrics.slice_key.single_slice_keys:
            continue
        for entry in metrics.metric_keys_and_values:
            key = entry.key
            if key.model_name not in model_names or key.is_diff or key.HasField("sub_key"):
                continue
            if key.name == names.ACCURACY:
                yield "accuracy", entry.value.double_value.value
            elif key.name == names.F1_SCORE and key.aggregation_type.macro_average:
                yield "macro F1", entry.value.double_value.value
