"""Our side of bench/serving_latency.py, one thread setting per process (TensorFlow fixes its thread pools
when its runtime starts). Prints one JSON object: batch-1 latencies, the batch throughput run and, with
--load-seconds, the concurrent-load run.

The model is the pushed SavedModel's serving_default, the graph TF Serving runs. Under load, requests go
through TensorFlow's batch scheduler with serving_config/batching_parameters.txt (a BatchFunction op: the
SharedBatchScheduler that TF Serving's --enable_batching uses), on the thread pools given here.
"""
import argparse
import json
import os

import contracts.environment  # noqa: F401  (before TensorFlow)

import tensorflow as tf

from serving import predict, server_settings

import timing  # noqa: E402  (bench/, beside this script)

PROFILED_REQUESTS = 20  # single texts in the batch-1 profile session


def batched(signature):
    """serving_default behind the batch scheduler that TF Serving's batching_parameters.txt configures."""
    params = server_settings.batching_parameters()

    @tf.nondifferentiable_batch_function(
        num_batch_threads=params.num_batch_threads.value, max_batch_size=params.max_batch_size.value,
        batch_timeout_micros=params.batch_timeout_micros.value,
        allowed_batch_sizes=list(params.allowed_batch_sizes) or None,
        max_enqueued_batches=params.max_enqueued_batches.value)
    def classify(text):
        return signature(text=text)["probabilities"]

    return tf.function(classify, input_signature=[tf.TensorSpec([None], tf.string)])


def profile(classify, texts, warmup: int, logdir: str) -> None:
    for text in texts["single"][:warmup]:
        classify([text])
    for batch in texts["batches"][:2]:
        classify(batch)
    for name, requests in (("serving_batch1", [[text] for text in texts["single"][:PROFILED_REQUESTS]]),
                           (f"serving_batch{len(texts['batches'][0])}", texts["batches"][:5])):
        tf.profiler.experimental.start(os.path.join(logdir, name))
        for request in requests:
            classify(request)
        tf.profiler.experimental.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--texts", help="JSON file: {'single': [...], 'batches': [[...], ...]}")
    parser.add_argument("--intra", type=int, required=True, help="intra-op threads")
    parser.add_argument("--inter", type=int, required=True, help="inter-op threads")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--load-seconds", type=float, default=0, help="> 0: also the concurrent-load run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--mixed-precision", choices=("", "bfloat16"), default="",
                        help="bfloat16: grappler's oneDNN bfloat16 rewrite, what TF Serving's "
                        "--mixed_precision=bfloat16 turns on")
    parser.add_argument("--answer", help="instead of timing: a JSON list of texts, whose labels are printed")
    parser.add_argument("--profile-dir", help="instead of timing: TensorBoard profiles of 20 single texts and 5 "
                        "batches, in <dir>/serving_batch1 and <dir>/serving_batch<size>")
    args = parser.parse_args()
    if not (args.answer or args.texts):
        parser.error("--texts is needed to time or to profile")
    tf.config.threading.set_intra_op_parallelism_threads(args.intra)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter)
    if args.mixed_precision:
        tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
    classifier = predict.Classifier(args.model)  # holds the model: its signature needs it alive
    signature = classifier.signature

    def classify(batch):
        return signature(text=tf.constant(batch))["probabilities"].numpy()

    if args.answer:
        texts = json.load(open(args.answer))
        labels = [label.decode("utf-8") for start in range(0, len(texts), 64)
                  for label in signature(text=tf.constant(texts[start:start + 64]))["label"].numpy()]
        print(json.dumps(labels))
        return
    if args.profile_dir:
        profile(classify, json.load(open(args.texts)), args.warmup, args.profile_dir)
        return
    texts = json.load(open(args.texts))
    result = timing.time_classifier(classify, texts, args.warmup)
    if args.load_seconds:
        served = batched(signature)
        run = lambda batch: served(tf.constant(batch)).numpy()  # noqa: E731
        timing.time_concurrent(run, texts["single"], args.clients, 1.0)  # warm-up
        result["load"] = timing.time_concurrent(run, texts["single"], args.clients, args.load_seconds)
    precision = " with TF Serving's --mixed_precision=bfloat16 rewrite" if args.mixed_precision else ""
    print(json.dumps({**result, "versions": f"tensorflow {tf.__version__}{precision}"}))


if __name__ == "__main__":
    main()
