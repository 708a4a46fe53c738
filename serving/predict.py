"""Classify texts with a pushed model, in-process, through the same serving_default signature TF Serving runs.

  predict --text "my flight was great" --text "lost my bag again"
  predict --input tweets.csv --output predictions.csv      # CSV (--text-column), JSONL, or one text per line
  predict --model outputs/serving/text_classifier/1732400000 --input texts.txt --output out.jsonl
  predict --model <a sentence-pair model> --text "how do I reset it?" --text-pair "how to reset my password"
  predict --model <a sentence-pair model> --input pairs.csv --text-column q1 --text-pair-column q2

--model is a SavedModel directory or a serving root (its newest numeric version is used); the default is
where `make run` pushes. Output: CSV or JSONL (by the --output extension; JSONL on stdout) with the label,
class id and one probability per class.
"""
import argparse
import csv
import json
import os
import sys
import warnings
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from contracts import layout, names, raw_data
from contracts.names import OUTPUTS
from contracts.names import SERVING_DEFAULT as SIGNATURE
from contracts.text_columns import TextColumns


class PredictError(Exception):
    """Bad model directory or input file: one line for the user."""


def resolve_model_dir(path: str) -> str:
    """The SavedModel directory itself, or the newest numeric version below a serving root."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    if not os.path.isdir(path):
        raise PredictError(f"model directory {path} does not exist: run `make run` to push one, or pass --model")
    version_dirs = sorted((d for d in os.listdir(path) if d.isdigit()), key=int)
    if not version_dirs:
        raise PredictError(f"{path} holds neither saved_model.pb nor numeric version directories: pass a pushed "
                           "model directory or a serving root (outputs/serving/<model_name>)")
    return resolve_model_dir(os.path.join(path, version_dirs[-1]))


def class_names(model_dir: str) -> Optional[List[str]]:
    """The classes in the order of the model's probabilities, as the Trainer recorded them."""
    path = os.path.join(model_dir, layout.HYPERPARAMETERS)
    if not raw_data.is_file(path):
        return None
    with raw_data.open_binary(path) as f:
        return list(json.load(f)["class_names"])


class Classifier:
    def __init__(self, model_dir: str):
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  registers the tokenizer's ops before the graph loads

        self.model_dir = resolve_model_dir(model_dir)
        try:
            with warnings.catch_warnings():  # protobuf warns about a corrupt file before TF raises: one line
                warnings.simplefilter("ignore", RuntimeWarning)
                model = tf.saved_model.load(self.model_dir)
        except Exception as e:  # TF raises several types for a corrupt or incompatible SavedModel
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise PredictError(f"{self.model_dir} is not a loadable SavedModel ({first_line}): re-push it with "
                               "`make run`") from None
        if SIGNATURE not in model.signatures or not set(OUTPUTS) <= set(model.signatures[SIGNATURE].structured_outputs):
            raise PredictError(f"{self.model_dir} has no {SIGNATURE} signature returning {', '.join(OUTPUTS)}: "
                               "it was not exported by this pipeline")
        self._model, self.signature, self._tf = model, model.signatures[SIGNATURE], tf
        self.takes_pairs = names.TEXT_PAIR_INPUT in self.signature.structured_input_signature[1]
        num_classes = self.signature.structured_outputs[names.PROBABILITIES].shape[-1]
        self.class_names = class_names(self.model_dir) or [f"class_{i}" for i in range(num_classes)]

    def check_inputs(self, pairs_given: bool) -> None:
        if self.takes_pairs and not pairs_given:
            raise PredictError(f"{self.model_dir} classifies sentence pairs: give each text its second text "
                               "(--text-pair, or --text-pair-column for a CSV or JSONL input)")
        if pairs_given and not self.takes_pairs:
            raise PredictError(f"{self.model_dir} classifies single texts: leave out --text-pair and "
                               "--text-pair-column")

    def predict(self, texts: Sequence[str], pairs: Optional[Sequence[str]] = None) -> List[dict]:
        """pairs: each text's second text, for a sentence-pair model."""
        tensor = lambda values: self._tf.constant(list(values), dtype=self._tf.string)
        inputs = {names.TEXT_INPUT: tensor(texts),
                  **({names.TEXT_PAIR_INPUT: tensor(pairs)} if pairs is not None else {})}
        out = self.signature(**inputs)
        probabilities = out[names.PROBABILITIES].numpy().tolist()
        return [{"text": text, **({"text_pair": pairs[i]} if pairs is not None else {}), "label": label.decode(),
                 "class_id": int(class_id), "probabilities": dict(zip(self.class_names, (round(p, 6) for p in row)))}
                for i, (text, label, class_id, row) in enumerate(zip(texts, out[names.LABEL].numpy(),
                                                                     out[names.CLASS_ID].numpy(), probabilities))]


