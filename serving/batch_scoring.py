"""Batch scoring on Beam: every row of a CSV drop classified by a pushed model's serving_default, the
signature TF Serving runs, through Beam's RunInference (the model loaded once per worker process and shared
by its threads, rows batched by Beam's BatchElements). Used by `make score` (pipeline/score.py) and by the
pipeline's scoring step (components/batch_scoring.py).

Output: CSV shards `scores-SSSSS-of-NNNNN.csv` with every input column (an input column named like an
output column is kept as `input_<name>`), then `label`, `class_id`, `p_<class>` per class and
`model_version`. The shards are written into a hidden staging directory under the output directory and
moved into it only when the whole drop is scored, `_SUCCESS` (rows, model, seconds) last: an interrupted
run leaves no file that looks complete, and a reader waits for `_SUCCESS`.
"""
import csv
import dataclasses
import io
import json
import os
import sys
import time
import uuid
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler, RunInference

from contracts import names, raw_csv, raw_data
from contracts.text_columns import TextColumns

SHARD_PREFIX = "scores"
SUCCESS_FILE = "_SUCCESS"
STAGING_PREFIX = ".staging-"
OUTPUT_COLUMNS = ("label", "class_id")
VERSION_COLUMN = "model_version"
PROGRESS_SECONDS = 10


@dataclasses.dataclass(frozen=True)
class Scoring:
    """What to score with what; every field a plain value, so the whole travels to Beam's workers."""

    files: Sequence[str]  # CSV files, already checked (contracts/raw_csv.py)
    text_columns: TextColumns  # the text's column, and a sentence pair's second one
    model_dir: str  # a SavedModel directory (a pushed version)
    class_names: Sequence[str]
    batch_size: int = 64
    intra_op_threads: int = 0  # TensorFlow's thread pools in each worker process; 0: TensorFlow's default
    inter_op_threads: int = 0

    @property
    def model_version(self) -> str:
        return os.path.basename(os.path.normpath(self.model_dir))


def output_header(input_header: Sequence[str], class_names: Sequence[str]) -> List[str]:
    ours = [*OUTPUT_COLUMNS, *(f"p_{name}" for name in class_names), VERSION_COLUMN]
    return [f"input_{name}" if name in ours else name for name in input_header] + ours


