"""Batch scoring throughput (`make bench-score`): `make score` (pipeline/score.py, Beam's RunInference) with 1
and 2 worker processes against the `predict` CLI on the same corpus texts, each a whole command as a user
runs it (Python start, imports, model load, reading, writing), timed by wall clock.

Each side at more than one setting (the CLI's --batch-size, scoring's --score-batch-size); the ratio is
scoring's best 2-worker setting over the CLI's best. Prints one table and writes it into bench/RESULTS.md
with the machine and commit (--no-write: print only). Run it on an otherwise idle machine.
"""
import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import model_benchmark  # noqa: E402

from pipeline import configs, defaults  # noqa: E402

import timing  # noqa: E402

COMMAND = "make bench-score"
GOAL = 1.5  # 2 workers over the CLI, on 2 cores


def write_drop(path: str, count: int, seed: int) -> None:
    rows = random.Random(seed).sample(defaults.read_corpus(), count)
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("id", "text"), *((i, text) for i, (text, _) in enumerate(rows))])


def settings(model_dir: str, drop: str, out: str) -> List[Tuple[str, str, List[str]]]:
    """(side, setting, command)."""
    cli = [sys.executable, "-m", "serving.predict", "--model", model_dir, "--input", drop,
           "--output", os.path.join(out, "cli.csv")]
    score = [sys.executable, "-m", "pipeline.score", "--model", model_dir, "--data", drop,
             "--out", os.path.join(out, "scores")]
    return [("predict CLI", f"--batch-size {size}", cli + ["--batch-size", str(size)]) for size in (32, 128)] + [
        ("make score", f"{workers} worker(s), --score-batch-size {size}",
         score + ["--beam-workers", str(workers), "--score-batch-size", str(size)])
        for workers in (1, 2) for size in (64, 256)]


def checked(command: List[str]) -> str:
    """The command's stdout; its stderr and an exit when it fails."""
    result = subprocess.run(command, cwd=configs.PROJECT_DIR, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def run(command: List[str]) -> float:
    started = time.perf_counter()
    checked(command)
    return time.perf_counter() - started


def ceiling(model_dir: str, drop: str) -> List[str]:
    """What splitting the same work over 2 streams gives at most here: no Beam, no start, no reading."""
    rates = {}
    for streams in (1, 2):
        command = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "stream_ceiling.py"),
                   "--model", model_dir, "--texts", drop, "--streams", str(streams)]
        rates[streams] = float(checked(command).split()[-1])
    return [f"Ceiling (bench/stream_ceiling.py: serving_default in one process, model loaded, batches of 256, no Beam):"
            f" 1 stream on all cores {rates[1]:.1f} texts/s, 2 concurrent streams of 1 core each {rates[2]:.1f}: "
            f"{rates[2] / rates[1]:.2f}x is the most 2 workers can gain over one process here"]


def table(rates: Dict[Tuple[str, str], float], texts: int) -> List[str]:
    lines = ["| side | setting | texts/s (whole command) | seconds |", "|---|---|---|---|"]
    for (side, setting), rate in rates.items():
        lines.append(f"| {side} | {setting} | {rate:.1f} | {texts / rate:.1f} |")
    best_cli = max(rate for (side, _), rate in rates.items() if side == "predict CLI")
    best_two = max(rate for (side, setting), rate in rates.items() if setting.startswith("2 worker"))
    best_one = max(rate for (side, setting), rate in rates.items() if setting.startswith("1 worker"))
    ratio = best_two / best_cli
    lines.append(f"2 workers over the CLI, each at its best setting: {ratio:.2f}x (goal >= {GOAL}x: "
                 f"{'met' if ratio >= GOAL else 'NOT met'}); 1 worker: {best_one / best_cli:.2f}x")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_benchmark.add_arguments(parser)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1, help="every setting this many times, in turn; best kept")
    args = parser.parse_args(argv)
    model_dir = model_benchmark.model_dir(args)
    seconds: Dict[Tuple[str, str], List[float]] = {}
    with tempfile.TemporaryDirectory() as work:
        drop = os.path.join(work, "drop.csv")
        write_drop(drop, args.texts, args.seed)
        for _ in range(args.rounds):
            for side, setting, command in settings(model_dir, drop, work):
                seconds.setdefault((side, setting), []).append(run(command))
                print(f"{side}, {setting}: {seconds[side, setting][-1]:.1f} s", file=sys.stderr, flush=True)
        limit = ceiling(model_dir, drop)
    rates = {key: args.texts / min(values) for key, values in seconds.items()}
    lines = [f"machine: {timing.machine()}",
             f"model: {os.path.relpath(model_dir, configs.PROJECT_DIR)}; {args.texts} corpus texts (seed {args.seed})"
             f" in one CSV; best of {args.rounds} round(s); DirectRunner (2 workers: multi_processing, each "
             "TensorFlow on its share of the cores)",
             *table(rates, args.texts), *limit]
    model_benchmark.publish(COMMAND, lines, args)


if __name__ == "__main__":
    main()