def read_texts(path: str, columns: TextColumns) -> Dict[str, List[str]]:
    """{column: texts} from a CSV (by column), a JSONL file (by field) or a plain file (one text per line)."""
    if not os.path.isfile(path):
        raise PredictError(f"input file {path} does not exist")
    with open(path, encoding="utf-8-sig", newline="") as f:
        try:
            if path.endswith(".csv"):
                return _csv_texts(path, f, columns)
            if path.endswith(".jsonl"):
                return _jsonl_texts(path, f, columns)
            if columns.pair:
                raise PredictError(f"{path}: a plain text file holds one text per line, no pairs: use a CSV or "
                                   "JSONL file with --text-pair-column")
            return {columns.text: [line.rstrip("\r\n") for line in f if line.strip()]}
        except UnicodeDecodeError as e:
            raise PredictError(f"{path} is not UTF-8 (byte {e.start}): re-encode it, e.g. "
                               f"`iconv -f latin1 -t utf-8`") from None


def _csv_texts(path: str, f, columns: TextColumns) -> Dict[str, List[str]]:
    reader = csv.DictReader(f)
    for column, flag in zip(columns.columns, ("--text-column", "--text-pair-column")):
        if column not in (reader.fieldnames or []):
            raise PredictError(f"{path} has no column {column!r} (columns: {', '.join(reader.fieldnames or [])}): "
                               f"pass {flag}")
    rows = list(reader)
    return {column: [row[column] or "" for row in rows] for column in columns.columns}


def _jsonl_texts(path: str, f, columns: TextColumns) -> Dict[str, List[str]]:
    texts = {column: [] for column in columns.columns}
    for number, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            values = [str(record[column]) for column in columns.columns]
        except (json.JSONDecodeError, TypeError, KeyError):
            fields = " and ".join(repr(column) for column in columns.columns)
            fields = f"{fields} fields" if columns.pair else f"a {fields} field"
            raise PredictError(f"{path} line {number}: expected a JSON object with {fields}") from None
        for column, value in zip(columns.columns, values):
            texts[column].append(value)
    return texts


def _batches(texts: Sequence[str], size: int) -> Iterator[slice]:
    for start in range(0, len(texts), size):
        yield slice(start, start + size)


def _write(rows: List[dict], class_names: List[str], output: Optional[str]) -> None:
    """CSV or JSONL; a file is written beside its final name and renamed, so it is never half-written."""
    target = open(output + ".partial", "w", encoding="utf-8", newline="") if output else sys.stdout
    if output and output.endswith(".csv"):
        writer = csv.writer(target)
        texts = ["text", "text_pair"] if rows and "text_pair" in rows[0] else ["text"]
        writer.writerow([*texts, "label", "class_id"] + [f"p_{name}" for name in class_names])
        writer.writerows([*(r[t] for t in texts), r["label"], r["class_id"], *r["probabilities"].values()]
                         for r in rows)
    else:
        target.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if output:
        target.close()
        os.replace(output + ".partial", output)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", action="append", help="a text to classify (repeatable)")
    source.add_argument("--input", help="a .csv, .jsonl or text file (one text per line)")
    parser.add_argument("--text-pair", action="append",
                        help="a sentence-pair model: the second text of the --text at the same position (repeatable)")
    parser.add_argument("--model", default=layout.serving_model_root(layout.DEFAULT_OUTPUTS_DIR),
                        help="SavedModel directory, or a serving root whose newest version is used")
    parser.add_argument("--output", help="write .csv or .jsonl here instead of JSONL on stdout")
    parser.add_argument("--text-column", default="text",
                        help="CSV column / JSONL field holding the text")
    parser.add_argument("--text-pair-column", default="",
                        help="a sentence-pair model: CSV column / JSONL field holding each text's second text")
    parser.add_argument("--batch-size", type=int, default=32)
    return parser.parse_args(argv)


def _texts_and_pairs(args: argparse.Namespace) -> Tuple[List[str], Optional[List[str]]]:
    """The texts, and their second texts when pairs were given."""
    if args.text:
        if args.text_pair and len(args.text_pair) != len(args.text):
            raise PredictError(f"{len(args.text)} --text but {len(args.text_pair)} --text-pair: give each text "
                               "its second text")
        return args.text, args.text_pair
    if args.text_pair:
        raise PredictError("--text-pair goes with --text; with --input, name the column: --text-pair-column")
    columns = TextColumns(args.text_column, args.text_pair_column)
    texts = read_texts(args.input, columns)
    return texts[columns.text], texts[columns.pair] if columns.pair else None


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        texts, pairs = _texts_and_pairs(args)
        classifier = Classifier(args.model)
        classifier.check_inputs(pairs is not None)
    except PredictError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from tqdm import tqdm

    rows = []
    with tqdm(total=len(texts), unit="text", disable=not args.input, file=sys.stderr) as progress:
        for batch in _batches(texts, args.batch_size):
            rows.extend(classifier.predict(texts[batch], pairs[batch] if pairs else None))
            progress.update(len(texts[batch]))
    _write(rows, classifier.class_names, args.output)
    if args.output:
        print(f"{len(rows)} predictions from {classifier.model_dir} written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
