"""Regenerates the curated schema for a dataset: `make schema DATA=my.csv SCHEMA_OUT=schema/my/schema.pbtxt`.

TFDV infers the schema from the CSV; this then pins what the pipeline relies on: the text column present
in every row (both texts of a sentence pair, --text-pair-column), the label column present with exactly the
labels seen (the domain). Review the result and check it in: from then on a label outside the domain is an
anomaly that stops the run before Transform. With --label-separator (multi-label rows), the domain is that
of the single labels, and each row must have at least one (value_count min 1).
"""
import argparse
import os
import sys

import pandas as pd
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from contracts import raw_csv
from contracts.errors import InputError
from contracts.raw_data import split_labels
from contracts.text_columns import TextColumns


def _typed(column: pd.Series) -> pd.Series:
    """The column typed as CsvExampleGen types it: integers, else floats, else strings (empty = missing)."""
    present = column[column != ""]
    for numeric in (int, float):
        try:
            present.map(numeric)
        except ValueError:
            continue
        return column.map(lambda cell, numeric=numeric: numeric(cell) if cell != "" else None)
    return column.map(lambda cell: cell if cell != "" else None)


def read_examples(data: str) -> pd.DataFrame:
    """Every CSV file of --data, parsed exactly as the pipeline's ExampleGen reads it (not TFDV's own CSV
    reader, which knows neither quoted line breaks nor byte-order marks)."""
    tables = [raw_csv.read_table(path) for path in raw_csv.csv_files(data)]
    frame = pd.concat([pd.DataFrame(rows, columns=header) for header, rows in tables], ignore_index=True)
    return frame.apply(_typed)


def curated_schema(data: str, text_column: str, label_column: str, text_pair_column: str = "",
                   label_separator: str = "") -> schema_pb2.Schema:
    raw_csv.check_data(data, text_column, label_column, text_pair_column=text_pair_column,
                       label_separator=label_separator)
    examples = read_examples(data)
    if label_separator:  # as CsvExampleGen writes a multi-label row (components/csv_example_gen.py)
        examples[label_column] = examples[label_column].map(lambda cell: split_labels(cell, label_separator))
    stats = tfdv.generate_statistics_from_dataframe(examples)
    schema = tfdv.infer_schema(stats, infer_feature_shape=True)
    texts = TextColumns(text_column, text_pair_column).columns
    for name in (*texts, label_column):
        feature = tfdv.get_feature(schema, name)
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
    for name in texts:  # a text is free-form, never a categorical domain
        text = tfdv.get_feature(schema, name)
        text.ClearField("domain")
        text.ClearField("string_domain")
    if label_separator:  # one label or more per row: a list, not a value of fixed shape
        label = tfdv.get_feature(schema, label_column)
        label.ClearField("shape")
        label.value_count.min = 1
    tfdv.get_domain(schema, label_column)  # raises if TFDV saw too many distinct labels to infer one
    return schema


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="CSV file with a header row, or a directory of them")
    parser.add_argument("--out", required=True, help="where to write schema.pbtxt")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--text-pair-column", default="", help="a sentence-pair task's second text column")
    parser.add_argument("--label-separator", default="", help="a multi-label task: the separator of a row's labels")
    args = parser.parse_args(argv)
    try:
        schema = curated_schema(args.data, args.text_column, args.label_column, args.text_pair_column,
                                args.label_separator)
    except InputError as e:
        sys.exit(f"error: {e}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tfdv.write_schema_text(schema, args.out)
    with open(args.out) as f:
        body = f.read()
    with open(args.out, "w") as f:
        f.write(f"# Curated schema for {os.path.basename(args.data)}, written by `make schema` "
                "(pipeline/schema_tool.py).\n"
                "# Text present in every row; the label domain is the set of classes"
                f"{' (several per row)' if args.label_separator else ''}.\n" + body)
    print(f"wrote {args.out}: labels {list(tfdv.get_domain(schema, args.label_column).value)}")


if __name__ == "__main__":
    main()
