"""`make bench-long`: training and serving throughput on long documents read whole (--long-text chunk) at 512
word pieces per window. Prints a table with the machine and writes it into bench/RESULTS.md.

Documents: 55 corpus tweets joined (about 1,700 word pieces: 4 windows of 512 at stride 64, the last one
partly filled), the first tweet's label (speed does not depend on it).
- Training: bench/training_speed.py on the documents' windows (the Trainer's step and its batches of
  windows, padded to 512), beside the PyTorch + transformers loop on the same
  documents cut at 512 (bench/peer_training.py, when `make peer` installed it: one full window per
  document), batch 8, all cores, the same checkpoint. Figures per window and per real token.
- Serving: the exported serving function (model/export.py's ExportModule, its windows path: the graph
  tokenizer's windows, the encoder, the mean of each document's logits) on the default checkpoint with a
  new head, at the serving config's threads (1 intra-op, 2 inter-op), batches of 4 documents: documents/s
  and windows/s. No peer row: the PyTorch peer has no windowed serving path to compare with.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

import contracts.environment  # noqa: F401  (before TensorFlow)

from contracts import names
from pipeline import configs, defaults

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import results_file
import timing

MAX_SEQ_LENGTH, STRIDE, BATCH, TWEETS_PER_DOCUMENT = 512, 64, 8, 55
PEER_PYTHON = os.path.join(configs.PROJECT_DIR, ".venv-peer", "bin", "python")


def long_documents(count: int, seed: int):
    """{'texts', 'labels'}: documents of TWEETS_PER_DOCUMENT corpus tweets."""
    corpus = defaults.read_corpus()
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(count):
        tweets = rng.sample(corpus, TWEETS_PER_DOCUMENT)
        texts.append(" ".join(text for text, _ in tweets))
        labels.append(defaults.CORPUS_LABELS.index(tweets[0][1]))
    return {"texts": texts, "labels": labels}


def training(script: str, python: str, texts_file: str, checkpoint: str, steps: int, warmup: int, extra):
    result = subprocess.run(
        [python, os.path.join(BENCH_DIR, script), "--checkpoint", checkpoint, "--texts", texts_file,
         "--padding", "static", "--max-seq-length", str(MAX_SEQ_LENGTH), "--batch-size", str(BATCH),
         "--steps", str(steps), "--warmup", str(warmup), "--threads", str(os.cpu_count()), "--window", str(steps),
         *extra], capture_output=True, text=True, cwd=configs.PROJECT_DIR)
    if result.returncode:
        sys.exit(f"error: {script} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def serving(documents, checkpoint: str, batches: int):
    """Documents/s and windows/s of the exported serving function's windows path, whole batches timed."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    import tasks
    from model import export, keras_classifier
    from preprocessing import tokenize

    config = configs.PipelineConfig(long_text="chunk", max_seq_length=MAX_SEQ_LENGTH, chunk_stride=STRIDE)
    settings = config.trainer_settings()
    tokenizer = tokenize.BertGraphTokenizer(tokenize.load_wordpiece_spec(checkpoint))

    class WindowTransform(tf.Module):  # what preprocessing_fn computes for long texts at serving time
        def __call__(self, raw):
            return tasks.input_shape(settings.task).encode(tokenizer, [tf.reshape(raw["text"], [-1])])

    module = export.ExportModule(
        keras_classifier.load_classifier(checkpoint, len(defaults.CORPUS_LABELS)), WindowTransform(),
        defaults.CORPUS_LABELS, {"text": tf.io.FixedLenFeature([], tf.string)}, export.ExportSettings.of(settings), {})
    texts = documents["texts"]
    window_counts = tokenizer.encode_windows(tf.constant(texts), MAX_SEQ_LENGTH, STRIDE)[1].numpy()
    size = 4
    serve = module.signatures()[names.SERVING_DEFAULT]  # traces
    start = time.perf_counter()
    for i in range(batches):
        serve(text=tf.constant(texts[i * size:(i + 1) * size]))
    seconds = time.perf_counter() - start
    return {"documents_per_s": batches * size / seconds,
            "windows_per_s": float(window_counts[:batches * size].sum()) / seconds,
            "windows_per_document": float(window_counts[:batches * size].mean())}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6, help="timed training steps per side")
    parser.add_argument("--warmup", type=int, default=2, help="training steps before the clock starts")
    parser.add_argument("--serving-batches", type=int, default=6, help="timed serving batches of 4 documents")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md as it is")
    args = parser.parse_args(argv)
    checkpoint = defaults.default_checkpoint_dir()
    documents = long_documents(64, seed=0)
    with tempfile.TemporaryDirectory() as scratch:
        texts_file = os.path.join(scratch, "documents.json")
        with open(texts_file, "w") as f:
            json.dump(documents, f)
        ours = training("training_speed.py", sys.executable, texts_file, checkpoint, args.steps, args.warmup,
                        ["--window-stride", str(STRIDE)])
        peer = (training("peer_training.py", PEER_PYTHON, texts_file, checkpoint, args.steps, args.warmup,
                         ["--learning-rate", "1e-4", "--weight-decay", "0.01", "--warmup-fraction", "0.1",
                          "--seed", "42"])
                if os.path.exists(PEER_PYTHON) else None)
    served = serving(documents, checkpoint, args.serving_batches)
    lines = [f"machine: {timing.machine()}", "",
             f"| long documents, {MAX_SEQ_LENGTH} word pieces per window, batch {BATCH} | windows/s | "
             "real tokens/s | peak RSS (MB) |", "|---|---|---|---|",
             f"| training, ours (windows at stride {STRIDE}, the Trainer's step) | {ours['sequences_per_s']:.2f} | "
             f"{ours['real_tokens_per_s']:.0f} | {ours['peak_rss_mb']:.0f} |"]
    lines.append(f"| training, PyTorch + transformers (first window) | {peer['sequences_per_s']:.2f} | "
                 f"{peer['real_tokens_per_s']:.0f} | {peer['peak_rss_mb']:.0f} |" if peer else
                 "| training, PyTorch + transformers | skipped (no `make peer`) | | |")
    lines += ["", "| serving, --long-text chunk (mean of windows), batches of 4 documents | documents/s | windows/s | "
              "windows per document |", "|---|---|---|---|",
              f"| ours, exported serving function, 1 + 2 threads | {served['documents_per_s']:.2f} | "
              f"{served['windows_per_s']:.2f} | {served['windows_per_document']:.1f} |"]
    print("\n".join(lines))
    if not args.no_write:
        header = (f"Measured by `make bench-long` at commit {results_file.commit()} on {time.strftime('%Y-%m-%d')}; "
                  f"training: {args.warmup} warm-up + {args.steps} timed steps per side; serving: "
                  f"{args.serving_batches} timed batches after one warm-up batch.")
        results_file.write_block("make bench-long", header, lines)


if __name__ == "__main__":
    main()
