"""Multi-label rows made here from the embedded corpus, for the tests of --label-separator: each tweet keeps
its sentiment and gets the label `question` too when it asks one (a '?' in it), so a row has one or two
labels that a model can learn. Questions are a fifth of the corpus; here half the rows are, so that each
label is common. The labels of a row are written in either order, sometimes with spaces around the
separator, as people write them."""
import csv
import random

ROWS = 800
SEPARATOR = "|"
QUESTION = "question"
LABELS = ("negative", "neutral", "positive", QUESTION)


def labels_of(text, sentiment):
    return [sentiment, QUESTION] if "?" in text else [sentiment]


def rows(corpus, count, seed):
    """(text, label cell) rows."""
    rng = random.Random(seed)
    questions = [row for row in corpus if "?" in row[0]]
    statements = [row for row in corpus if "?" not in row[0]]
    chosen = rng.sample(questions, count // 2) + rng.sample(statements, count - count // 2)
    rng.shuffle(chosen)
    cells = []
    for text, sentiment in chosen:
        labels = labels_of(text, sentiment)
        rng.shuffle(labels)
        cells.append((text, (" | " if rng.random() < 0.2 else SEPARATOR).join(labels)))
    return cells


def write_rows(path, corpus, count, seed):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *rows(corpus, count, seed)])
