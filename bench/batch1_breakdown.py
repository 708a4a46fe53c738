"""Where batch 1's time goes: the served encoder alone (model/encoder.py, tokenizer excluded) against ONNX
Runtime's session of the same checkpoint (bench/peer_serving.py), on fixed inputs of a few and of a tweet's
word pieces. What does not shrink with the length is per-call and per-node work; what grows is arithmetic.
Each setting in its own process (thread pools are fixed per process), the settings in turn for --rounds
rounds, each figure a setting's median over the rounds; prints one table, writes nothing.

  python bench/batch1_breakdown.py            (ONNX Runtime's rows need `make peer`)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
PROJECT_DIR = os.path.dirname(BENCH_DIR)
PEER_PYTHON = os.path.join(PROJECT_DIR, ".venv-peer", "bin", "python")
LENGTHS = (2, 35)
# (side, branches of the served encoder or ONNX Runtime's threads, intra-op, inter-op threads)
SETTINGS = [("ours", 1, 1, 1), ("ours", 2, 1, 2), ("onnxruntime", 1, 1, 1), ("onnxruntime", 2, 2, 1)]


def _median_ms(call, calls: int = 300, warmup: int = 30) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def ours(branches: int, intra: int, inter: int) -> dict:
    sys.path.insert(0, PROJECT_DIR)
    import contracts.environment  # noqa: F401  (before TensorFlow)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    from model import encoder, keras_classifier
    from pipeline import defaults

    served = encoder.ServingEncoder(keras_classifier.load_classifier(defaults.default_checkpoint_dir(), 3), branches)
    logits = tf.function(served.logits, input_signature=[tf.TensorSpec([None, None], tf.int64)] * 3)
    nodes = len(logits.get_concrete_function().graph.get_operations())
    result = {"setting": f"ours, {branches} branch(es), intra {intra} / inter {inter} ({nodes} graph nodes)"}
    for length in LENGTHS:
        ids, types = tf.ones([1, length], tf.int64), tf.zeros([1, length], tf.int64)
        result[length] = _median_ms(lambda: logits(ids, ids, types).numpy())  # noqa: B023
    return result


def onnxruntime(threads: int, checkpoint: str) -> dict:
    import tempfile

    import numpy as np
    import peer_serving
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=3, local_files_only=True)
    result = {"setting": f"ONNX Runtime fp32, {threads} thread(s)"}
    with tempfile.TemporaryDirectory() as work_dir:
        run, _ = peer_serving.onnx_runner(model.eval(), threads, False, work_dir)
        for length in LENGTHS:
            inputs = {name: np.ones((1, length), np.int64) for name in peer_serving.INPUTS}
            inputs["token_type_ids"][:] = 0
            result[length] = _median_ms(lambda: run(inputs))  # noqa: B023
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", nargs=4, metavar=("SIDE", "N", "INTRA", "INTER"), help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.one:
        side, n, intra, inter = args.one[0], *map(int, args.one[1:])
        print(json.dumps(ours(n, intra, inter) if side == "ours" else onnxruntime(n, args.checkpoint)))
        return
    sys.path.insert(0, PROJECT_DIR)
    from pipeline import defaults

    measured = {}
    for _ in range(args.rounds):
        for side, n, intra, inter in SETTINGS:
            python = sys.executable if side == "ours" else PEER_PYTHON
            if not os.path.exists(python):
                continue
            done = subprocess.run([python, __file__, "--one", side, str(n), str(intra), str(inter), "--checkpoint",
                                   defaults.default_checkpoint_dir()], capture_output=True, text=True,
                                  env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if done.returncode:
                raise SystemExit(f"{side} {n} failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            measured.setdefault(result.pop("setting"), []).append(result)
    rows = [f"| setting | {' | '.join(f'{n} word pieces (ms, p50)' for n in LENGTHS)} |",
            "|---|" + "---|" * len(LENGTHS)]
    for setting, rounds in measured.items():
        rows.append(f"| {setting} | " + " | ".join(f"{statistics.median(r[str(n)] for r in rounds):.2f}"
                                                 for n in LENGTHS) + " |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
