"""Long documents made here from the embedded corpus, for the tests of --long-text chunk: each document joins
2 to 5 corpus tweets and takes the last one's sentiment as its label. At the shared run's window of 32 word
pieces a document takes several windows and its label's tweet is in the last ones: a model cut at the first
window never sees it, so a model that answers well read the end."""
import csv
import random

ROWS = 800
MAX_SEQ_LENGTH, CHUNK_STRIDE = 32, 8  # the shared run's windows


def documents(corpus, count, seed):
    """(text, label of its last tweet) rows."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        tweets = rng.sample(corpus, rng.randint(2, 5))
        rows.append((" ".join(text for text, _ in tweets), tweets[-1][1]))
    return rows


def write_documents(path, corpus, count, seed):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *documents(corpus, count, seed)])
