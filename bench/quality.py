"""`make bench-quality`: each task's model against a PyTorch + transformers script of the same checkpoint, on held-out
rows neither side trained on (bench/quality_data.py builds each task's data from the corpus).

Our side is the default command a user runs for the task (`beam_runner.py` with the task's flags and `make
schema`'s schema; nothing else set), timed whole; its pushed model answers the held-out rows through
serving_default. The script's side (bench/peer_finetune.py, in the peer's venv: `make peer`) trains 3 epochs on the
same training CSV and answers them after epochs 1 and 3. Score: accuracy, or for multi-label the macro F1 over the
labels (each label's F1 also printed). Prints a table and writes it into bench/RESULTS.md.

  python bench/quality.py [--tasks one_text,long_text] [--work-dir /tmp/bench-quality] [--skip-peer]
      [--flags "--long-text truncate"]   (extra flags for our side, a one-variable experiment; not written)
"""
import argparse
import csv
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Sequence

from pipeline import configs, defaults

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
PROJECT_DIR = configs.PROJECT_DIR
sys.path.insert(0, BENCH_DIR)
import quality_data
import results_file
import timing

PEER_PYTHON = os.path.join(PROJECT_DIR, ".venv-peer", "bin", "python")
# The script's settings, as a user's usual fine-tune (AdamW 1e-4, batch 16, 10% warm-up, 3 epochs).
PEER_EPOCHS = 3


def scores(labels: Sequence[Sequence[str]], answers: Sequence[Sequence[str]], multi_label: bool) -> Dict[str, float]:
    """{"score": accuracy, or macro F1 over the labels seen in `labels`, and "f1 <label>" for each label}."""
    if not multi_label:
        return {"score": sum(set(a) == set(b) for a, b in zip(labels, answers)) / len(labels)}
    f1 = {}
    for label in sorted({label for row in labels for label in row}):
        truth = [label in row for row in labels]
        said = [label in row for row in answers]
        hits = sum(t and s for t, s in zip(truth, said))
        f1[f"f1 {label}"] = 2 * hits / (sum(truth) + sum(said)) if hits else 0.0
    return {"score": sum(f1.values()) / len(f1), **f1}


def _read(path: str, separator: str):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return rows, [row["label"].split(separator) if separator else [row["label"]] for row in rows]


def _flag(flags: List[str], name: str) -> str:
    return flags[flags.index(name) + 1] if name in flags else ""


def ours(task: str, paths: Dict[str, str], work: str, extra: List[str]) -> Dict:
    """The default command for the task, timed whole; its pushed model's answers on the held-out rows."""
    flags = quality_data.FLAGS[task] + extra
    schema = os.path.join(work, "schema.pbtxt")
    schema_flags = [f for name in ("--text-pair-column", "--label-separator") if _flag(flags, name)
                    for f in (name, _flag(flags, name))]
    made = subprocess.run([sys.executable, "-m", "pipeline.schema_tool", "--data", paths["train"], "--out", schema,
                           *schema_flags], cwd=PROJECT_DIR, capture_output=True, text=True)
    if made.returncode:
        raise SystemExit(f"make schema failed for {task}: {made.stderr[-2000:]}")
    # A fresh outputs directory: the model an earlier bench pushed there would warm-start this run and be the
    # baseline its blessing is judged against.
    shutil.rmtree(os.path.join(work, "outputs"), ignore_errors=True)
    command = [sys.executable, "beam_runner.py", "--outputs-dir", os.path.join(work, "outputs"), "--data",
               paths["train"], "--schema", schema, *flags]
    start = time.monotonic()
    run = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if run.returncode:
        raise SystemExit(f"the pipeline failed for {task}: {run.stderr[-3000:]}")
    lines = dict(line.split(": ", 1) for line in run.stdout.splitlines() if ": " in line)
    from serving.predict import Classifier

    separator = _flag(flags, "--label-separator")
    rows, _ = _read(paths["held_out"], separator)
    classifier = Classifier(_model_to_score(lines, work))
    answers = []
    for start_row in range(0, len(rows), 64):
        batch = rows[start_row:start_row + 64]
        pairs = [row["text_pair"] for row in batch] if classifier.takes_pairs else None
        answers += [p["label"].split(separator) if separator else [p["label"]]
                    for p in classifier.predict([row["text"] for row in batch], pairs)]
    return {"seconds": seconds, "answers": answers, "blessed": lines.get("blessed", "?"),
            "training": lines.get("training", ""), "command": " ".join(["python", *command[1:]])}


