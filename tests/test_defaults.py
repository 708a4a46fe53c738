"""The embedded default data is materialized as the pipeline's input CSV."""
import csv
import os

from pipeline import defaults, inputs
from tasks import TaskSettings


def test_materializes_the_whole_corpus_as_utf8_text_label_csv(tmp_path, corpus):
    path = defaults.materialize_corpus(str(tmp_path))
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["text", "label"]
    assert len(rows) - 1 == len(corpus) == 38158
    assert {label for _, label in rows[1:]} == set(defaults.CORPUS_LABELS)
    assert sum(label == "negative" for _, label in rows[1:]) == 16186
    # Texts keep every character, line breaks included (1,564 of them span lines, quoted).
    assert [tuple(row) for row in rows[1:]] == corpus
    assert sum("\n" in text or "\r" in text for text, _ in rows[1:]) == 1564
    assert inputs.check_rows(path, TaskSettings(), defaults.CORPUS_LABELS) == 38158


def test_sample_is_seeded_and_rewrite_keeps_the_file_untouched(tmp_path):
    first = defaults.materialize_corpus(str(tmp_path / "a"), sample=500, seed=7)
    again = defaults.materialize_corpus(str(tmp_path / "b"), sample=500, seed=7)
    assert open(first, "rb").read() == open(again, "rb").read()
    assert inputs.check_rows(first, TaskSettings(), defaults.CORPUS_LABELS) == 500
    mtime = os.stat(first).st_mtime_ns
    defaults.materialize_corpus(str(tmp_path / "a"), sample=500, seed=7)
    assert os.stat(first).st_mtime_ns == mtime  # ExampleGen's fingerprint, hence the cache, stays valid
