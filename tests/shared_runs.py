"""The long runs that tests share, each started in the background by conftest.py as soon as the tests are
collected (or as soon as the run it builds on is done), so that on 2 cores they overlap the other tests
instead of queueing behind them: they are subprocesses whose work is mostly single-threaded (Beam,
tracing, loading). A job takes the directory it may write in and the other jobs, and returns what its
tests read; a test reads it through the fixture of the job's name.

Each job is described where its tests are: the first run in tests/test_pipeline_e2e.py, the trainings in
tests/test_distributed_training.py and tests/test_lora_training.py, the killed runs in tests/test_faults.py,
the sentence pairs in tests/test_sentence_pairs.py, the long documents in tests/test_long_documents.py, the
multi-label rows in tests/test_multi_label.py, the spans in tests/span_runs.py.
"""
import glob
import json
import os
import socket
import subprocess
import sys

from pipeline import configs, defaults

from pipeline_runs import (
    FLAGS,
    SAMPLE,
    STEPS,
    finish_trainer,
    kill_when,
    logged,
    run_cli,
    seconds_after,
    start_cli,
    start_trainer,
)

TRAINING_STEPS = 6  # of each training on the first run's Transform outputs
LORA_OPTIONS = {"lora_rank": 4, "lora_alpha": 8.0, "lora_targets": "query,value", "gradient_accumulation_steps": 2,
                "gradient_checkpointing": True}
PAIR_COLUMNS = ["--text-column", "text", "--text-pair-column", "text_pair"]
KILLED_STEPS, BACKUP_EVERY = 60, 10
KILLED_FLAGS = ["--default-sample", str(SAMPLE), "--train-steps", str(KILLED_STEPS), "--backup-every-steps",
                str(BACKUP_EVERY), "--accuracy-floor", "0.3"]


def first_run(root, jobs):
    """One small real run of the whole pipeline (it pushes a model): (outputs dir, the CLI's result)."""
    result = run_cli(root, *FLAGS)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def trainings(root, jobs):
    """Five Trainer processes at once (most of each is single-threaded tracing): two workers of one
    MultiWorkerMirroredStrategy cluster sharing one output directory, as the workers of a Vertex AI job do,
    one run on one device, one MirroredStrategy run over two logical CPU devices and one in mixed_bfloat16.
    (root, {name: log})."""
    run = jobs["first_run"].result()
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    processes = {f"worker{i}": start_trainer(run, TRAINING_STEPS, root / "cluster", root / f"worker{i}.log",
                                             tf_config={"cluster": cluster, "task": {"type": "worker", "index": i}})
                 for i in range(2)}
    processes["one"] = start_trainer(run, TRAINING_STEPS, root / "one", root / "one.log", "--strategy", "one_device")
    # auto: Mirrored over the two logical devices
    processes["two"] = start_trainer(run, TRAINING_STEPS, root / "two", root / "two.log", "--cpu-devices", "2")
    processes["bfloat16"] = start_trainer(run, TRAINING_STEPS, root / "bfloat16", root / "bfloat16.log", "--strategy",
                                          "one_device", "--options", json.dumps({"mixed_precision": "mixed_bfloat16"}))
    return root, {name: finish_trainer(process) for name, process in processes.items()}


def lora_training(root, jobs):
    """LoRA with gradient accumulation and checkpointing: (root, its log). After the five trainings, so
    that no more than five Trainers hold memory at once."""
    run = jobs["first_run"].result()
    jobs["trainings"].result()
    options = json.dumps(LORA_OPTIONS)
    return root, finish_trainer(start_trainer(run, TRAINING_STEPS, root, root / "trainer.log", "--options", options))


def killed_then_completed(root, jobs):
    """Runs SIGKILLed in Transform, mid-training and in the Evaluator, then a run that completes, all on one
    outputs directory: (outputs, {moment: stderr}, the last run's result)."""
    backups = os.path.join(str(root), "trainer_backup", "*", "*", "chief", "checkpoint")
    logs = {}
    run = start_cli(root, *KILLED_FLAGS)
    logs["in Transform"] = kill_when(run, seconds_after(logged(run, "node Transform is running."), 5))
    run = start_cli(root, *KILLED_FLAGS)
    logs["mid-training"] = kill_when(run, lambda: glob.glob(backups))
    run = start_cli(root, *KILLED_FLAGS)
    logs["in Evaluator"] = kill_when(run, seconds_after(logged(run, "node Evaluator is running."), 5))
    final = run_cli(root, *KILLED_FLAGS)
    assert final.returncode == 0, final.stderr[-3000:]
    return root, logs, final


