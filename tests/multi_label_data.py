"""Multi-label rows made here from the embedded corpus, for the tests of --label-separator: each tweet is tagged
with what it holds, `question` (a '?'), `link` (a URL) and `hashtag` (a '#'), one tag or more per row: tags a
model learns within the shared run's 50 steps, so that its gates stay at their defaults. The tags of a row
are written in either order, sometimes with spaces around the separator, as people write them."""
import csv
import random

ROWS = 800
SEPARATOR = "|"
QUESTION = "question"
LABELS = (QUESTION, "link", "hashtag")
_MARKS = {QUESTION: "?", "link": "http", "hashtag": "#"}


def labels_of(text):
    return [label for label in LABELS if _MARKS[label] in text]


def rows(corpus, count, seed):
    """(text, label cell) rows of distinct tweets with at least one tag."""
    rng = random.Random(seed)
    tagged = sorted({text for text, _ in corpus if labels_of(text)})
    cells = []
    for text in rng.sample(tagged, count):
        labels = labels_of(text)
        rng.shuffle(labels)
        cells.append((text, (" | " if rng.random() < 0.2 else SEPARATOR).join(labels)))
    return cells


def write_rows(path, corpus, count, seed):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *rows(corpus, count, seed)])
