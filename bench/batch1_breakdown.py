"""Where batch 1's time goes: the served encoder alone (model/encoder.py, tokenizer excluded) against ONNX
Runtime's session of the same checkpoint (bench/peer_serving.py), on fixed inputs of a few and of a tweet's
word pieces. What does not shrink with the length is per-call and per-node work; what grows is arithmetic.
Each setting in its own process (thread pools are fixed per process), the settings in turn for --rounds
rounds, each figure a setting's median over the rounds; prints one table, writes nothing.

The last two rows are the kernels alone: 48 matmuls holding the served encoder's weight volume (24 MatMul +
BiasAdd [384 -> 576] and 24 MatMul [576 -> 384], 10.6 M float32 weights as in MiniLM-L6's six layers), one
thread, rows = word pieces, in TensorFlow (weights as variables, as the SavedModel holds them) and in ONNX
Runtime (which packs the weights once, when the session is made).

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
SETTINGS = [("ours", 1, 1, 1), ("ours", 2, 1, 2), ("onnxruntime", 1, 1, 1), ("onnxruntime", 2, 2, 1),
            ("ours_matmuls", 1, 1, 1), ("onnxruntime_matmuls", 1, 1, 1)]
CHAIN_WIDTHS, CHAIN_LENGTH = (384, 576), 24


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


def _chain_weights():
    """CHAIN_LENGTH (kernel [in, out], bias [out], projection [out, in]) triples, the same in both processes."""
    import numpy as np

    rng = np.random.default_rng(0)
    inner, outer = CHAIN_WIDTHS
    return [(rng.standard_normal((inner, outer), np.float32) * 0.05, rng.standard_normal(outer, np.float32),
             rng.standard_normal((outer, inner), np.float32) * 0.05) for _ in range(CHAIN_LENGTH)]


def _chain_result(side: str, run) -> dict:
    import numpy as np

    result = {"setting": f"matmuls alone, {side}, 1 thread"}
    for length in LENGTHS:
        x = np.random.default_rng(length).standard_normal((length, CHAIN_WIDTHS[0]), np.float32)
        result[length] = _median_ms(lambda: run(x))  # noqa: B023
    return result


def ours_matmuls() -> dict:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    weights = [[tf.Variable(w) for w in triple] for triple in _chain_weights()]

    @tf.function(input_signature=[tf.TensorSpec([None, CHAIN_WIDTHS[0]], tf.float32)])
    def chain(x):
        for kernel, bias, projection in weights:
            x = tf.matmul(tf.nn.bias_add(tf.matmul(x, kernel), bias), projection)
        return x

    return _chain_result("TensorFlow (oneDNN)", lambda x: chain(x).numpy())


def onnxruntime_matmuls() -> dict:
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    nodes, initializers, x = [], [], "x"
    for i, triple in enumerate(_chain_weights()):
        initializers += [numpy_helper.from_array(w, f"{name}{i}") for name, w in zip("wbp", triple)]
        nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]),
                  helper.make_node("MatMul", [f"a{i}", f"p{i}"], [f"y{i}"])]
        x = f"y{i}"
    spec = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["rows", CHAIN_WIDTHS[0]]) for name in ("x", x)]
    graph = helper.make_graph(nodes, "matmuls", spec[:1], spec[1:], initializers)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    session = onnxruntime.InferenceSession(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9).SerializeToString(),
        options, providers=["CPUExecutionProvider"])
    return _chain_result("ONNX Runtime (MLAS)", lambda x: session.run(None, {"x": x}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", nargs=4, metavar=("SIDE", "N", "INTRA", "INTER"), help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.one:
        side, n, intra, inter = args.one[0], *map(int, args.one[1:])
        measure = {"ours": lambda: ours(n, intra, inter), "onnxruntime": lambda: onnxruntime(n, args.checkpoint),
                   "ours_matmuls": ours_matmuls, "onnxruntime_matmuls": onnxruntime_matmuls}[side]
        print(json.dumps(measure()))
        return
    sys.path.insert(0, PROJECT_DIR)
    from pipeline import defaults

    measured = {}
    for _ in range(args.rounds):
        for side, n, intra, inter in SETTINGS:
            python = sys.executable if side.startswith("ours") else PEER_PYTHON
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
