"""Sentence-pair data made here from the embedded corpus, for the tests of the sentence-pair task: each row
pairs a corpus tweet (text) with a positive or a negative one (text_pair), labelled 1 or 0 as GLUE's pair tasks
label theirs (numbered classes: ExampleGen reads them as names). The first text is noise the model must learn
to read past; the signal is in the second text, which a single-text model never sees: a model that answers
well read the pair. Balanced and learnable in the shared run's 50 steps, so that its gates stay at their
defaults."""
import csv
import random

ROWS, DROP_ROWS = 800, 40
LABELS = {"positive": "1", "negative": "0"}


def pairs(corpus, count, seed):
    """(text, text_pair, label) rows: distinct corpus tweets, half of the second ones positive."""
    rng = random.Random(seed)
    by_sentiment = {sentiment: rng.sample([text for text, label in corpus if label == sentiment], count // 2)
                    for sentiment in LABELS}
    seconds = [(text, LABELS[sentiment]) for sentiment, texts in by_sentiment.items() for text in texts]
    rng.shuffle(seconds)
    firsts = rng.sample([text for text, _ in corpus], len(seconds))
    return [(first, second, label) for first, (second, label) in zip(firsts, seconds)]


def write_pairs(path, corpus, count, seed):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("text", "text_pair", "label"), *pairs(corpus, count, seed)])


def write_drop(path, corpus, count, seed):
    """Unlabelled pairs with an id, as a scoring drop comes."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("id", "text", "text_pair"), *((f"pair-{i}", first, second) for i, (first, second, _)
                                                                 in enumerate(pairs(corpus, count, seed)))])
