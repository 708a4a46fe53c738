"""The PyTorch + transformers peer of bench/training_speed.py; runs in the peer's venv (`make peer`).

The usual fine-tuning loop on the same checkpoint, texts, batch size, learning rate and CPU threads:
BertTokenizerFast once over the texts, shuffled batches padded to max_seq_length (`--padding static`) or
to each batch's longest text (`--padding dynamic`, what DataCollatorWithPadding does), AdamW with linear
warm-up and decay, forward, backward, step. Prints one JSON object.
"""
import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup  # noqa: E402

import timing  # noqa: E402  (bench/, beside this script)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--texts", required=True)
    parser.add_argument("--padding", choices=["static", "dynamic"], required=True)
    parser.add_argument("--max-seq-length", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--weight-decay", type=float, required=True)
    parser.add_argument("--warmup-fraction", type=float, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--window", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = json.load(open(args.texts))
    labels = torch.tensor(data["labels"])
    tokenizer = AutoTokenizer.from_pretrained(args.checkpoint, local_files_only=True)
    ids = tokenizer(data["texts"], truncation=True, max_length=args.max_seq_length)["input_ids"]
    model = AutoModelForSequenceClassification.from_pretrained(
        args.checkpoint, num_labels=int(labels.max()) + 1, local_files_only=True).train()
    total = args.warmup + args.steps
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    schedule = get_linear_schedule_with_warmup(optimizer, int(args.warmup_fraction * total), total)
    order = torch.randperm(len(ids)).tolist()
    pad_to = "max_length" if args.padding == "static" else "longest"
    losses, ends, counts = [], [], []
    for step in range(total):
        if step == args.warmup:
            start = time.perf_counter()
        rows = [order[(step * args.batch_size + i) % len(order)] for i in range(args.batch_size)]
        batch = tokenizer.pad({"input_ids": [ids[r] for r in rows]}, padding=pad_to,
                              max_length=args.max_seq_length, return_tensors="pt")
        mask = batch["attention_mask"]
        loss = model(**batch, labels=labels[rows]).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss))
        if step >= args.warmup:
            ends.append(time.perf_counter())
            counts.append((int(mask.sum()), mask.numel(), mask.numel() * mask.shape[1]))
    print(json.dumps({**timing.training_result(start, ends, counts, args.batch_size, losses, args.window),
                      "versions": f"torch {torch.__version__}"}))


if __name__ == "__main__":
    main()
