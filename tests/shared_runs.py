"""The long runs that tests share, each started in the background by conftest.py as soon as the tests are
collected (or as soon as the run it builds on is done), so that on 2 cores they overlap the other tests
instead of queueing behind them: they are subprocesses whose work is mostly single-threaded (Beam,
tracing, loading). A job takes the directory it may write in and the other jobs, and returns what its
tests read; a test reads it through the fixture of the job's name.

Each job is described where its tests are: the first run in tests/test_pipeline_e2e.py, the trainings in
tests/test_distributed_training.py, tests/test_lora_training.py and tests/test_refit_training.py, the killed
runs in tests/test_faults.py, the sentence pairs in tests/test_sentence_pairs.py, the long documents in
tests/test_long_documents.py, the multi-label rows in tests/test_multi_label.py, the spans in tests/span_runs.py.
"""
import glob
import json
import os
import socket
import subprocess
import sys

from pipeline import configs, defaults

from pipeline_runs import (
    FEW_STEPS,
    FLAGS,
    SAMPLE,
    STEPS,
    finish_trainer,
    kill_when,
    run_cli,
    start_cli,
    start_trainer,
)

TRAINING_STEPS = 6  # of each training on the first run's Transform outputs
LONG_DOCUMENT_STEPS = 100
# float32 on every CPU kind (auto picks mixed_bfloat16 on AMX): the merge check's logits then differ by float32
# rounding only; under bfloat16 they differ by bfloat16's (1.5e-3 measured), as much as 6 steps' adapters move them.
LORA_OPTIONS = {"lora_rank": 4, "lora_alpha": 8.0, "lora_targets": "query,value", "gradient_accumulation_steps": 2,
                "gradient_checkpointing": True, "mixed_precision": "off"}
# float32, as FEW_STEPS; batches of 32: ~20 steps an epoch on the first run's ~650 texts outside the slice.
REFIT_OPTIONS = {"epochs": 1, "batch_size": 32, "learning_rate": 1e-4, "mixed_precision": "off"}
PAIR_COLUMNS = ["--text-column", "text", "--text-pair-column", "text_pair"]
KILLED_STEPS, BACKUP_EVERY = 60, 10
KILLED_FLAGS = ["--default-sample", str(SAMPLE), "--train-steps", str(KILLED_STEPS), "--backup-every-steps",
                str(BACKUP_EVERY), *FEW_STEPS]


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
    """Four Trainer processes at once (most of each is single-threaded tracing): two workers of one
    MultiWorkerMirroredStrategy cluster sharing one output directory, as the workers of a Vertex AI job do,
    one run on one device and one MirroredStrategy run over two logical CPU devices (mixed_bfloat16:
    tests/test_peft.py, on a tiny BERT). (root, {name: log})."""
    run = jobs["first_run"].result()
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    processes = {f"worker{i}": start_trainer(run, TRAINING_STEPS, root / "cluster", root / f"worker{i}.log",
                                             tf_config={"cluster": cluster, "task": {"type": "worker", "index": i}})
                 for i in range(2)}
    processes["one"] = start_trainer(run, TRAINING_STEPS, root / "one", root / "one.log", "--strategy", "one_device")
    # auto: Mirrored over the two logical devices
    processes["two"] = start_trainer(run, TRAINING_STEPS, root / "two", root / "two.log", "--cpu-devices", "2")
    return root, {name: finish_trainer(process) for name, process in processes.items()}


def lora_training(root, jobs):
    """LoRA with gradient accumulation and checkpointing: (root, its log). After the four trainings, so
    that no more than four Trainers hold memory at once."""
    run = jobs["first_run"].result()
    jobs["trainings"].result()
    options = json.dumps(LORA_OPTIONS)
    return root, finish_trainer(start_trainer(run, TRAINING_STEPS, root, root / "trainer.log", "--options", options))


def refit_training(root, jobs):
    """A training by epochs (not steps): one epoch, chosen on the validation slice, then trained again on the
    whole training split (model/validation.refit_epochs): (root, its log). Beside the LoRA training."""
    run = jobs["first_run"].result()
    jobs["trainings"].result()
    options = json.dumps(REFIT_OPTIONS)
    return root, finish_trainer(start_trainer(run, 0, root, root / "trainer.log", "--options", options))


