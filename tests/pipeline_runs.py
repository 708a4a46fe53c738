"""Runs of the real pipeline CLI (a subprocess of beam_runner.py, as a user runs it) for the tests."""
import glob
import hashlib
import itertools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

import tensorflow as tf
from google.protobuf import json_format
from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2

from contracts import names
from pipeline import configs

TRAIN_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_worker.py")
SAMPLE, STEPS = 800, 50
# The default learning rate (5e-5) suits the default's epochs; the tests' runs make tens of steps. And float32
# on both CPU kinds CI lands on (auto picks mixed_bfloat16 on AMX): the runs' thresholds were measured in float32,
# and a test's figures should not depend on the machine. (On AMX, bfloat16 passes every test but one: the
# long-document run, at 0.9176 eval accuracy against float32's 0.9059, moved 9 of 20 answers where the end-of-
# document test asks 10.) The Trainer processes of tests/test_distributed_training.py keep auto.
FEW_STEPS = ["--learning-rate", "1e-4", "--mixed-precision", "off"]
FLAGS = ["--default-sample", str(SAMPLE), "--train-steps", str(STEPS), *FEW_STEPS]  # the gates at their defaults


def run_cli(outputs, *flags, runner="beam_runner.py"):
    return subprocess.run([sys.executable, os.path.join(configs.PROJECT_DIR, runner), "--outputs-dir", str(outputs),
                           *flags], cwd=configs.PROJECT_DIR, capture_output=True, text=True, timeout=1800)


def run_refused(tmp_path, capsys, *flags):
    """Runs the CLI in-process; returns the one error line (without "error: ") after asserting exit 2 and
    that nothing was written."""
    from pipeline import cli

    outputs = tmp_path / "outputs"
    code = cli.main([*flags, "--outputs-dir", str(outputs)])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert code == cli.EXIT_BAD_INPUT and len(errors) == 1
    assert not outputs.exists()  # nothing written, let alone pushed
    return errors[0][len("error: "):]


def summary(stdout):
    return dict(line.split(": ", 1) for line in stdout.splitlines() if ": " in line)


def run_name(stdout):
    """The pipeline run a CLI run printed its summary for: "run <name>: ..."."""
    return next(line.split()[1].rstrip(":") for line in stdout.splitlines() if line.startswith("run "))


def tree_digest(root):
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(root, "**"), recursive=True)):
        digest.update(path.encode())
        if os.path.isfile(path):
            digest.update(open(path, "rb").read())
    return digest.hexdigest()


def split_texts(outputs, run_name, split=names.EVAL_SPLIT):
    """The texts CsvExampleGen put into a split in that run (other tests run broken drops in the same
    outputs directory later)."""
    from tfx.types import artifact_utils

    examples = run_artifacts(outputs, run_name)[names.CSV_EXAMPLE_GEN][names.EXAMPLES]
    texts = set()
    files = glob.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*"))
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy())
        texts.add(example.features.feature["text"].bytes_list.value[0].decode())
    return texts


def split_config(outputs, run_name=None) -> example_gen_pb2.SplitConfig:
    """How CsvExampleGen split the data in a run (the latest by default): the pipeline's configuration as
    ML Metadata recorded it for that execution."""
    from reports import run_outputs

    store = run_outputs.open_store(configs.PipelineConfig(outputs_dir=str(outputs)).metadata_path)
    _, executions, _ = run_outputs.latest_run_outputs(store, run_name)
    component_of = run_outputs.execution_components(store, executions)
    example_gen = next(e for e in executions if component_of[e.id] == names.CSV_EXAMPLE_GEN)
    output_config = json_format.Parse(example_gen.custom_properties["output_config"].string_value,
                                      example_gen_pb2.Output())
    return output_config.split_config


def split_of(row, config: example_gen_pb2.SplitConfig) -> str:
    """The split TFX's own partition function puts a CSV row ({column: text}) in, under that configuration."""
    record = tf.train.Example(features=tf.train.Features(feature={
        column: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
        for column, value in row.items()}))
    bounds = list(itertools.accumulate(split.hash_buckets for split in config.splits))
    return config.splits[base_example_gen_executor._PartitionFn(record, len(bounds), bounds, config)].name


