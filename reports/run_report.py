"""The run report: one self-contained HTML page per pipeline run, <outputs>/reports/<run>/index.html.

Written by the runners at the end of every run (failed ones too: the page shows how far the run got);
for any past run recorded in ML Metadata:

    python -m reports.run_report --outputs-dir outputs [--run RUN_ID | --list]
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
from typing import Any, Dict, Optional

from contracts import layout, names
from preprocessing.settings import TransformSettings
from reports import plots, rendering, run_facts, run_outputs
from reports.run_outputs import OutputsDir

RUN_RECORD = "run.json"  # what only the runner knew: command line, commit, versions, outcome


def report_dir(config: OutputsDir, run_name: str) -> str:
    return os.path.join(config.reports_dir, re.sub(r"[^A-Za-z0-9._-]", "-", run_name))


def code_commit() -> str:
    """The project's git commit, '+changes' when the work tree differs from it."""
    try:
        git = lambda *args: subprocess.run(["git", "-C", layout.PROJECT_DIR, *args], capture_output=True,
                                           text=True, check=True, timeout=10).stdout.strip()
        return git("rev-parse", "HEAD") + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def installed_versions() -> Dict[str, str]:
    from importlib import metadata

    packages = ("tfx", "tensorflow", "tensorflow-transform", "tensorflow-model-analysis",
                "tensorflow-data-validation", "apache-beam", "transformers")
    return {"python": sys.version.split()[0], **{p: metadata.version(p) for p in packages}}


