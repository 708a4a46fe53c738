"""Sentence-pair data made here from the embedded corpus, for the tests of the sentence-pair task: each row
pairs a corpus tweet (text) with another (text_pair) and takes the second one's sentiment as its label.
The first text is noise the model must learn to read past; the signal is in the second text, which a
single-text model never sees: a model that answers well read the pair."""
import csv
import random

ROWS, DROP_ROWS = 800, 40


def pairs(corpus, count, seed):
    """(text, text_pair, label of text_pair) rows, from distinct corpus rows."""
    rows = random.Random(seed).sample(corpus, 2 * count)
    return [(first, second, label) for (first, _), (second, label) in zip(rows[::2], rows[1::2])]


def write_pairs(path, corpus, count, seed):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("text", "text_pair", "label"), *pairs(corpus, count, seed)])


def write_drop(path, corpus, count, seed):
    """Unlabelled pairs with an id, as a scoring drop comes."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("id", "text", "text_pair"), *((f"pair-{i}", first, second) for i, (first, second, _)
                                                                 in enumerate(pairs(corpus, count, seed)))])
