"""`make bench`: tokenization, training and pipeline speed, beside the PyTorch + transformers peer.

One run, one machine, one table (also written into bench/RESULTS.md with the commit):
1. tokenization of the whole corpus: the Transform graph's tokenizer vs transformers' BertTokenizerFast,
   with the ids compared (parity);
2. training throughput in real (non-padding) tokens/s and sequences/s: our Trainer's input and step
   (bench/training_speed.py) vs the PyTorch loop (bench/peer_training.py, when `make peer` installed it),
   with static padding and with each side's way of skipping padding; same checkpoint, texts, batch, threads;
3. the step's model FLOP/s as a fraction of the matmul peak measured here;
4. full fine-tune vs LoRA, and gradient checkpointing: trainable parameters, peak memory, step time, eval
   accuracy after the same steps (bench/finetune_compare.py; `--skip-finetune` skips it);
5. the default pipeline run, cold and re-run twice with nothing changed, with its peak resident memory, and
   `make bench-serving` on the model it pushed (`--skip-pipeline` skips these).
Each training configuration runs in its own process, so its peak memory is its own.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

from pipeline import configs, defaults

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import finetune_compare
import results_file
import timing

PEER_PYTHON = os.path.join(configs.PROJECT_DIR, ".venv-peer", "bin", "python")

# (row label, script, its arguments), run in this order in every round; each of our rows is compared with
# both peer rows.
TRAINING_RUNS = [
    ("ours, padded to max_seq_length", "training_speed.py", ["--padding", "static"]),
    ("peer, padded to max_seq_length", "peer_training.py", ["--padding", "static"]),
    ("ours, length buckets cut to their longest (the Trainer)", "training_speed.py", ["--padding", "buckets"]),
    ("ours, buckets, sparse embedding update (before)", "training_speed.py",
     ["--padding", "buckets", "--sparse-embedding-update"]),
    ("ours, buckets + XLA", "training_speed.py", ["--padding", "buckets", "--jit-compile"]),
    ("ours, buckets + mixed_bfloat16", "training_speed.py", ["--padding", "buckets", "--precision", "mixed_bfloat16"]),
    ("peer, dynamic padding (DataCollatorWithPadding)", "peer_training.py", ["--padding", "dynamic"]),
]


def training_texts(count: int, seed: int) -> Dict[str, List]:
    rows = random.Random(seed).sample(defaults.read_corpus(), count)
    return {"texts": [text for text, _ in rows],
            "labels": [defaults.CORPUS_LABELS.index(label) for _, label in rows]}


def run_training(script: str, args: List[str], common: List[str]) -> Optional[Dict]:
    """One configuration in its own process; `common` holds the flags both sides take."""
    config = configs.PipelineConfig()
    if script == "peer_training.py":
        if not os.path.exists(PEER_PYTHON):
            return None
        python = PEER_PYTHON
        common = common + ["--max-seq-length", str(config.max_seq_length), "--batch-size", str(config.batch_size),
                            "--learning-rate", str(config.learning_rate), "--weight-decay", str(config.weight_decay),
                            "--warmup-fraction", str(config.warmup_fraction), "--seed", str(config.seed)]
    else:
        python = sys.executable
    result = subprocess.run([python, os.path.join(BENCH_DIR, script), *args, *common], capture_output=True,
                            text=True, cwd=configs.PROJECT_DIR)
    if result.returncode:
        sys.exit(f"error: {script} {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def fastest(results) -> Optional[Dict]:
    """The least disturbed of a configuration's runs: other tenants of the host only ever slow a run down."""
    return None if results[0] is None else max(results, key=lambda r: r["real_tokens_per_s"])


def step_flops_per_token(checkpoint: str) -> Dict[str, float]:
    """Training FLOPs ~ 6 x (non-embedding parameters) per token, plus attention's 12 x layers x hidden x
    sequence length per token (scores and weighted sum, forward and backward)."""
    config = json.load(open(os.path.join(checkpoint, "config.json")))
    d, ff, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    per_layer = 4 * d * d + 2 * d * ff
    return {"dense": 6 * layers * per_layer, "attention_per_position": 12 * layers * d}


def matmul_peak_gflops() -> float:
    import tensorflow as tf

    a = tf.random.normal([2048, 2048])
    square = tf.function(lambda a: tf.reduce_sum(tf.matmul(a, a)))
    square(a).numpy()
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        square(a).numpy()
        best = max(best, 2 * 2048 ** 3 / (time.perf_counter() - start) / 1e9)
    return best