def write_run_record(config: OutputsDir, run_name: str, record: Dict[str, Any]) -> None:
    os.makedirs(report_dir(config, run_name), exist_ok=True)
    record = {"commit": code_commit(), "versions": installed_versions(), **record}
    with open(os.path.join(report_dir(config, run_name), RUN_RECORD), "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)


def _read_run_record(config: OutputsDir, run_name: str) -> Optional[Dict[str, Any]]:
    path = os.path.join(report_dir(config, run_name), RUN_RECORD)
    return json.load(open(path)) if os.path.exists(path) else None


def _settings(transform_config: Optional[Dict[str, Any]], record: Optional[Dict[str, Any]]
              ) -> Optional[TransformSettings]:
    """What the data section needs: Transform's settings, or the runner's record of them when the run stopped
    before Transform (the anomalies gate, say)."""
    values = transform_config or (record or {}).get("transform")
    return TransformSettings.from_custom_config(values) if values else None


def _execution_property(executions_by_component: Dict[str, Any], component: str, name: str) -> Any:
    execution = executions_by_component.get(component)
    return (run_facts.properties(execution, name) if execution else None) or {}


def _memoized(config: OutputsDir, name: str, key: Any, compute) -> Any:
    """A section that depends only on immutable artifacts (named in `key`), kept under <reports>/.cache:
    a re-run served from TFX's cache gets its page without tokenizing the data or loading the model again."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = os.path.join(config.reports_dir, ".cache", f"{name}-{digest}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    value = json.loads(json.dumps(compute()))  # the same values whether computed or read back
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(value, f)
    os.replace(path + ".tmp", path)
    return value


def _uri(outputs: run_outputs.RunOutputs, component: str, key: str) -> Optional[str]:
    artifact = outputs.get(component, {}).get(key)
    return artifact.uri if artifact else None


def gather(config: OutputsDir, run_name: Optional[str] = None) -> Dict[str, Any]:
    """Everything the page shows, as plain values (tests compare them with the artifacts)."""
    store = run_outputs.open_store(config.metadata_path)
    run, executions, outputs = run_outputs.latest_run_outputs(store, run_name)
    components = run_outputs.execution_components(store, executions)
    by_component = {components[e.id]: e for e in executions}
    record = _read_run_record(config, run.name)
    settings = _settings(_execution_property(by_component, names.TRANSFORM, "custom_config"), record)
    data = _memoized(config, "data", [_uri(outputs, names.CSV_EXAMPLE_GEN, names.EXAMPLES),
                                      _uri(outputs, names.STATISTICS_GEN, names.STATISTICS),
                                      _uri(outputs, names.EXAMPLE_VALIDATOR, names.ANOMALIES),
                                      settings.to_custom_config() if settings else None],
                     lambda: run_facts.data_section(outputs, settings)) if settings else None
    training = run_facts.training_section(outputs)
    class_names = training["hyperparameters"]["class_names"] if training else []
    evaluation = run_facts.evaluation_section(outputs, class_names) if training else None
    task = (run_facts.task_sentences(training["hyperparameters"], int(evaluation["overall"].get("example_count", 0)))
            if evaluation else {})
    columns = settings.task.columns if settings else None
    eval_texts = (run_facts.read_texts(run_facts.split_uris(outputs[names.CSV_EXAMPLE_GEN][names.EXAMPLES])["eval"],
                                       columns, run_facts.EXAMPLE_PREDICTIONS)
                  if data else {})
    example_gen = outputs.get(names.CSV_EXAMPLE_GEN, {}).get(names.EXAMPLES)
    return {
        "run": run.name, "created": datetime.datetime.fromtimestamp(run.create_time_since_epoch / 1000)
        .strftime("%Y-%m-%d %H:%M:%S"), "pipeline": config.pipeline_name,
        "executions": run_facts.executions_table(store, executions),
        "data": data, "training": training, "evaluation": evaluation, "task": task,
        "serving": _memoized(config, "serving", [_uri(outputs, names.PUSHER, names.PUSHED_MODEL), eval_texts],
                             lambda: run_facts.serving_section(outputs, eval_texts, columns)),
        "lineage": {
            "examples": example_gen.uri if example_gen else None,
            "span": run_facts.properties(example_gen, "span") if example_gen else None,
            "input_base": _execution_property(by_component, names.CSV_EXAMPLE_GEN, "input_base") or None,
            "schema": _execution_property(by_component, names.SCHEMA_GEN, "schema_file") or None,
            "checkpoint": settings.checkpoint_dir if settings else None,
            "tfx_version": run_facts.properties(example_gen, "tfx_version") if example_gen else None,
            "record": record,
        },
    }


def _pictures(facts: Dict[str, Any]) -> Dict[str, str]:
    pictures = {}
    if facts["data"]:
        splits = facts["data"]["splits"]
        any_split = next(iter(splits.values()))
        pictures["token_lengths"] = plots.token_lengths(
            {name: split["tokens"]["lengths"] for name, split in splits.items()}, run_facts.HISTOGRAM_EDGES,
            any_split["tokens"]["max_seq_length"])
        pictures["labels"] = plots.label_distribution({name: split["labels"] for name, split in splits.items()})
    if facts["training"] and facts["training"]["curves"]:
        hyperparameters = facts["training"]["hyperparameters"]
        steps_per_epoch = hyperparameters["steps_per_epoch"]
        pictures["curves"] = plots.training_curves(facts["training"]["curves"], steps_per_epoch)
    if facts["evaluation"] and facts["evaluation"]["confusion"]:  # a multi-label model has none
        pictures["confusion"] = plots.confusion_matrix(facts["evaluation"]["confusion"],
                                                       facts["evaluation"]["class_names"])
    return pictures


def render(facts: Dict[str, Any]) -> str:
    return rendering.environment(autoescape=True).get_template("run_report.html").render(
        facts=facts, pictures=_pictures(facts))


def write(config: OutputsDir, run_name: Optional[str] = None) -> str:
    """Builds the page for the run (the latest one by default); returns its path. Written whole or not at all."""
    facts = gather(config, run_name)
    path = os.path.join(report_dir(config, facts["run"]), "index.html")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(render(facts))
    os.replace(path + ".tmp", path)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs-dir", default=layout.DEFAULT_OUTPUTS_DIR, help="the pipeline's --outputs-dir")
    parser.add_argument("--pipeline-name", default=layout.DEFAULT_PIPELINE_NAME, help="the pipeline's --pipeline-name")
    parser.add_argument("--run", help="the run's id (default: the latest run); --list shows them")
    parser.add_argument("--list", action="store_true", help="list the runs recorded in ML Metadata")
    args = parser.parse_args(argv)
    config = OutputsDir(os.path.abspath(args.outputs_dir), args.pipeline_name)
    if not os.path.exists(config.metadata_path):
        print(f"error: no ML Metadata at {config.metadata_path}: run the pipeline first, or give --outputs-dir",
              file=sys.stderr)
        return 2
    if args.list:
        for run in sorted(run_outputs.open_store(config.metadata_path).get_contexts_by_type("pipeline_run"),
                          key=lambda c: c.create_time_since_epoch):
            print(run.name)
        return 0
    try:
        print(f"report: {write(config, args.run)}")
    except LookupError as e:
        print(f"error: {e} (--list shows the runs)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
