"""The datasets `make bench-quality` judges each task on, built here from the embedded tweet corpus: for each task a
training CSV (what the pipeline's default command and the transformers script both train on) and a held-out CSV
(rows neither side trains on, their texts disjoint from the training rows'), in the pipeline's own column layout.

- one_text: the corpus' sentiment (negative, neutral, positive), one tweet per row.
- text_pair: two tweets, each positive or negative; the label says whether they share their sentiment ("same",
  "different", half each): a relation between the texts, which neither text alone tells (one alone gives ~50%).
- multi_label: the sentiment, plus the tags "time" (today, tonight, tomorrow: ~3.6% of tweets) and "games" (game,
  play, playing, team: ~2.3%) where the tweet has one of their words, joined by "|".
- long_text: documents of 4 to 8 neutral tweets, then the deciding tweet last, labelled with its sentiment (~7
  tweets, ~220 word pieces): the beginning a truncated model reads says nothing of the label.
"""
import csv
import os
import random
import re
from typing import Dict, List, Sequence, Tuple

SENTIMENTS = ("negative", "neutral", "positive")
TAGS = {"time": ("today", "tonight", "tomorrow"), "games": ("game", "play", "playing", "team")}
SEPARATOR = "|"
# Rows of each task's training CSV and of its held-out CSV.
SIZES = {"one_text": (5000, 1500), "text_pair": (4000, 1500), "multi_label": (4000, 1500), "long_text": (2000, 600)}
# The pipeline's flags for each task's CSV (the default command otherwise).
FLAGS = {"one_text": [], "text_pair": ["--text-pair-column", "text_pair"],
         "multi_label": ["--label-separator", SEPARATOR],
         "long_text": ["--long-text", "chunk", "--max-seq-length", "64"]}
Row = Tuple[str, ...]


def _tags(text: str) -> List[str]:
    words = set(re.findall(r"[a-z']+", text.lower()))
    return [tag for tag, keywords in TAGS.items() if words & set(keywords)]


def _one_text(pool, count, rng) -> List[Row]:
    return [(text, label) for text, label in rng.sample(pool, count)]


def _text_pair(pool, count, rng) -> List[Row]:
    polar = {sentiment: [text for text, label in pool if label == sentiment] for sentiment in ("negative", "positive")}
    rows = []
    for i in range(count):
        first, second = rng.sample(("negative", "positive"), 2) if i % 2 else [rng.choice(list(polar))] * 2
        rows.append((rng.choice(polar[first]), rng.choice(polar[second]), "same" if first == second else "different"))
    rng.shuffle(rows)
    return rows


def _multi_label(pool, count, rng) -> List[Row]:
    return [(text, SEPARATOR.join([label, *_tags(text)])) for text, label in rng.sample(pool, count)]


def _long_text(pool, count, rng) -> List[Row]:
    neutral = [text for text, label in pool if label == "neutral"]
    rows = []
    for text, label in rng.sample(pool, count):
        rows.append((" ".join([*rng.sample(neutral, rng.randint(4, 8)), text]), label))
    return rows


BUILDERS = {"one_text": _one_text, "text_pair": _text_pair, "multi_label": _multi_label, "long_text": _long_text}
HEADERS = {"one_text": ("text", "label"), "text_pair": ("text", "text_pair", "label"),
           "multi_label": ("text", "label"), "long_text": ("text", "label")}


def build(task: str, corpus: Sequence[Tuple[str, str]], seed: int = 7) -> Dict[str, List[Row]]:
    """{"train": rows, "held_out": rows}: tweets split into two disjoint pools first, so no tweet of a held-out
    row is in any training row."""
    rng = random.Random(seed)
    unique = sorted(set(corpus))
    rng.shuffle(unique)
    cut = len(unique) * 3 // 4
    train, held_out = SIZES[task]
    return {"train": BUILDERS[task](unique[:cut], train, rng), "held_out": BUILDERS[task](unique[cut:], held_out, rng)}


def write(task: str, corpus, directory: str) -> Dict[str, str]:
    """Writes the task's train.csv and held_out.csv into directory; returns their paths by split."""
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for split, rows in build(task, corpus).items():
        paths[split] = os.path.join(directory, f"{split}.csv")
        with open(paths[split], "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([HEADERS[task], *rows])
    return paths