def killed_then_completed(root, jobs):
    """A run SIGKILLed mid-training, then a run that completes, on one outputs directory: (outputs, the killed
    run's stderr, the last run's result)."""
    backups = os.path.join(str(root), "trainer_backup", "*", "*", "chief", "checkpoint")
    killed = kill_when(start_cli(root, *KILLED_FLAGS), lambda: glob.glob(backups))
    final = run_cli(root, *KILLED_FLAGS)
    assert final.returncode == 0, final.stderr[-3000:]
    return root, killed, final


def make_schema(data, out, *flags):
    """`make schema` for a shared run's data, as a user runs it before bringing new data."""
    made = subprocess.run([sys.executable, "-m", "pipeline.schema_tool", "--data", str(data), "--out", str(out),
                           *flags], cwd=configs.PROJECT_DIR, capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stderr[-3000:]
    return out


def sentence_pair_run(root, jobs):
    """A sentence-pair task through the whole pipeline, as a user brings one: `make schema` with
    --text-pair-column, then a run with it, its gates at their defaults, that also scores a drop of pairs
    (tests/pair_data.py): (root, the CLI's result)."""
    from pair_data import DROP_ROWS, ROWS, write_drop, write_pairs

    corpus = defaults.read_corpus()
    data, drop, schema = root / "pairs.csv", root / "drop.csv", root / "schema" / "schema.pbtxt"
    write_pairs(data, corpus, ROWS, seed=0)
    write_drop(drop, corpus, DROP_ROWS, seed=1)
    make_schema(data, schema, *PAIR_COLUMNS)
    result = run_cli(root / "outputs", "--data", str(data), "--schema", str(schema), *PAIR_COLUMNS,
                     "--train-steps", str(STEPS), *FEW_STEPS, "--score-data", str(drop))
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def long_document_run(root, jobs):
    """Long documents read whole (--long-text chunk) through the whole pipeline, its gates at their defaults,
    on documents of 2 to 5 tweets of one sentiment (tests/long_document_data.py), in windows of 32 word pieces:
    `make schema`, then a run: (root, the CLI's result). LONG_DOCUMENT_STEPS of 16 documents, each with all its
    windows (measured: eval accuracy 0.906 on 85 documents, --window-aggregation max; 50 steps of per-window
    training had left it at 0.67)."""
    from long_document_data import CHUNK_STRIDE, MAX_SEQ_LENGTH, ROWS, write_documents

    data = root / "documents.csv"
    write_documents(data, defaults.read_corpus(), ROWS, seed=2)
    schema = make_schema(data, root / "schema" / "schema.pbtxt")
    result = run_cli(root / "outputs", "--data", str(data), "--schema", str(schema), "--long-text", "chunk",
                     "--max-seq-length", str(MAX_SEQ_LENGTH), "--chunk-stride", str(CHUNK_STRIDE),
                     "--train-steps", str(LONG_DOCUMENT_STEPS), *FEW_STEPS)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def multi_label_run(root, jobs):
    """A multi-label task through the whole pipeline, as a user brings one: `make schema` with
    --label-separator, then a run with it, its gates at their defaults, on corpus tweets tagged with what
    they hold (tests/multi_label_data.py): (root, the CLI's result)."""
    from multi_label_data import ROWS, SEPARATOR, write_rows

    data, schema = root / "tags.csv", root / "schema" / "schema.pbtxt"
    write_rows(data, defaults.read_corpus(), ROWS, seed=3)
    make_schema(data, schema, "--label-separator", SEPARATOR)
    result = run_cli(root / "outputs", "--data", str(data), "--schema", str(schema), "--label-separator", SEPARATOR,
                     "--train-steps", str(STEPS), *FEW_STEPS)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def span_runs(root, jobs):
    """Three spans and a re-run through the pipeline (tests/span_runs.py)."""
    from span_runs import play_spans

    return play_spans(root, defaults.read_corpus())


# In the order they start, which is also the order of the test modules that read them (conftest.py).
JOBS = {job.__name__: job for job in (first_run, trainings, lora_training, refit_training, killed_then_completed,
                                      sentence_pair_run, long_document_run, multi_label_run, span_runs)}
DEPENDS_ON = {"trainings": ("first_run",), "lora_training": ("first_run", "trainings"),
              "refit_training": ("first_run", "trainings")}
