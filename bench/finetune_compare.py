"""Full fine-tune vs LoRA, and gradient checkpointing, side by side (run by `make bench`, or alone:
`python bench/finetune_compare.py`): trainable parameters, peak memory, step time and eval accuracy after
the same number of steps on the default data. Prints table rows.

Each configuration trains in its own process (so its peak resident memory is its own) with the Trainer's
pieces: the classifier, model/training.py's apply_training_options and compile_for_training, and the
Trainer's length-bucketed batches (bench/training_speed.py). Then it classifies held-out corpus texts.
"""
import argparse
import dataclasses
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from typing import Dict, List

from pipeline import configs, defaults

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import timing

STEPS, MEMORY_STEPS, EVAL_TEXTS = 400, 12, 2000
LORA = {"lora_rank": 8, "lora_alpha": 16.0, "lora_dropout": 0.1, "lora_targets": "query,value"}
# (row label, options over the default configuration, which data: "default" trains on the default data and
# is evaluated; "memory" runs a few steps of long, fully padded batches, where activations dominate memory)
CONFIGURATIONS = [
    ("full fine-tune (default)", {}, "default"),
    ("LoRA r=8 on query, value; default learning rate", LORA, "default"),
    ("LoRA r=8 on query, value; learning rate 5e-4", {**LORA, "learning_rate": 5e-4}, "default"),
    ("full fine-tune + gradient checkpointing", {"gradient_checkpointing": True}, "default"),
    ("full fine-tune, batch 64 x 128 tokens", {"batch_size": 64, "max_seq_length": 128}, "memory"),
    ("full + checkpointing, batch 64 x 128 tokens",
     {"batch_size": 64, "max_seq_length": 128, "gradient_checkpointing": True}, "memory"),
    ("LoRA + checkpointing, batch 64 x 128 tokens",
     {**LORA, "batch_size": 64, "max_seq_length": 128, "gradient_checkpointing": True}, "memory"),
]


def train_one(options: Dict, texts_file: str, steps: int, warmup: int, threads: int) -> Dict:
    """In the child process: train `steps` steps with `options`, then classify the eval texts."""
    import numpy as np
    import tensorflow as tf
    import tf_keras
    import training_speed

    from model import keras_classifier, training

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    config = dataclasses.replace(configs.PipelineConfig(), **options)
    hp = config.trainer_settings()
    max_seq_length = config.max_seq_length
    tf_keras.utils.set_random_seed(hp.seed)
    data = json.load(open(texts_file))
    checkpoint = defaults.default_checkpoint_dir()
    inputs = training_speed.encoded(checkpoint, data["train_texts"], max_seq_length)
    padding = "static" if "max_seq_length" in options else "buckets"  # the memory rows: padded to the full length
    dataset = training_speed.batches(inputs, np.array(data["train_labels"], np.int64), hp.batch_size, padding,
                                     hp.seed)
    classifier = keras_classifier.load_classifier(checkpoint, len(defaults.CORPUS_LABELS))
    counts = training.apply_training_options(classifier, hp)
    trainable = training.compile_for_training(classifier, hp, steps)
    clock = training_speed._StepClock(warmup)  # noqa: SLF001
    trainable.fit(dataset, epochs=1, steps_per_epoch=steps, callbacks=[clock], verbose=0)
    step_seconds = [b - a for a, b in zip([clock.start] + clock.ends, clock.ends)]
    result = {**counts, "step_ms": 1000 * statistics.median(step_seconds), "peak_rss_mb": timing.peak_rss_mb()}
    if data["eval_texts"]:
        eval_inputs = training_speed.encoded(checkpoint, data["eval_texts"], max_seq_length)
        predict = tf.function(
            lambda x: tf.argmax(classifier(keras_classifier.trim_padding(x), training=False), axis=-1))
        predicted = np.concatenate([predict({k: v[i:i + 64] for k, v in eval_inputs.items()}).numpy()
                                    for i in range(0, len(data["eval_texts"]), 64)])
        result["eval_accuracy"] = float((predicted == np.array(data["eval_labels"])).mean())
    return result


def texts(train: int, evaluate: int, seed: int) -> Dict[str, List]:
    rows = random.Random(seed).sample(defaults.read_corpus(), train + evaluate)
    labels = [defaults.CORPUS_LABELS.index(label) for _, label in rows]
    return {"train_texts": [t for t, _ in rows[:train]], "train_labels": labels[:train],
            "eval_texts": [t for t, _ in rows[train:]], "eval_labels": labels[train:]}


def compare(threads: int, steps: int = STEPS, memory_steps: int = MEMORY_STEPS,
            eval_texts: int = EVAL_TEXTS) -> List[str]:
    """Every configuration in its own process; the table rows."""
    config = configs.PipelineConfig()
    train_count = steps * config.batch_size
    rows = [f"| fine-tuning ({steps} steps of batch {config.batch_size}; eval on {eval_texts} held-out texts) | "
            "trainable parameters | peak RSS (MB) | step (ms, median) | eval accuracy |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for label, options, data in CONFIGURATIONS:
            path = os.path.join(tmp, f"{data}.json")
            if not os.path.exists(path):
                with open(path, "w") as f:
                    json.dump(texts(train_count, eval_texts if data == "default" else 0, config.seed), f)
            run_steps = steps if data == "default" else memory_steps
            child = subprocess.run([sys.executable, __file__, "--one", json.dumps(options), "--texts", path,
                                    "--steps", str(run_steps), "--threads", str(threads)],
                                   capture_output=True, text=True, cwd=configs.PROJECT_DIR)
            if child.returncode:
                raise RuntimeError(f"finetune_compare.py ({label}) failed:\n{child.stderr[-3000:]}")
            r = json.loads(child.stdout.strip().splitlines()[-1])
            accuracy = f"{r['eval_accuracy']:.3f}" if "eval_accuracy" in r else f"({memory_steps} steps, not evaluated)"
            rows.append(f"| {label} | {r['trainable_parameters']:,} of {r['total_parameters']:,} "
                        f"({r['trainable_parameters'] / r['total_parameters']:.2%}) | {r['peak_rss_mb']:.0f} | "
                        f"{r['step_ms']:.0f} | {accuracy} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps of each default-data configuration")
    parser.add_argument("--memory-steps", type=int, default=MEMORY_STEPS,
                        help="steps of each batch 64 x 128 configuration")
    parser.add_argument("--eval-texts", type=int, default=EVAL_TEXTS)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child: one configuration's options (JSON)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(train_one(json.loads(args.one), args.texts, args.steps, min(5, args.steps // 2),
                                   args.threads)))
        return
    print(f"machine: {timing.machine()}")
    print("\n".join(compare(args.threads, args.steps, args.memory_steps, args.eval_texts)))


if __name__ == "__main__":
    main()
