"""The most that splitting the work can give on this machine, with no Beam and no fixed costs: the pushed
model's serving_default on the same texts, in batches of --batch-size, by one stream of calls with
TensorFlow on all the cores (what the predict CLI does) or by --streams concurrent streams, each on its
share of the cores (what --beam-workers does). Prints texts/s, model loaded and warmed up first.

  python bench/stream_ceiling.py --model DIR --texts drop.csv --streams 2
"""
import argparse
import csv
import os
import sys
import threading
import time
from typing import List

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from contracts import names  # noqa: E402


def scoring_rate(model_dir: str, texts: List[str], streams: int, batch_size: int) -> float:
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the graph tokenizer's ops)

    if streams > 1:  # as serving/batch_scoring.worker_threads gives each worker
        tf.config.threading.set_intra_op_parallelism_threads(max(1, (os.cpu_count() or 1) // streams))
        tf.config.threading.set_inter_op_parallelism_threads(streams)
    model = tf.saved_model.load(model_dir).signatures[names.SERVING_DEFAULT]
    batches = [tf.constant(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
    model(**{names.TEXT_INPUT: batches[0]})  # warm-up: the first call builds the function

    def stream(part: int) -> None:
        for batch in batches[part::streams]:
            model(**{names.TEXT_INPUT: batch})[names.PROBABILITIES].numpy()

    started = time.perf_counter()
    threads = [threading.Thread(target=stream, args=(part,)) for part in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(texts) / (time.perf_counter() - started)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--texts", required=True, help="a CSV with a text column")
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)
    with open(args.texts, encoding="utf-8", newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    print(f"{scoring_rate(args.model, texts, args.streams, args.batch_size):.1f}")


if __name__ == "__main__":
    main()
