"""Identical texts (retweets) never straddle train and eval: a model evaluated on texts it was trained on
would look better than it is, and the blessing would trust it. The split is read back from ML Metadata,
as the shared small run's CsvExampleGen executed it, and checked with TFX's own partition function."""
import collections

from contracts import names

from pipeline_runs import run_name, split_config, split_of, split_texts


def test_the_runs_splits_share_no_text(first_run):
    run = run_name(first_run[1].stdout)
    train, evaluation = (split_texts(first_run[0], run, split) for split in (names.TRAIN_SPLIT, names.EVAL_SPLIT))
    assert len(train) > 500 and len(evaluation) > 50
    assert not train & evaluation


def test_a_text_lands_in_one_split_whatever_its_other_columns(first_run, corpus):
    """The corpus holds texts under several labels (the same retweet labelled twice): with the split keyed
    on anything but the text, some of these rows would land on both sides."""
    labels_of = collections.defaultdict(set)
    for text, label in corpus:
        labels_of[text].add(label)
    relabelled = {text: labels for text, labels in labels_of.items() if len(labels) > 1}
    assert len(relabelled) >= 40
    config = split_config(first_run[0], run_name(first_run[1].stdout))
    straddling = [text for text, labels in relabelled.items()
                  if len({split_of({"text": text, "label": label, "id": label}, config) for label in labels}) > 1]
    assert not straddling
    assert {split_of({"text": text}, config) for text in relabelled} == {names.TRAIN_SPLIT, names.EVAL_SPLIT}
