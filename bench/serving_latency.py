"""`make bench-serving`: serving speed of the pushed model, tokenization included, beside its peers.

Every side classifies the same real corpus texts. Ours is the SavedModel's serving_default, the graph TF
Serving runs (bench/ours_serving.py); the peers (bench/peer_serving.py, after `make peer`) are
BertTokenizerFast + the transformers model + softmax in PyTorch, and the same model exported to ONNX and run
by ONNX Runtime in float32 and with int8 dynamic quantization. Each side runs at 1 and 2 CPU threads, ours
also at the threads serving_config/docker-compose.yml gives TF Serving; every setting is a process of its
own, the settings run in turn for --rounds rounds, a setting's figure is its median over the rounds, and a
side's figure for a metric is its best setting's (both shown).

- batch-1 latency p50 / p99 over --requests single texts, sent one after another;
- batch-32 throughput over --batches batches of --batch-size texts;
- concurrent load: --clients clients each sending single texts for --load-seconds. Ours at the serving
  config's threads, behind TensorFlow's batch scheduler with serving_config/batching_parameters.txt (what
  TF Serving's --enable_batching runs); each peer with --clients worker threads at each thread setting.

Prints one table and writes it into bench/RESULTS.md with the machine and commit, in the block of the machine's
CPU kind (Intel Xeon, AMD EPYC: a goal must hold on each) (--no-write: print only).
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from model import export, reexport
from pipeline import configs, defaults
from serving import server_settings

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import model_benchmark
import precision_accuracy

import timing

PEER_PYTHON = os.path.join(configs.PROJECT_DIR, ".venv-peer", "bin", "python")
COMMAND = "make bench-serving"
OURS, OURS_BF16, OURS_INT8 = "ours", "ours, bfloat16", "ours, int8"
# Our reduced precisions: ours_serving.py's arguments (the bfloat16 rewrite runs the float32 model; int8 is the
# model exported again with --serving-precision int8).
REDUCED = {OURS_BF16: ["--mixed-precision", "bfloat16"], OURS_INT8: []}
# The peers: their name in the tables and peer_serving.py's --runtime.
PEERS = {"PyTorch + transformers": "torch", "ONNX Runtime fp32": "onnxruntime", "ONNX Runtime int8": "onnxruntime-int8"}
# What is compared, with the goals of the first over the second, {metric: (bound, "<=" or ">=")}: our float32
# model against float32 peers; the opt-in reduced precisions (TF Serving's --mixed_precision=bfloat16, the int8
# export) against ONNX Runtime's int8.
COMPARISONS = [
    (OURS, "PyTorch + transformers", {"p50": (0.8, "<="), "p99": (1.0, "<="), "throughput": (1.5, ">="),
                                      "load_throughput": (1.2, ">="), "load_p99": (1.0, "<=")}),
    (OURS, "ONNX Runtime fp32", {"p50": (1.0, "<="), "p99": (1.0, "<="), "throughput": (1.0, ">=")}),
    (OURS_BF16, "ONNX Runtime int8", {"p50": (1.0, "<="), "throughput": (1.0, ">=")}),
    (OURS_INT8, "ONNX Runtime int8", {"p50": (1.0, "<="), "throughput": (1.0, ">=")}),
]
LOWER_IS_BETTER = {"p50", "p99", "load_p99"}


def sample_texts(count: int, batches: int, batch_size: int, seed: int) -> Dict[str, List]:
    texts = [text for text, _ in defaults.read_corpus()]
    rng = random.Random(seed)
    return {"single": rng.sample(texts, count),
            "batches": [rng.sample(texts, batch_size) for _ in range(batches)]}


def settings(peer: bool, int8: bool) -> List[Tuple[str, str, List[str], bool]]:
    """(side, setting name, script arguments, with the load run) in the order each round runs them."""
    intra, inter = server_settings.thread_settings()
    rows = []
    for side, precision in ((OURS, []), *((s, a) for s, a in REDUCED.items() if int8 or s != OURS_INT8)):
        rows += [(side, f"intra {a}, inter {b}" + (" (serving config)" if (a, b) == (intra, inter) else ""),
                  ["--intra", str(a), "--inter", str(b), *precision], (a, b) == (intra, inter))
                 for a, b in sorted({(1, 1), (2, 2), (intra, inter)})]
    if peer:
        rows += [(name, f"{n} thread{'s' if n > 1 else ''}", ["--runtime", runtime, "--threads", str(n)], True)
                 for name, runtime in PEERS.items() for n in (1, 2)]
    return rows


def measure(side: str, args: List[str], common: List[str], load: List[str]) -> Dict:
    python, script = ((PEER_PYTHON, "peer_serving.py") if side in PEERS else (sys.executable, "ours_serving.py"))
    result = subprocess.run([python, os.path.join(BENCH_DIR, script), *args, *common, *load],
                            capture_output=True, text=True, cwd=configs.PROJECT_DIR)
    if result.returncode:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def summarize(result: Dict) -> Dict[str, float]:
    latencies = result["latencies_ms"]
    figures = {"p50": timing.percentile(latencies, 50), "p99": timing.percentile(latencies, 99),
               "throughput": result["batch_texts"] / result["batch_seconds"]}
    if "load" in result:
        load = result["load"]
        figures.update(load_throughput=load["requests"] / load["seconds"],
                       load_p99=timing.percentile(load["latencies_ms"], 99))
    return figures


def medians(rounds: List[Dict[str, float]]) -> Dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def best(figures: Dict[str, Dict[str, float]], metric: str) -> Tuple[Optional[str], Optional[float]]:
    candidates = {name: f[metric] for name, f in figures.items() if metric in f}
    if not candidates:
        return None, None
    pick = min if metric in LOWER_IS_BETTER else max
    name = pick(candidates, key=candidates.get)
    return name, candidates[name]


def goal_cell(goals: Dict[str, Tuple[float, str]], metric: str, ratio: float) -> str:
    if metric not in goals:
        return "-"
    bound, sense = goals[metric]
    met = ratio <= bound if sense == "<=" else ratio >= bound
    return f"{sense} {bound}x: {'met' if met else '**not met**'}"


def table(figures: Dict[str, Dict[str, Dict[str, float]]], batch_size: int, clients: int) -> List[str]:
    """Per comparison, each metric at each side's best setting and their ratio against the goal; then every
    setting of every side."""
    rows = [("batch-1 latency p50 (ms)", "p50"), ("batch-1 latency p99 (ms)", "p99"),
            (f"batch-{batch_size} throughput (texts/s)", "throughput"),
            (f"{clients} concurrent clients: throughput (texts/s)", "load_throughput"),
            (f"{clients} concurrent clients: p99 latency (ms)", "load_p99")]
    lines = []
    for ours, peer, goals in COMPARISONS:
        if peer not in figures:
            skipped = f"{peer}: skipped (no `make peer`)"
            lines += [skipped, ""] if skipped not in lines else []
            continue
        lines += [f"| metric | {ours} | {peer} | {ours} / {peer} | goal |", "|---|---|---|---|---|"]
        for label, metric in rows:
            (ours_name, ours_value), (peer_name, peer_value) = best(figures[ours], metric), best(figures[peer], metric)
            if ours_value is not None and peer_value is not None:
                ratio = ours_value / peer_value
                lines.append(f"| {label} | {ours_value:.1f} ({ours_name}) | {peer_value:.1f} ({peer_name}) | "
                             f"{ratio:.2f}x | {goal_cell(goals, metric, ratio)} |")
        lines.append("")
    lines += ["| side | threads | batch-1 p50 (ms) | batch-1 p99 (ms) | batch-32 texts/s | under load: texts/s "
              "| under load: p99 (ms) |", "|---|---|---|---|---|---|---|"]
    for side, by_setting in figures.items():
        for name, f in by_setting.items():
            load = (f"{f['load_throughput']:.1f} | {f['load_p99']:.1f}" if "load_throughput" in f else "- | -")
            lines.append(f"| {side} | {name} | {f['p50']:.1f} | {f['p99']:.1f} | {f['throughput']:.1f} | {load} |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_benchmark.add_arguments(parser)
    parser.add_argument("--checkpoint", default="", help="the peer's checkpoint (default: the embedded one)")
    parser.add_argument("--requests", type=int, default=300, help="single-text requests timed")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of the load run")
    parser.add_argument("--load-seconds", type=float, default=20, help="length of each load run (<= 60)")
    parser.add_argument("--rounds", type=int, default=3, help="every setting this many times, in turn")
    args = parser.parse_args(argv)
    model_dir = model_benchmark.model_dir(args)
    outputs_dir = os.path.dirname(os.path.dirname(os.path.dirname(model_dir)))
    with tempfile.TemporaryDirectory() as int8_dir:
        bench(args, model_dir, outputs_dir, export_int8(model_dir, outputs_dir, os.path.join(int8_dir, "model")))


def export_int8(model_dir: str, outputs_dir: str, int8_dir: str) -> Optional[str]:
    """The pushed model exported again with --serving-precision int8 (its own weights: model/reexport.py), or
    None when no run in the outputs directory holds the Transform output it needs."""
    transform = precision_accuracy.transform_dir(outputs_dir)
    if transform is None:
        print(f"ours, int8: skipped (no pipeline run under {outputs_dir} to take the tokenizer from)")
        return None
    reexport.reexport(model_dir, transform, int8_dir, serving_precision="int8")
    return int8_dir


def bench(args: argparse.Namespace, model_dir: str, outputs_dir: str, int8_model: Optional[str]) -> None:
    has_peer = os.path.exists(PEER_PYTHON)
    num_classes = len(export.read_hyperparameters(model_dir)["class_names"])
    texts = sample_texts(args.requests, args.batches, args.batch_size, args.seed)
    runs = settings(has_peer, int8_model is not None)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(texts, f)
        f.flush()
        peer_common = ["--checkpoint", args.checkpoint or defaults.default_checkpoint_dir(), "--texts", f.name,
                       "--warmup", str(args.warmup), "--num-classes", str(num_classes),
                       "--max-seq-length", str(configs.PipelineConfig.max_seq_length)]
        ours_common = ["--model", model_dir, "--texts", f.name, "--warmup", str(args.warmup)]
        common = {OURS: ours_common, OURS_BF16: ours_common, **dict.fromkeys(PEERS, peer_common),
                  OURS_INT8: ["--model", int8_model or "", *ours_common[2:]]}
        load = ["--load-seconds", str(args.load_seconds), "--clients", str(args.clients)]
        measured: Dict[Tuple[str, str], List[Dict]] = {}
        versions = {}
        for _ in range(args.rounds):
            for side, name, script_args, with_load in runs:
                result = measure(side, script_args, common[side], load if with_load else [])
                measured.setdefault((side, name), []).append(summarize(result))
                versions[side] = result["versions"]
    figures: Dict[str, Dict[str, Dict[str, float]]] = {}
    for (side, name), rounds in measured.items():
        figures.setdefault(side, {})[name] = medians(rounds)
    intra, inter = server_settings.thread_settings()
    batching = server_settings.batching_parameters()
    lines = [f"machine: {timing.machine()}",
             f"ours: {versions[OURS]}, {os.path.relpath(model_dir, configs.PROJECT_DIR)}; "
             "peers: " + (", ".join(versions[p] for p in PEERS if p in versions) or "not installed (make peer)"),
             f"serving config: intra-op {intra}, inter-op {inter} threads; batching: max_batch_size "
             f"{batching.max_batch_size.value}, batch_timeout_micros {batching.batch_timeout_micros.value}, "
             f"num_batch_threads {batching.num_batch_threads.value}",
             f"{args.requests} single-text requests after {args.warmup} warm-up; {args.batches} batches of "
             f"{args.batch_size}; {args.clients} clients for {args.load_seconds:.0f} s; texts sampled from the "
             f"corpus (seed {args.seed}); medians of {args.rounds} rounds",
             *table(figures, args.batch_size, args.clients), "",
             "What the reduced precisions change (the eval split of the run that pushed the model, held-out rows):",
             *precision_accuracy.table(model_dir, outputs_dir, {
                 "bfloat16": (model_dir, REDUCED[OURS_BF16]),
                 **({"int8": (int8_model, REDUCED[OURS_INT8])} if int8_model else {})}, args.seed)]
    model_benchmark.publish(COMMAND, lines, args, block=f"{COMMAND}, {timing.cpu_kind()}")


if __name__ == "__main__":
    main()
