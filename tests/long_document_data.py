"""Long documents made here from the embedded corpus, for the tests of --long-text chunk: each document joins
2 to 5 corpus tweets of one sentiment, positive or negative, and is labelled with it. At the shared run's
window of 32 word pieces a document takes several windows, each of which carries its label's signal: what
the model learns in the shared run's 50 steps is visible, so its gates stay at their defaults."""
import csv
import random

ROWS = 800
MAX_SEQ_LENGTH, CHUNK_STRIDE = 32, 8  # the shared run's windows
SENTIMENTS = ("negative", "positive")


def documents(corpus, count, seed):
    """(text, label) rows, half of each sentiment."""
    rng = random.Random(seed)
    by_sentiment = {sentiment: [text for text, label in corpus if label == sentiment] for sentiment in SENTIMENTS}
    rows = []
    for i in range(count):
        sentiment = SENTIMENTS[i % 2]
        rows.append((" ".join(rng.sample(by_sentiment[sentiment], rng.randint(2, 5))), sentiment))
    rng.shuffle(rows)
    return rows


def write_documents(path, corpus, count, seed):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *documents(corpus, count, seed)])