class ServingDefaultHandler(ModelHandler[Dict[str, str], List[str], Any]):
    """RunInference's handler for a pushed model: a batch of rows in, one output row (as CSV fields) each."""

    def __init__(self, scoring: Scoring):
        super().__init__(min_batch_size=scoring.batch_size, max_batch_size=scoring.batch_size)
        self._scoring = scoring
        self._progress = _Progress()

    def load_model(self):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (the graph tokenizer's ops, before the model loads)

        if self._scoring.intra_op_threads:  # before the worker's first op
            tf.config.threading.set_intra_op_parallelism_threads(self._scoring.intra_op_threads)
            tf.config.threading.set_inter_op_parallelism_threads(self._scoring.inter_op_threads)
        return tf.saved_model.load(self._scoring.model_dir).signatures[names.SERVING_DEFAULT]

    def run_inference(self, batch: Sequence[Dict[str, str]], model, inference_args=None) -> Iterable[List[str]]:
        import tensorflow as tf

        columns = self._scoring.text_columns
        outputs = model(**columns.feed({column: tf.constant([row[column] for row in batch])
                                        for column in columns.columns}))
        version = self._scoring.model_version
        self._progress.add(len(batch))
        return [[*row.values(), label.decode("utf-8"), str(int(class_id)), *(repr(float(p)) for p in probabilities),
                 version]
                for row, label, class_id, probabilities in zip(batch, outputs[names.LABEL].numpy(),
                                                               outputs[names.CLASS_ID].numpy(),
                                                               outputs[names.PROBABILITIES].numpy())]


class _Progress:
    """A line on stderr at most every PROGRESS_SECONDS: this worker's rows so far and its rate."""

    def __init__(self):
        self.rows, self.started, self.shown = 0, None, None

    def add(self, rows: int) -> None:
        now = time.monotonic()
        self.started = self.started or now
        self.shown = self.shown or now
        self.rows += rows
        if now - self.shown >= PROGRESS_SECONDS:
            self.shown = now
            print(f"{time.strftime('%H:%M:%S')} worker {os.getpid()}: {self.rows} rows scored "
                  f"({self.rows / (now - self.started):.1f} texts/s)", file=sys.stderr, flush=True)


def read_rows(path: str) -> Iterator[Dict[str, str]]:
    """A CSV file's rows as {column: value}, read with the pipeline's rules (contracts/raw_csv.py); through
    Beam's FileSystems, so that gs:// works on Dataflow."""
    with FileSystems.open(path) as f:
        header, rows = raw_csv.read_table(path, f.read())
    for row in rows:
        yield dict(zip(header, row))


def _csv_line(fields: List[str]) -> str:
    """One CSV record without its line end. The writer quotes a field holding any character of its line
    terminator, so "\r\n" here: a text with a lone "\r" is quoted too."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(fields)
    return buffer.getvalue()[:-2]


def build(pipeline: beam.Pipeline, scoring: Scoring, header: Sequence[str], shard_prefix: str):
    """Read, classify, write the shards under shard_prefix; returns the written files' PCollection."""
    return (pipeline
            | "Files" >> beam.Create(list(scoring.files))
            | "Rows" >> beam.FlatMap(read_rows)
            | "Spread" >> beam.Reshuffle()  # a drop of few large files still reaches every worker
            | "Classify" >> RunInference(ServingDefaultHandler(scoring))
            | "Csv" >> beam.Map(_csv_line)
            | "Write" >> beam.io.WriteToText(shard_prefix, file_name_suffix=".csv",
                                             header=_csv_line(list(header))))


@dataclasses.dataclass
class Summary:
    rows: int
    seconds: float
    shards: List[str]

    @property
    def texts_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def worker_threads(options) -> Tuple[int, int]:
    """TensorFlow's (intra-op, inter-op) threads for N local workers: each worker's calls on its share of
    the cores, so that N concurrent streams of small matmuls do not fight over them; (0, 0), TensorFlow's
    default, elsewhere. N threads in one process share one TensorFlow: its inter-op pool takes N calls at
    once."""
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    direct = options.view_as(DirectOptions)
    if options.view_as(StandardOptions).runner not in (None, "DirectRunner", "FnApiRunner"):
        return 0, 0
    workers = max(direct.direct_num_workers, 1)
    share = max(1, (os.cpu_count() or 1) // workers)
    return {"multi_processing": (share, share), "multi_threading": (share, workers)}.get(
        direct.direct_running_mode, (0, 0))


def run(scoring: Scoring, out_dir: str, rows: int, pipeline: beam.Pipeline) -> Summary:
    """Scores the drop on that (not yet run) Beam pipeline into out_dir (created if needed; earlier scores
    there are replaced only once the new ones are complete); rows: how many the drop holds (the input check
    counted them)."""
    header = output_header(raw_data.read_header(scoring.files[0]), scoring.class_names)  # the check made them equal
    intra, inter = worker_threads(pipeline.options)
    scoring = dataclasses.replace(scoring, intra_op_threads=intra, inter_op_threads=inter)
    _remove_stale_staging(out_dir)
    staging = os.path.join(out_dir, f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}")
    started = time.monotonic()
    with pipeline:
        build(pipeline, scoring, header, os.path.join(staging, SHARD_PREFIX))
    shards = _commit(staging, out_dir)
    summary = Summary(rows, time.monotonic() - started, shards)
    with FileSystems.create(os.path.join(out_dir, SUCCESS_FILE)) as f:
        f.write(json.dumps({"rows": rows, "model_dir": scoring.model_dir, "model_version": scoring.model_version,
                            "seconds": round(summary.seconds, 1), "shards": [os.path.basename(s) for s in shards]},
                           indent=2).encode())
    return summary


def _remove_stale_staging(out_dir: str) -> None:
    """What an interrupted scoring left (one scoring per output directory at a time)."""
    stale = raw_data.glob_files(os.path.join(out_dir, STAGING_PREFIX + "*"))
    if stale:
        FileSystems.delete(stale)


def _commit(staging: str, out_dir: str) -> List[str]:
    """Moves the finished shards into out_dir, after removing an earlier scoring's shards and _SUCCESS."""
    old = FileSystems.match([os.path.join(out_dir, SHARD_PREFIX + "-*"), os.path.join(out_dir, SUCCESS_FILE)])
    stale = [m.path for result in old for m in result.metadata_list]
    if stale:
        FileSystems.delete(stale)
    shards = sorted(m.path for m in FileSystems.match([os.path.join(staging, "*")])[0].metadata_list)
    targets = [os.path.join(out_dir, os.path.basename(path)) for path in shards]
    FileSystems.rename(shards, targets)
    if FileSystems.exists(staging):  # an object store has no directory left once its objects moved
        FileSystems.delete([staging])
    return targets


def read_success(out_dir: str) -> Optional[Dict]:
    path = os.path.join(out_dir, SUCCESS_FILE)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as f:
        return json.loads(f.read())
