"""Runs of the real pipeline CLI (a subprocess of beam_runner.py, as a user runs it) for the tests."""
import glob
import hashlib
import os
import subprocess
import sys

import tensorflow as tf

from pipeline import configs

SAMPLE, STEPS = 800, 50
# The floor is low because 50 steps train a weak model; the tests are about the mechanisms.
FLAGS = ["--default-sample", str(SAMPLE), "--train-steps", str(STEPS), "--accuracy-floor", "0.3"]


def run_cli(outputs, *flags, runner="beam_runner.py"):
    return subprocess.run([sys.executable, os.path.join(configs.PROJECT_DIR, runner), "--outputs-dir", str(outputs),
                           *flags], cwd=configs.PROJECT_DIR, capture_output=True, text=True, timeout=1800)


def summary(stdout):
    return dict(line.split(": ", 1) for line in stdout.splitlines() if ": " in line)


def tree_digest(root):
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(root, "**"), recursive=True)):
        digest.update(path.encode())
        if os.path.isfile(path):
            digest.update(open(path, "rb").read())
    return digest.hexdigest()


def eval_texts(outputs):
    pattern = os.path.join(str(outputs), "pipeline_root", "*", "CsvExampleGen", "examples", "*", "Split-eval", "*")
    texts = set()
    for record in tf.data.TFRecordDataset(glob.glob(pattern), compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy())
        texts.add(example.features.feature["text"].bytes_list.value[0].decode())
    return texts
