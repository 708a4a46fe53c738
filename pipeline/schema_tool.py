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

import tasks
from contracts import raw_csv
from contracts.errors import InputError
from pipeline import configs, inputs


def _typed(column: pd.Series) -> pd.Series:
    """The column typed as CsvExampleGen types it: integers, else floats, else strings (empty = missing)."""
    present = column[column != ""]
    for numeric in (int, float):
        try:
            present.map(numeric)
        except ValueError:
            continue
        return column.map(lambda cell, numeric=numeric: numeric(cell) if cell != "" else None)
    return _text(column)


def _text(column: pd.Series) -> pd.Series:
    return column.map(lambda cell: cell if cell != "" else None)


def read_examples(data: str, task: tasks.TaskSettings) -> pd.DataFrame:
    """Every CSV file of --data, parsed exactly as the pipeline's ExampleGen reads it (not TFDV's own CSV
    reader, which knows neither quoted line breaks nor byte-order marks): the task's columns as text, each
    label cell as the labels the task reads in it, the other columns typed."""
    tables = [raw_csv.read_table(path) for path in raw_csv.csv_files(data)]
    frame = pd.concat([pd.DataFrame(rows, columns=header) for header, rows in tables], ignore_index=True)
    as_text = [*task.columns.columns, task.label_column]
    frame = frame.apply(lambda column: _text(column) if column.name in as_text else _typed(column))
    frame[task.label_column] = frame[task.label_column].map(tasks.label_task(task).row_labels)
    return frame


def curated_schema(data: str, task: tasks.TaskSettings) -> schema_pb2.Schema:
    inputs.check_rows(data, task, domain=None)
    examples = read_examples(data, task)
    schema = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(examples), infer_feature_shape=True)
    texts = task.columns.columns
    for name in (*texts, task.label_column):
        feature = tfdv.get_feature(schema, name)
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
    for name in texts:  # a text is free-form, never a categorical domain
        text = tfdv.get_feature(schema, name)
        text.ClearField("domain")
        text.ClearField("string_domain")
    label = tfdv.get_feature(schema, task.label_column)
    if label.WhichOneof("domain_info") not in ("domain", "string_domain"):
        # TFDV gives labels that look like integers (0/1, star ratings) an int domain: they are class names.
        label.string_domain.value.extend(sorted({name for names in examples[task.label_column] for name in names}))
    tasks.label_task(task).pin_label_schema(label)
    tfdv.get_domain(schema, task.label_column)  # raises if TFDV saw too many distinct labels to infer one
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
    config = configs.PipelineConfig(text_column=args.text_column, label_column=args.label_column,
                                    text_pair_column=args.text_pair_column, label_separator=args.label_separator)
    try:
        configs.validate(config)
        schema = curated_schema(args.data, config.task_settings())
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
