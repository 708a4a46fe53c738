"""Three spans of new data played through the pipeline, as scheduled runs would see them arrive: span 1
is the shared small run's data (so its run doubles as a second run from scratch: test_reproducibility),
span 2 new texts, span 3 new texts whose training labels are corrupted; then a re-run with no new span.
Spans 1 and 2 run through beam_runner.py as `make run` does; span 3 through TFX's own CLI with the local
engine (`tfx run create --engine=local`), the re-run with the beam engine: one pipeline, every runner."""
import csv
import dataclasses
import os
import random
from typing import Dict, List

import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2

from pipeline import configs, defaults

from pipeline_runs import FLAGS, SAMPLE, run_cli, run_tfx_cli, summary, tree_digest

SPAN_ROWS = 400
CLASSES = ["negative", "neutral", "positive"]


@dataclasses.dataclass
class SpanRuns:
    summaries: List[Dict[str, str]]  # per run: span 1, 2, 3, the re-run
    stderr: List[str]
    serving_digests: List[str]  # of the serving directory after each run
    serving_root: str


def in_eval_split(text: str) -> bool:
    """Whether CsvExampleGen puts this text into the eval split: TFX's own partition function, configured
    as the pipeline configures it (by a hash of the text, 1 bucket in eval_buckets)."""
    buckets = configs.PipelineConfig.eval_buckets
    record = tf.train.Example(features=tf.train.Features(feature={
        "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))}))
    split_config = example_gen_pb2.SplitConfig(partition_feature_name="text")
    return base_example_gen_executor._PartitionFn(record, 2, [buckets - 1, buckets], split_config) == 1


def write_span(data_dir, span, rows, corrupt_training_labels=False):
    if corrupt_training_labels:  # every training label moved to the next class; the eval split stays true
        rows = [(text, label if in_eval_split(text) else CLASSES[(CLASSES.index(label) + 1) % len(CLASSES)])
                for text, label in rows]
    os.makedirs(data_dir / f"span-{span}")
    with open(data_dir / f"span-{span}" / "data.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *rows])


def play_spans(root, corpus) -> SpanRuns:
    outputs, data = root / "outputs", root / "data"
    # Span 1: the bytes the shared run's --default-sample wrote (same sample, same seed).
    defaults.materialize_corpus(str(data / "span-1"), SAMPLE, configs.PipelineConfig.seed)
    new_rows = random.Random(0).sample(corpus, 2 * SPAN_ROWS)  # the corpus file is sorted by label
    flags = [*FLAGS, "--data", str(data / "span-{SPAN}" / "data.csv"), "--drift-action", "warn"]
    runners = [lambda: run_cli(outputs, *flags), lambda: run_cli(outputs, *flags),
               lambda: run_tfx_cli("local", "local_runner.py", outputs, *flags, home=root / "local_home"),
               lambda: run_tfx_cli("beam", "beam_runner.py", outputs, *flags, home=root / "beam_home")]
    runs, digests = [], []
    for span, run in zip((1, 2, 3, 3), runners):
        if not (data / f"span-{span}").exists():
            write_span(data, span, new_rows[(span - 2) * SPAN_ROWS:(span - 1) * SPAN_ROWS],
                       corrupt_training_labels=span == 3)
        runs.append(run())
        assert runs[-1].returncode == 0, runs[-1].stderr[-3000:]
        digests.append(tree_digest(str(outputs / "serving")))
    return SpanRuns([summary(run.stdout) for run in runs], [run.stderr for run in runs], digests,
                    str(outputs / "serving" / "text_classifier"))
