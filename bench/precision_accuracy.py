"""What a reduced precision costs in accuracy, for bench/serving_latency.py: the pushed model answers the eval
split (the examples of the latest run that wrote the outputs directory) and held-out corpus rows (neither in
the default 12,000-row sample nor in its eval split), once in float32 and once with each reduced precision
(TF Serving's bfloat16 rewrite of the same model, or the model exported again in int8), each in its own
process (bench/ours_serving.py --answer: grappler's options are fixed per process)."""
import glob
import json
import os
import random
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

from contracts import names
from pipeline import configs, defaults
from reports import run_outputs

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
HELD_OUT_ROWS = 2000


def _latest_output(outputs_dir: str, component: str, key: str):
    """The artifact a component wrote in the latest run that wrote the outputs directory, or None."""
    config = configs.PipelineConfig(outputs_dir=outputs_dir)
    if not os.path.exists(config.metadata_path):
        return None
    _, _, outputs = run_outputs.latest_run_outputs(run_outputs.open_store(config.metadata_path))
    return outputs.get(component, {}).get(key)


def transform_dir(outputs_dir: str) -> Optional[str]:
    """The Transform output (the tokenizer) of the latest run, which an export again needs (model/reexport.py)."""
    graph = _latest_output(outputs_dir, names.TRANSFORM, "transform_graph")
    return graph.uri if graph else None


def eval_split(outputs_dir: str) -> Tuple[List[str], List[str]]:
    """(texts, labels) of the eval split ExampleGen wrote in the latest run, or ([], []) without one."""
    import tensorflow as tf

    config = configs.PipelineConfig(outputs_dir=outputs_dir)
    examples = _latest_output(outputs_dir, names.CSV_EXAMPLE_GEN, names.EXAMPLES)
    files = glob.glob(os.path.join(examples.uri, f"Split-{names.EVAL_SPLIT}", "*")) if examples else []
    texts, labels = [], []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        features = tf.train.Example.FromString(record.numpy()).features.feature
        texts.append(features[config.text_column].bytes_list.value[0].decode("utf-8"))
        labels.append(features[config.label_column].bytes_list.value[0].decode("utf-8"))
    return texts, labels


def held_out_rows(seed: int) -> Tuple[List[str], List[str]]:
    """Corpus rows whose text is not in the default run's data (its sample of the corpus)."""
    default = configs.PipelineConfig()
    default_texts = {text for text, _ in defaults.corpus_sample(default.default_sample, default.seed)}
    rows = random.Random(seed).sample([row for row in defaults.read_corpus() if row[0] not in default_texts],
                                      HELD_OUT_ROWS)
    return [text for text, _ in rows], [label for _, label in rows]


def answers(model_dir: str, texts: Sequence[str], precision_args: List[str]) -> List[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(list(texts), f)
        f.flush()
        result = subprocess.run([sys.executable, os.path.join(BENCH_DIR, "ours_serving.py"), "--model", model_dir,
                                 "--answer", f.name, "--intra", "2", "--inter", "2", *precision_args],
                                capture_output=True, text=True, cwd=configs.PROJECT_DIR)
    if result.returncode:
        raise RuntimeError(f"ours_serving.py --answer failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def accuracy(said: Sequence[str], labels: Sequence[str]) -> float:
    return sum(a == b for a, b in zip(said, labels)) / len(labels)


def table(model_dir: str, outputs_dir: str, precisions: Dict[str, Tuple[str, List[str]]], seed: int) -> List[str]:
    """One row per set of texts: float32's accuracy, then each precision's (its model directory and
    ours_serving.py arguments) and how many answers it changed."""
    sets = {"eval split": eval_split(outputs_dir), f"{HELD_OUT_ROWS} held-out corpus rows": held_out_rows(seed)}
    lines = ["| texts | float32 accuracy | " + " | ".join(f"{p} accuracy (change, answers changed)"
                                                          for p in precisions) + " |",
             "|---|---|" + "---|" * len(precisions)]
    for name, (texts, labels) in sets.items():
        if not texts:
            continue
        base = answers(model_dir, texts, [])
        cells = []
        for precision_model, precision_args in precisions.values():
            said = answers(precision_model, texts, precision_args)
            change = accuracy(said, labels) - accuracy(base, labels)
            cells.append(f"{accuracy(said, labels):.4f} ({100 * change:+.2f} points, "
                         f"{sum(a != b for a, b in zip(said, base))} of {len(texts)})")
        lines.append(f"| {name} ({len(texts)}) | {accuracy(base, labels):.4f} | " + " | ".join(cells) + " |")
    return lines
