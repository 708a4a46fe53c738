"""Serving speed of the pushed model, tokenization included, beside the PyTorch + transformers peer.

`make bench-serving` (after `make run`; `make peer` adds the peer column). Both sides classify the same
real corpus texts on the same CPU threads: batch-1 latency p50/p99 over single-text requests, and
throughput over batches of --batch-size texts. Ours calls the SavedModel's serving_default signature, the
graph TF Serving runs (minus the RPC); the peer runs tokenizer + model + softmax in PyTorch.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from typing import Dict, List

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from pipeline import configs, defaults  # noqa: E402
from serving import predict  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timing  # noqa: E402

PEER_PYTHON = os.path.join(configs.PROJECT_DIR, ".venv-peer", "bin", "python")
PEER_SCRIPT = os.path.join(configs.PROJECT_DIR, "bench", "peer_serving.py")


def sample_texts(count: int, batches: int, batch_size: int, seed: int) -> Dict[str, List]:
    texts = [text for text, _ in defaults.read_corpus()]
    rng = random.Random(seed)
    return {"single": rng.sample(texts, count),
            "batches": [rng.sample(texts, batch_size) for _ in range(batches)]}


def measure_ours(model_dir: str, texts: Dict[str, List], warmup: int) -> Dict:
    import tensorflow as tf

    classifier = predict.Classifier(model_dir)
    signature = classifier.signature

    def classify(batch):
        out = signature(text=tf.constant(batch))
        return out["probabilities"].numpy(), out["class_id"].numpy()

    result = timing.time_classifier(classify, texts, warmup)
    return {**result, "versions": f"tensorflow {tf.__version__}", "model_dir": classifier.model_dir,
            "num_classes": len(classifier.class_names)}


def measure_peer(checkpoint: str, texts: Dict[str, List], num_classes: int, warmup: int, threads: int):
    if not os.path.exists(PEER_PYTHON):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(texts, f)
        f.flush()
        result = subprocess.run(
            [PEER_PYTHON, PEER_SCRIPT, "--checkpoint", checkpoint, "--texts", f.name, "--num-classes", str(num_classes),
             "--max-seq-length", str(configs.PipelineConfig.max_seq_length), "--threads", str(threads),
             "--warmup", str(warmup)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def summarize(result: Dict) -> Dict[str, float]:
    latencies = np.array(result["latencies_ms"])
    return {"p50": float(np.percentile(latencies, 50)), "p99": float(np.percentile(latencies, 99)),
            "throughput": result["batch_texts"] / result["batch_seconds"]}


def table(ours: Dict, peer, batch_size: int) -> List[str]:
    a = summarize(ours)
    b = summarize(peer) if peer else None
    rows = [("batch-1 latency p50 (ms)", "p50", "{:.1f}", "lower"),
            ("batch-1 latency p99 (ms)", "p99", "{:.1f}", "lower"),
            (f"batch-{batch_size} throughput (texts/s)", "throughput", "{:.1f}", "higher")]
    lines = ["| metric | this pipeline (TF SavedModel) | PyTorch + transformers | ours / peer |",
             "|---|---|---|---|"]
    for label, key, fmt, _ in rows:
        peer_cell = fmt.format(b[key]) if b else "skipped (no `make peer`)"
        ratio = f"{a[key] / b[key]:.2f}x" if b else "-"
        lines.append(f"| {label} | {fmt.format(a[key])} | {peer_cell} | {ratio} |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=configs.PipelineConfig().serving_model_root,
                        help="pushed SavedModel or serving root (newest version)")
    parser.add_argument("--checkpoint", default="", help="the peer's checkpoint (default: the embedded one)")
    parser.add_argument("--requests", type=int, default=300, help="single-text requests timed")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import tensorflow as tf

    threads = os.cpu_count()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    texts = sample_texts(args.requests, args.batches, args.batch_size, args.seed)
    try:
        ours = measure_ours(args.model, texts, args.warmup)
    except predict.PredictError as e:
        sys.exit(f"error: {e}")
    peer = measure_peer(args.checkpoint or defaults.default_checkpoint_dir(), texts, ours["num_classes"],
                        args.warmup, threads)
    print(f"machine: {timing.machine()}")
    print(f"ours: {ours['versions']}, model {ours['model_dir']}; peer: {peer['versions'] if peer else 'not installed'}")
    print(f"{args.requests} single-text requests after {args.warmup} warm-up; {args.batches} batches of "
          f"{args.batch_size}; {threads} CPU threads each; texts sampled from the corpus (seed {args.seed})")
    print("\n".join(table(ours, peer, args.batch_size)))


if __name__ == "__main__":
    main()