def tokenization(checkpoint: str, max_seq_length: int, rounds: int) -> Dict[str, float]:
    """Both tokenizers over the whole corpus in batches of 1,000 (Transform's batch size), in turn, `rounds`
    times; the fastest pass of each counts. The ids of every text are compared."""
    import tensorflow as tf
    from transformers import BertTokenizerFast

    from preprocessing import tokenize

    texts = [text for text, _ in defaults.read_corpus()]
    chunks = [texts[i:i + 1000] for i in range(0, len(texts), 1000)]
    graph = tokenize.BertGraphTokenizer(tokenize.load_wordpiece_spec(checkpoint))
    encode = tf.function(lambda t: graph.encode(t, max_seq_length), input_signature=[tf.TensorSpec([None], tf.string)])
    reference = BertTokenizerFast.from_pretrained(checkpoint, local_files_only=True)
    encode(tf.constant(chunks[0]))
    reference(chunks[0], truncation=True, max_length=max_seq_length)

    ours_seconds = peer_seconds = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        ours = [encode(tf.constant(chunk)) for chunk in chunks]
        ours_seconds = min(ours_seconds, time.perf_counter() - start)
        start = time.perf_counter()
        theirs = [reference(chunk, truncation=True, max_length=max_seq_length)["input_ids"] for chunk in chunks]
        peer_seconds = min(peer_seconds, time.perf_counter() - start)

    mismatches = 0
    for out, expected in zip(ours, theirs):
        ids, mask = out["input_ids"].numpy(), out["attention_mask"].numpy()
        mismatches += sum(row[:m.sum()].tolist() != e for row, m, e in zip(ids, mask, expected))
    return {"texts": len(texts), "ours_per_s": len(texts) / ours_seconds, "peer_per_s": len(texts) / peer_seconds,
            "mismatches": mismatches}


def run_pipeline(args: List[str]) -> Dict:
    """`beam_runner.py` as `make run` runs it: wall time, peak resident memory and the eval accuracy."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "beam_runner.py", *args], cwd=configs.PROJECT_DIR,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"beam_runner.py {' '.join(args)} failed:\n{output[-3000:]}")
    accuracy = re.search(r"eval accuracy: (\S+)", output)
    cached = re.search(r"(\d+) component\(s\) executed, (\d+) cached", output)
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "accuracy": accuracy and accuracy.group(1),
            "cached": cached and f"{cached.group(2)} of {int(cached.group(1)) + int(cached.group(2))}"}


def training_rows(runs: List, flops: Dict[str, float], peak_gflops: float) -> List[str]:
    """One row per configuration; ours in real tokens/s against both of the peer's rows."""
    peers = {"static": next((r for label, _, r in runs if label.startswith("peer, padded")), None),
             "dynamic": next((r for label, _, r in runs if label.startswith("peer, dynamic")), None)}
    rows = ["| training step (batch 16, max_seq_length 64) | real tokens/s | sequences/s | padding computed | "
            "model GFLOP/s (of matmul peak) | peak RSS (MB) | / peer static | / peer dynamic | "
            "real tokens/s, whole run |",
            "|---|---|---|---|---|---|---|---|---|"]
    for label, _, result in runs:
        if result is None:
            rows.append(f"| {label} | skipped (no `make peer`) | | | | | | | |")
            continue
        gflops = (flops["dense"] * result["computed_tokens_per_s"]
                  + flops["attention_per_position"] * result["attention_positions_per_s"]) / 1e9
        ratios = ["" if label.startswith("peer") or not peer else
                  f"{result['real_tokens_per_s'] / peer['real_tokens_per_s']:.2f}x" for peer in peers.values()]
        rows.append(f"| {label} | {result['real_tokens_per_s']:.0f} | {result['sequences_per_s']:.1f} | "
                    f"{result['padding_fraction']:.0%} | {gflops:.1f} ({gflops / peak_gflops:.0%}) | "
                    f"{result['peak_rss_mb']:.0f} | {' | '.join(ratios)} | "
                    f"{result['whole_run_real_tokens_per_s']:.0f} |")
    return rows


def report(machine: str, versions: str, tokens: Dict, runs: List, flops: Dict, peak: float,
           finetuning: List[str], pipeline: Optional[Dict]) -> List[str]:
    lines = [f"machine: {machine}", versions, f"float32 matmul peak (2048x2048, TensorFlow): {peak:.1f} GFLOP/s", "",
             "| tokenization, whole corpus | texts/s | parity |", "|---|---|---|",
             f"| Transform graph tokenizer (TF Text) | {tokens['ours_per_s']:.0f} | "
             f"{tokens['mismatches']} mismatches / {tokens['texts']} texts |",
             f"| transformers BertTokenizerFast (Rust) | {tokens['peer_per_s']:.0f} | reference |",
             f"| ours / BertTokenizerFast | {tokens['ours_per_s'] / tokens['peer_per_s']:.2f}x | |", ""]
    lines += training_rows(runs, flops, peak)
    if finetuning:
        lines += ["", *finetuning]
    if pipeline:
        cold = pipeline["cold"]
        lines += ["", "| default pipeline run (`make run`) | wall time | peak RSS (MB) | eval accuracy |",
                  "|---|---|---|---|",
                  f"| cold | {cold['seconds'] / 60:.1f} min | {cold['peak_rss_mb']:.0f} | {cold['accuracy']} |"]
        # The second run's Evaluator has a new input, the model the first run blessed, as its baseline.
        for name in ("second", "third"):
            run = pipeline[name]
            lines.append(f"| {name} run, nothing changed ({run['cached']} cached) | {run['seconds']:.0f} s "
                         f"({run['seconds'] / cold['seconds']:.0%} of cold) | {run['peak_rss_mb']:.0f} | "
                         f"{run['accuracy']} |")
        lines += ["", "serving the pushed model (`make bench-serving`):", *pipeline["serving"]]
    return lines