def _model_to_score(lines: Dict[str, str], work: str) -> str:
    """The pushed model; a model the BlessingGate refused is scored all the same (the Trainer's export), so the
    table says how good it was, beside "blessed no"."""
    if lines.get("blessed") == "yes":
        return lines["pushed"]
    trained = glob.glob(os.path.join(work, "outputs", "**", "Trainer", "model", "*", "Format-Serving"), recursive=True)
    return max(trained, key=os.path.getmtime)


def peer(task: str, paths: Dict[str, str]) -> Dict:
    flags = quality_data.FLAGS[task]
    command = [PEER_PYTHON, os.path.join(BENCH_DIR, "peer_finetune.py"), "--checkpoint",
               defaults.default_checkpoint_dir(), "--train", paths["train"], "--held-out", paths["held_out"],
               "--epochs", str(PEER_EPOCHS), "--label-separator", _flag(flags, "--label-separator")]
    if _flag(flags, "--max-seq-length"):
        command += ["--max-seq-length", _flag(flags, "--max-seq-length")]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"the peer script failed for {task}: {run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(quality_data.BUILDERS))
    parser.add_argument("--work-dir", default="/tmp/bench-quality")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--flags", default="", help="extra flags for our side (then nothing is written)")
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    corpus = defaults.read_corpus()
    extra = shlex.split(args.flags)
    rows = []
    for task in args.tasks.split(","):
        work = os.path.join(args.work_dir, task)
        paths = quality_data.write(task, corpus, work)
        separator = _flag(quality_data.FLAGS[task], "--label-separator")
        labels = _read(paths["held_out"], separator)[1]
        result = ours(task, paths, work, extra)
        ours_scores = scores(labels, result["answers"], bool(separator))
        row = {"task": task, "ours": ours_scores, "ours_seconds": result["seconds"], "blessed": result["blessed"],
               "training": result["training"], "command": result["command"]}
        if not args.skip_peer and task != "long_text":  # the script reads a text's first max_length pieces only
            answered = peer(task, paths)
            row["peer"] = [{"epoch": e["epoch"], "seconds": e["seconds"],
                            **scores(labels, e["answers"], bool(separator))} for e in answered["epochs"]]
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines = _table(rows)
    print("\n".join(lines))
    if not extra:
        results_file.write_block("make bench-quality", f"`make bench-quality` at {results_file.commit()}, "
                                 f"{timing.machine()}", lines)


def _table(rows: List[Dict]) -> List[str]:
    lines = ["| task | ours: score, blessed, wall time | script epoch 1 | script epoch 3 | ours - script 3 |",
             "|---|---|---|---|---|"]
    for row in rows:
        peer_rows = {p["epoch"]: p for p in row.get("peer", [])}
        cell = lambda p: f"{p['score']:.4f} ({p['seconds'] / 60:.1f} min of training)" if p else "-"
        last = peer_rows.get(PEER_EPOCHS)
        difference = f"{100 * (row['ours']['score'] - last['score']):+.1f} points" if last else "-"
        lines.append(f"| {row['task']} | {row['ours']['score']:.4f}, blessed {row['blessed']}, "
                     f"{row['ours_seconds'] / 60:.1f} min | {cell(peer_rows.get(1))} | {cell(last)} | {difference} |")
    for row in rows:
        per_label = {k: v for k, v in row["ours"].items() if k.startswith("f1 ")}
        if per_label:
            lines.append(f"{row['task']}, ours, per label: " +
                         ", ".join(f"{k[3:]} {v:.2f}" for k, v in per_label.items()))
            for p in row.get("peer", []):
                lines.append(f"{row['task']}, script epoch {p['epoch']}, per label: " +
                             ", ".join(f"{k[3:]} {v:.2f}" for k, v in p.items() if k.startswith("f1 ")))
        lines.append(f"{row['task']}: `{row['command']}`; {row['training']}")
    return lines


if __name__ == "__main__":
    main()
