"""Three spans of new data played through the pipeline, as scheduled runs would see them arrive: span 1
is the shared small run's data (so its run doubles as a second run from scratch: test_reproducibility),
span 2 new texts, span 3 new texts whose training labels are corrupted; then a re-run with no new span.
Spans 1 and 2 run through beam_runner.py as `make run` does; span 3 through TFX's own CLI with the local
engine (`tfx run create --engine=local`), the re-run with the beam engine: one pipeline, every runner.
Each run also scores a new drop of 40 unlabelled texts (--score-data incoming/span-{SPAN}/drop.csv)."""
import csv
import dataclasses
import os
import random
from typing import Dict, List

from contracts import names
from pipeline import configs, defaults

from pipeline_runs import FLAGS, SAMPLE, run_cli, run_tfx_cli, split_config, split_of, summary, tree_digest

SPAN_ROWS = 400
DROP_ROWS = 40
CLASSES = ["negative", "neutral", "positive"]


@dataclasses.dataclass
class SpanRuns:
    summaries: List[Dict[str, str]]  # per run: span 1, 2, 3, the re-run
    stderr: List[str]
    serving_digests: List[str]  # of the serving directory after each run
    serving_root: str


def write_span(data_dir, span, rows, split=None):
    """split: when given, the split configuration of the runs before (pipeline_runs.split_config); every
    training label is then moved to the next class, the eval split's stay true."""
    if split is not None:
        rows = [(text, label if split_of({"text": text, "label": label}, split) == names.EVAL_SPLIT
                 else CLASSES[(CLASSES.index(label) + 1) % len(CLASSES)]) for text, label in rows]
    os.makedirs(data_dir / f"span-{span}")
    with open(data_dir / f"span-{span}" / "data.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *rows])


def write_drop(incoming_dir, span, rows):
    """The drop a scheduled run scores (--score-data): texts with an id, no label."""
    os.makedirs(incoming_dir / f"span-{span}")
    with open(incoming_dir / f"span-{span}" / "drop.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("id", "text"), *((f"{span}-{i}", text) for i, (text, _) in enumerate(rows))])


def play_spans(root, corpus) -> SpanRuns:
    outputs, data, incoming = root / "outputs", root / "data", root / "incoming"
    # Span 1: the bytes the shared run's --default-sample wrote (same sample, same seed).
    defaults.materialize_corpus(str(data / "span-1"), SAMPLE, configs.PipelineConfig.seed)
    new_rows = random.Random(0).sample(corpus, 2 * SPAN_ROWS)  # the corpus file is sorted by label
    # A span's eval split holds ~40 texts: the paired test cannot resolve the default tolerance (0.02) on so
    # few; 0.2 lets a warm-started model as good as the last one through, and still refuses span 3's.
    flags = [*FLAGS, "--data", str(data / "span-{SPAN}" / "data.csv"), "--drift-action", "warn",
             "--regression-tolerance", "0.2", "--score-data", str(incoming / "span-{SPAN}" / "drop.csv")]
    drops = random.Random(1).sample(corpus, 3 * DROP_ROWS)
    runners = [lambda: run_cli(outputs, *flags), lambda: run_cli(outputs, *flags),
               lambda: run_tfx_cli("local", "local_runner.py", outputs, *flags, home=root / "local_home"),
               lambda: run_tfx_cli("beam", "beam_runner.py", outputs, *flags, home=root / "beam_home")]
    runs, digests = [], []
    for span, run in zip((1, 2, 3, 3), runners):
        if not (data / f"span-{span}").exists():
            write_span(data, span, new_rows[(span - 2) * SPAN_ROWS:(span - 1) * SPAN_ROWS],
                       split=split_config(outputs) if span == 3 else None)
        if not (incoming / f"span-{span}").exists():
            write_drop(incoming, span, drops[(span - 1) * DROP_ROWS:span * DROP_ROWS])
        runs.append(run())
        assert runs[-1].returncode == 0, runs[-1].stderr[-3000:]
        digests.append(tree_digest(str(outputs / "serving")))
    return SpanRuns([summary(run.stdout) for run in runs], [run.stderr for run in runs], digests,
                    str(outputs / "serving" / "text_classifier"))