def serving_table(model_dir: str) -> List[str]:
    """bench/serving_latency.py (`make bench-serving`) on the model the cold run pushed."""
    result = subprocess.run([sys.executable, os.path.join(BENCH_DIR, "serving_latency.py"), "--model", model_dir,
                             "--no-write"],
                            capture_output=True, text=True, cwd=configs.PROJECT_DIR)
    if result.returncode:
        raise RuntimeError(f"serving_latency.py failed:\n{result.stderr[-3000:]}")
    return [line for line in result.stdout.splitlines() if line.startswith("|")]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60, help="timed training steps per configuration")
    parser.add_argument("--warmup", type=int, default=30,
                        help="training steps before the clock starts (ours retraces for the first new lengths)")
    parser.add_argument("--window", type=int, default=20,
                        help="training figures are those of the fastest this-many consecutive steps")
    parser.add_argument("--rounds", type=int, default=2,
                        help="every measurement this many times, in turn; the fastest counts (noisy neighbours)")
    parser.add_argument("--texts", type=int, default=4000, help="corpus texts the training runs draw from")
    parser.add_argument("--skip-finetune", action="store_true", help="skip the full fine-tune vs LoRA comparison")
    parser.add_argument("--skip-pipeline", action="store_true", help="skip the default runs and the serving benchmark")
    parser.add_argument("--pipeline-args", default="", help="flags for both pipeline runs, e.g. '--train-steps 50'")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md as it is")
    args = parser.parse_args(argv)

    import tensorflow as tf

    threads = os.cpu_count()
    tf.config.threading.set_intra_op_parallelism_threads(threads)  # before TensorFlow's runtime starts
    config = configs.PipelineConfig()
    checkpoint = defaults.default_checkpoint_dir()
    tokens = tokenization(checkpoint, config.max_seq_length, args.rounds)
    peak = matmul_peak_gflops()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(training_texts(args.texts, config.seed), f)
        f.flush()
        common = ["--checkpoint", checkpoint, "--texts", f.name, "--threads", str(threads),
                  "--steps", str(args.steps), "--warmup", str(args.warmup), "--window", str(args.window)]
        rounds = [[run_training(script, script_args, common) for _, script, script_args in TRAINING_RUNS]
                  for _ in range(args.rounds)]
    runs = [(label, script_args, fastest(results))
            for (label, _, script_args), results in zip(TRAINING_RUNS, zip(*rounds))]
    finetuning, pipeline, failure = [], None, None
    if not args.skip_finetune:
        try:
            finetuning = finetune_compare.compare(threads)
        except RuntimeError as e:  # as for the pipeline below: what was measured is still printed
            failure = str(e)
    if not args.skip_pipeline:
        with tempfile.TemporaryDirectory() as outputs:
            flags = ["--outputs-dir", outputs, *args.pipeline_args.split()]
            try:
                pipeline = {"cold": run_pipeline(flags), "second": run_pipeline(flags), "third": run_pipeline(flags)}
                pipeline["serving"] = serving_table(os.path.join(outputs, "serving", config.model_name))
            except RuntimeError as e:  # the training rows above are still worth printing
                failure = str(e)

    peer_versions = next((r["versions"] for _, _, r in runs if r and r["versions"].startswith("torch")),
                         "peer not installed (make peer)")
    versions = f"ours: tensorflow {tf.__version__}; peer: {peer_versions}; {threads} CPU threads each"
    lines = report(timing.machine(), versions, tokens, runs, step_flops_per_token(checkpoint), peak, finetuning,
                   pipeline)
    print("\n".join(lines))
    if failure:
        sys.exit(f"error: {failure}\nbench/RESULTS.md left as it was")
    if not args.no_write:
        header = (f"Measured by `make bench` at commit {results_file.commit()} on {time.strftime('%Y-%m-%d')}; "
                  f"training: {args.warmup} warm-up + {args.steps} timed steps per configuration, "
                  f"figures of its fastest {args.window} consecutive steps; every figure the fastest "
                  f"of {args.rounds} rounds run in turn.")
        results_file.write_block("make bench", header, lines)


if __name__ == "__main__":
    main()