def sentence_pair_run(root, jobs):
    """A sentence-pair task through the whole pipeline, as a user brings one: `make schema` with
    --text-pair-column, then a run with it that also scores a drop of pairs (tests/pair_data.py): (root,
    the CLI's result). 50 steps on 800 pairs make a weak model (measured: accuracy 0.52 on 64 eval pairs, its
    lower bound below the largest class's share), so the majority check is switched off: these tests are
    about the pair's way through the pipeline, not its accuracy."""
    from pair_data import DROP_ROWS, ROWS, write_drop, write_pairs

    corpus = defaults.read_corpus()
    data, drop, schema = root / "pairs.csv", root / "drop.csv", root / "schema" / "schema.pbtxt"
    write_pairs(data, corpus, ROWS, seed=0)
    write_drop(drop, corpus, DROP_ROWS, seed=1)
    made = subprocess.run([sys.executable, "-m", "pipeline.schema_tool", "--data", str(data), "--out", str(schema),
                           *PAIR_COLUMNS], cwd=configs.PROJECT_DIR, capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stderr[-3000:]
    result = run_cli(root / "outputs", "--data", str(data), "--schema", str(schema), *PAIR_COLUMNS,
                     "--train-steps", str(STEPS), "--accuracy-floor", "0.3", "--majority-margin", "-1",
                     "--score-data", str(drop))
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def long_document_run(root, jobs):
    """Long documents read whole (--long-text chunk) through the whole pipeline, on documents of 2 to 5
    tweets labelled by the last one (tests/long_document_data.py), in windows of 32 word pieces: (root, the
    CLI's result). Like the pair run's, 50 steps make a weak model: the majority check is off."""
    from long_document_data import CHUNK_STRIDE, MAX_SEQ_LENGTH, ROWS, write_documents

    data = root / "documents.csv"
    write_documents(data, defaults.read_corpus(), ROWS, seed=2)
    result = run_cli(root / "outputs", "--data", str(data), "--long-text", "chunk", "--max-seq-length",
                     str(MAX_SEQ_LENGTH), "--chunk-stride", str(CHUNK_STRIDE), "--train-steps", str(STEPS),
                     "--accuracy-floor", "0.3", "--majority-margin", "-1")
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def multi_label_run(root, jobs):
    """A multi-label task through the whole pipeline, as a user brings one: `make schema` with
    --label-separator, then a run with it, on corpus tweets labelled with their sentiment and `question`
    when they ask one (tests/multi_label_data.py): (root, the CLI's result). 50 steps make a weak model, so
    the floor and the every-label check are off: these tests are about the labels' way through the
    pipeline, and about metrics that must equal a direct computation, whatever the model's quality."""
    from multi_label_data import ROWS, SEPARATOR, write_rows

    data, schema = root / "tags.csv", root / "schema" / "schema.pbtxt"
    write_rows(data, defaults.read_corpus(), ROWS, seed=3)
    made = subprocess.run([sys.executable, "-m", "pipeline.schema_tool", "--data", str(data), "--out", str(schema),
                           "--label-separator", SEPARATOR], cwd=configs.PROJECT_DIR, capture_output=True, text=True,
                          timeout=600)
    assert made.returncode == 0, made.stderr[-3000:]
    result = run_cli(root / "outputs", "--data", str(data), "--schema", str(schema), "--label-separator", SEPARATOR,
                     "--train-steps", str(STEPS), "--accuracy-floor", "0", "--majority-margin", "-1")
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def span_runs(root, jobs):
    """Three spans and a re-run through the pipeline (tests/span_runs.py)."""
    from span_runs import play_spans

    return play_spans(root, defaults.read_corpus())


# In the order they start, which is also the order of the test modules that read them (conftest.py).
JOBS = {job.__name__: job for job in (first_run, trainings, lora_training, killed_then_completed, sentence_pair_run,
                                      long_document_run, multi_label_run, span_runs)}
DEPENDS_ON = {"trainings": ("first_run",), "lora_training": ("first_run", "trainings")}
