"""TF-IDF + logistic regression on the latest run's own train/eval split, beside the pipeline's model.

`make baseline` (after `make run`, with the same ARGS) prints both accuracies on the same eval examples.
"""
import argparse
import glob
import os
from typing import List, Tuple

import contracts.environment  # noqa: F401  (before TensorFlow)

import tensorflow as tf
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline

from contracts import names
from pipeline import configs
from reports import run_outputs


def read_split(examples_uri: str, split: str, text_column: str, label_column: str) -> Tuple[List[str], List[str]]:
    files = glob.glob(os.path.join(examples_uri, f"Split-{split}", "*"))
    texts, labels = [], []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        texts.append(feature[text_column].bytes_list.value[0].decode("utf-8"))
        labels.append(feature[label_column].bytes_list.value[0].decode("utf-8"))
    return texts, labels


def tfidf_accuracy(train, evaluation, seed: int) -> float:
    """Word 1-2-grams, sublinear tf; the regularization strength picked by 5-fold CV on train."""
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegressionCV(Cs=[0.25, 0.5, 1, 2, 4, 8, 16], cv=5, max_iter=3000, random_state=seed))
    model.fit(*train)
    return float(model.score(*evaluation))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    configs.add_arguments(parser)  # the same ARGS as `make run`
    args, _ = parser.parse_known_args(argv)
    config = configs.from_arguments(args, outputs_dir=os.path.abspath(args.outputs_dir))
    run, _, outputs = run_outputs.latest_run_outputs(run_outputs.open_store(config.metadata_path))
    examples = outputs[names.CSV_EXAMPLE_GEN][names.EXAMPLES].uri
    train = read_split(examples, "train", config.text_column, config.label_column)
    evaluation = read_split(examples, "eval", config.text_column, config.label_column)
    model_accuracy = run_outputs.overall_accuracy(outputs[names.EVALUATOR][names.EVALUATION].uri)
    baseline = tfidf_accuracy(train, evaluation, config.seed)
    print(f"run {run.name}: {len(train[0])} train / {len(evaluation[0])} eval examples")
    print(f"| model | eval accuracy |\n|---|---|\n| TF-IDF + logistic regression | {baseline:.4f} |\n"
          f"| fine-tuned checkpoint (pipeline) | {model_accuracy:.4f} |")
    print(f"difference: {100 * (model_accuracy - baseline):+.1f} accuracy points")


if __name__ == "__main__":
    main()
