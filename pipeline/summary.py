"""What the last run produced, read back from ML Metadata: eval accuracy, blessing, pushed path."""
import dataclasses
import os
from typing import Any, Dict, Optional, Tuple

from ml_metadata.proto import metadata_store_pb2

from contracts import names, raw_data
from pipeline import configs
from reports import run_outputs
from serving import model_server_config


@dataclasses.dataclass
class RunSummary:
    run_id: str
    headline: Optional[Tuple[str, float]]  # ("accuracy", value) or a multi-label model's ("macro F1", value)
    blessed: bool
    pushed_path: Optional[str]
    cached_components: int
    executed_components: int
    span: Optional[int] = None  # for {SPAN} data: the span this run read
    started_from: Optional[str] = None  # the served model the training warm-started from, if any
    training: Optional[str] = None  # the epochs run, why training stopped, the epoch exported
    labels: Optional[str] = None  # models.config's version labels after the push
    blessing: Optional[str] = None  # why the model was or was not blessed
    scores: Optional[str] = None  # with --score-data: where the drop's scores went, or why there are none

    def lines(self):
        metric, value = self.headline or ("accuracy", None)
        yield f"run {self.run_id}: {self.executed_components} component(s) executed, {self.cached_components} cached"
        if self.span is not None:
            yield f"span: {self.span}"
        yield f"trained from: {self.started_from + ' (warm start)' if self.started_from else 'the checkpoint'}"
        if self.training:
            yield f"training: {self.training}"
        yield f"eval {metric}: {'n/a' if value is None else f'{value:.4f}'}"
        yield f"blessed: {'yes' if self.blessed else 'no'}"
        if self.blessing:
            yield f"blessing: {self.blessing}"
        yield f"pushed: {self.pushed_path or 'nothing (not blessed)'}"
        if self.labels:
            yield f"labels: {self.labels}"
        if self.scores:
            yield f"scores: {self.scores}"


def _hyperparameters(model: Optional[metadata_store_pb2.Artifact]) -> Dict[str, Any]:
    from tfx.utils import path_utils

    from model import export

    return export.read_hyperparameters(path_utils.serving_model_path(model.uri)) if model else {}


def _training(hyperparameters: Dict[str, Any]) -> Optional[str]:
    from model import validation

    return validation.outcome(hyperparameters)


def _blessing_reason(blessing: Optional[metadata_store_pb2.Artifact]) -> Optional[str]:
    """The BlessingGate's one line: its numbers, its rule, its verdict (components/blessing.py)."""
    decision = run_outputs.read_decision(blessing.uri) if blessing else None
    return decision["reason"] if decision else None


def _scores(scores: Optional[metadata_store_pb2.Artifact]) -> Optional[str]:
    if scores is None:
        return None
    rows = scores.custom_properties["scored"].int_value
    if not rows:
        return "nothing (nothing pushed)"
    return f"{scores.uri} ({rows} rows, model version {scores.custom_properties['model_version'].string_value})"


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
        run, executions, outputs = run_outputs.latest_run_outputs(run_outputs.open_store(config.metadata_path))
    except LookupError:
        return None
    if run.create_time_since_epoch < since * 1000:
        return None
    cached = sum(e.last_known_state == metadata_store_pb2.Execution.CACHED for e in executions)
    evaluation = outputs.get(names.EVALUATOR, {}).get(names.EVALUATION)
    blessing = outputs.get(names.BLESSING_GATE, {}).get(names.BLESSING)
    pushed = outputs.get(names.PUSHER, {}).get(names.PUSHED_MODEL)
    is_pushed = bool(pushed and pushed.custom_properties["pushed"].int_value)
    examples = outputs.get(names.CSV_EXAMPLE_GEN, {}).get(names.EXAMPLES)
    hyperparameters = _hyperparameters(outputs.get(names.TRAINER, {}).get(names.MODEL))
    return RunSummary(
        run_id=run.name,
        headline=run_outputs.headline_metric(evaluation.uri) if evaluation else None,
        blessed=bool(blessing and blessing.custom_properties["blessed"].int_value),
        pushed_path=pushed.custom_properties["pushed_destination"].string_value if is_pushed else None,
        cached_components=cached, executed_components=len(executions) - cached,
        span=examples.custom_properties["span"].int_value if examples and raw_data.SPAN_SPEC in config.data else None,
        started_from=hyperparameters.get("warm_started_from"), training=_training(hyperparameters),
        labels=serving_labels(os.path.dirname(config.serving_model_root)) if is_pushed else None,
        blessing=_blessing_reason(blessing),
        scores=_scores(outputs.get(names.BATCH_SCORING, {}).get("scores")))
