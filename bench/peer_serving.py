"""The PyTorch + transformers peer of bench/serving_latency.py; runs in the peer's venv (`make peer`).

Same checkpoint, texts, truncation and thread count as our side; the tokenizer is transformers'
BertTokenizerFast (Rust) and each batch is padded to its own longest text, the usual way to serve it.
Prints one JSON object: batch-1 latencies (ms), the batch throughput run and, with --load-seconds, the
concurrent-load run: --clients threads calling the model one text at a time (a threaded PyTorch server;
torch releases the GIL inside its ops).
"""
import argparse
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

import timing  # noqa: E402  (bench/, beside this script)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--texts", required=True, help="JSON file: {'single': [...], 'batches': [[...], ...]}")
    parser.add_argument("--max-seq-length", type=int, required=True)
    parser.add_argument("--num-classes", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--load-seconds", type=float, default=0, help="> 0: also the concurrent-load run")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    texts = json.load(open(args.texts))
    tokenizer = AutoTokenizer.from_pretrained(args.checkpoint, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.checkpoint, num_labels=args.num_classes, local_files_only=True).eval()

    def classify(batch):
        encoded = tokenizer(batch, padding=True, truncation=True, max_length=args.max_seq_length,
                            return_tensors="pt")
        with torch.inference_mode():
            probabilities = torch.softmax(model(**encoded).logits, dim=-1)
        return probabilities.numpy(), probabilities.argmax(-1).numpy()

    result = timing.time_classifier(classify, texts, args.warmup)
    if args.load_seconds:
        timing.time_concurrent(classify, texts["single"], args.clients, 1.0)  # warm-up
        result["load"] = timing.time_concurrent(classify, texts["single"], args.clients, args.load_seconds)
    print(json.dumps({**result, "versions": f"torch {torch.__version__}"}))


if __name__ == "__main__":
    main()