def run_artifacts(outputs, run_name=None):
    """A run's outputs as TFX artifacts, {component: {output key: artifact}} (the latest run by default)."""
    from tfx.types import artifact_utils

    from reports import run_outputs

    store = run_outputs.open_store(configs.PipelineConfig(outputs_dir=str(outputs)).metadata_path)
    _, _, outputs_by_component = run_outputs.latest_run_outputs(store, run_name)
    types = {t.id: t for t in store.get_artifact_types()}
    return {component: {key: artifact_utils.deserialize_artifact(types[artifact.type_id], artifact)
                        for key, artifact in keys.items()}
            for component, keys in outputs_by_component.items()}


def start_cli(outputs, *flags):
    """A run in its own process group, its stderr collected line by line into `.lines` as it comes."""
    process = subprocess.Popen(
        [sys.executable, os.path.join(configs.PROJECT_DIR, "beam_runner.py"), "--outputs-dir", str(outputs), *flags],
        cwd=configs.PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    process.lines = []
    threading.Thread(target=lambda: process.lines.extend(process.stderr), daemon=True).start()
    return process


def kill_when(process, condition, timeout=900):
    """SIGKILLs the run's whole process group as soon as condition() holds; returns its stderr so far."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the run ended before the fault: " + "".join(process.lines[-20:])
        assert time.monotonic() < deadline, "the fault's moment never came"
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return "".join(process.lines)


def logged(process, text):
    return lambda: any(text in line for line in process.lines)


def cached_nodes(stderr):
    """The components a run reused from the cache: "<node> is running." followed by "A cached execution"
    (BeamDagRunner says "node X is running.", LocalDagRunner "Component X is running.")."""
    cached, node = set(), None
    for line in stderr.splitlines():
        match = re.search(r"(?:node|Component) (\S+) is running\.", line)
        if match:
            node = match.group(1)
        elif "A cached execution" in line and node:
            cached.add(node)
    return cached


def seconds_after(condition, seconds):
    """A condition that holds `seconds` after `condition` first did."""
    since = []

    def check():
        if not since and condition():
            since.append(time.monotonic())
        return bool(since) and time.monotonic() - since[0] >= seconds
    return check


def run_tfx_cli(engine, runner, outputs, *flags, home):
    """`tfx pipeline create` then `tfx run create` with TFX's own CLI, as docs/scale.md shows; the runner file
    gets its flags from PIPELINE_FLAGS, since the tfx CLI runs it without arguments."""
    env = {**os.environ, "PIPELINE_FLAGS": shlex.join(["--outputs-dir", str(outputs), *flags]),
           f"{engine.upper()}_HOME": str(home)}
    tfx = os.path.join(os.path.dirname(sys.executable), "tfx")

    def call(*args):
        return subprocess.run([tfx, *args, "--engine", engine], env=env, cwd=configs.PROJECT_DIR, capture_output=True,
                              text=True, timeout=1800)

    created = call("pipeline", "create", "--pipeline_path", runner)
    assert created.returncode == 0 and "created successfully" in created.stdout, created.stderr[-3000:]
    return call("run", "create", "--pipeline_name", configs.PipelineConfig.pipeline_name)


def start_trainer(first_run, steps, model_dir, log_path, *flags, tf_config=None):
    """TFX's Trainer executor in its own process (tests/train_worker.py) on the first run's Transform
    outputs; its log goes to a file (pipes would fill and stall several verbose processes)."""
    env = dict(os.environ)
    env.pop("TF_CONFIG", None)
    if tf_config:
        env["TF_CONFIG"] = json.dumps(tf_config)
    log = open(log_path, "w+")
    outputs, result = first_run
    process = subprocess.Popen([sys.executable, TRAIN_WORKER, str(outputs), str(model_dir),
                                "--run", run_name(result.stdout), "--steps", str(steps), *flags],
                               env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    process.log = log
    return process


def finish_trainer(process):
    """The trainer's log, once it has ended well."""
    process.wait(timeout=1800)
    process.log.seek(0)
    log = process.log.read()
    assert process.returncode == 0, log[-4000:]
    return log


def trained_hyperparameters(model_dir):
    with open(os.path.join(model_dir, "model", "Format-Serving", "assets.extra", "hyperparameters.json")) as f:
        return json.load(f)
