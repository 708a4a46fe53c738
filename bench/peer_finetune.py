"""The PyTorch + transformers script `make bench-quality` judges the pipeline against; runs in the peer's venv
(`make peer`). What a user's own fine-tuning script does with the same checkpoint and training CSV: the checkpoint's
tokenizer (a pair as text, text_pair; cut at max_length), AutoModelForSequenceClassification (multi-label: its
multi_label_classification problem type, sigmoid at 0.5), AdamW with 10% linear warm-up then linear decay over all
epochs, shuffled batches padded to their longest text. After each epoch it answers the held-out CSV. Prints one
JSON object: {"epochs": [{"epoch", "seconds" (of training so far), "answers"}]}, answers a list of label lists
per held-out row.
"""
import argparse
import csv
import json
import os
import random
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup  # noqa: E402


def read(path, separator):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = [(row["text"], row.get("text_pair")) for row in rows]
    labels = [row["label"].split(separator) if separator else [row["label"]] for row in rows]
    return texts, labels


def encode(tokenizer, texts, max_length):
    firsts = [t for t, _ in texts]
    seconds = [p for _, p in texts] if texts[0][1] is not None else None
    return tokenizer(firsts, seconds, truncation=True, max_length=max_length, padding=True, return_tensors="pt")


def answers(model, tokenizer, texts, classes, multi_label, max_length, batch=64):
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch):
            logits = model(**encode(tokenizer, texts[start:start + batch], max_length)).logits
            if multi_label:
                out += [[classes[j] for j in range(len(classes)) if row[j] > 0] for row in logits.tolist()]
            else:
                out += [[classes[j]] for j in logits.argmax(-1).tolist()]
    model.train()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--held-out", required=True)
    parser.add_argument("--label-separator", default="")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(os.cpu_count())
    rng = random.Random(args.seed)
    texts, labels = read(args.train, args.label_separator)
    held_out, _ = read(args.held_out, args.label_separator)
    classes = sorted({label for row in labels for label in row})
    multi_label = bool(args.label_separator)
    targets = [[float(c in row) for c in classes] if multi_label else classes.index(row[0]) for row in labels]

    tokenizer = AutoTokenizer.from_pretrained(args.checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.checkpoint, num_labels=len(classes),
        problem_type="multi_label_classification" if multi_label else "single_label_classification")
    steps = args.epochs * (len(texts) // args.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    model.train()
    trained, epochs = 0.0, []
    for epoch in range(1, args.epochs + 1):
        start = time.monotonic()
        order = list(range(len(texts)))
        rng.shuffle(order)
        for b in range(len(texts) // args.batch_size):
            batch = order[b * args.batch_size:(b + 1) * args.batch_size]
            inputs = encode(tokenizer, [texts[i] for i in batch], args.max_seq_length)
            loss = model(**inputs, labels=torch.tensor([targets[i] for i in batch])).loss
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        trained += time.monotonic() - start  # training only: answering the held-out rows is not counted
        epochs.append({"epoch": epoch, "seconds": trained,
                       "answers": answers(model, tokenizer, held_out, classes, multi_label, args.max_seq_length)})
    print(json.dumps({"epochs": epochs, "classes": classes}))


if __name__ == "__main__":
    main()
