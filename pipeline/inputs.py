"""Checks the user's inputs before anything runs, so that a bad file or checkpoint costs one clear line,
not a Beam traceback from deep inside a component. Each failure names the file, the line or column, and
the fix. The data files are checked by contracts/raw_csv.py; the checkpoint here. Nothing here imports
TensorFlow or TFX.
"""
import json
import os
from typing import List, Optional, Sequence

import tasks
from contracts import raw_csv
from contracts.errors import InputError, UnsupportedCheckpointError
from preprocessing.checkpoint import WEIGHT_FILES, check_config


def check_checkpoint(checkpoint_dir: str, max_seq_length: int = 0) -> None:
    """max_seq_length: the configured one, which the checkpoint's position embeddings must cover."""
    if not os.path.isdir(checkpoint_dir):
        raise InputError(f"checkpoint directory {checkpoint_dir} does not exist: pass --checkpoint with a local "
                         "Hugging Face BERT checkpoint (config.json, vocab.txt, model.safetensors)")
    for name in ("config.json", "vocab.txt"):
        if not os.path.isfile(os.path.join(checkpoint_dir, name)):
            raise InputError(f"checkpoint {checkpoint_dir} has no {name}: copy the checkpoint's {name} into it")
    if not any(os.path.isfile(os.path.join(checkpoint_dir, name)) for name in WEIGHT_FILES):
        raise InputError(f"checkpoint {checkpoint_dir} has no weights ({' or '.join(WEIGHT_FILES)}); a pickled "
                         "pytorch_model.bin is not loaded: save the model with safetensors")
    with open(os.path.join(checkpoint_dir, "config.json")) as f:
        config = json.load(f)
    try:
        check_config(config)
    except UnsupportedCheckpointError as e:
        raise InputError(f"checkpoint {checkpoint_dir}: {e}: use a BERT checkpoint with GELU or ReLU and absolute "
                         "positions") from None
    positions = config.get("max_position_embeddings", 512)
    if max_seq_length > positions:
        raise InputError(f"--max-seq-length {max_seq_length} is more than the {positions} positions of checkpoint "
                         f"{checkpoint_dir}: use at most {positions}, and --long-text chunk to read longer texts "
                         "whole")
    vocab_size = config.get("vocab_size")
    with open(os.path.join(checkpoint_dir, "vocab.txt"), encoding="utf-8") as f:
        vocab_lines = sum(1 for _ in f)
    if vocab_size != vocab_lines:
        raise InputError(f"checkpoint {checkpoint_dir}: vocab.txt has {vocab_lines} tokens but config.json says "
                         f"vocab_size {vocab_size}: they must come from the same model")


def schema_labels(schema_path: str, label_column: str, text_columns: Sequence[str] = ()) -> List[str]:
    """The label's domain in the curated schema, read with TFMD's proto alone (TFDV would load TensorFlow);
    refuses a schema that lacks one of text_columns (a sentence pair's second column, say)."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    if not os.path.isfile(schema_path):
        raise InputError(f"schema {schema_path} does not exist: create one with `make schema DATA=...`")
    with open(schema_path) as f:
        schema = text_format.Parse(f.read(), schema_pb2.Schema())
    missing = [column for column in text_columns if column not in {f.name for f in schema.feature}]
    if missing:
        raise InputError(f"schema {schema_path} has no feature {missing[0]!r}: regenerate it for this data with "
                         "`make schema` (ARGS=\"--text-pair-column ...\" for a sentence pair)")
    feature = next((f for f in schema.feature if f.name == label_column), None)
    domain = (feature.string_domain if feature is not None and feature.HasField("string_domain") else
              next((d for d in schema.string_domain if feature is not None and d.name == feature.domain), None))
    if domain is None:
        raise InputError(f"schema {schema_path} has no label domain for column {label_column!r}: "
                                "regenerate it with `make schema`")
    return list(domain.value)


def check_rows(data: str, task: tasks.TaskSettings, domain: Optional[Sequence[str]], span_window: int = 1) -> int:
    """Every file of the data, its labels read by the task against the schema's domain (None: not checked);
    refuses data whose rows name fewer than two classes, which no classifier can learn from (the BlessingGate
    would refuse its model only after the training). Returns the number of rows."""
    label_task, seen = tasks.label_task(task), set()

    def label_problem(cell: str) -> Optional[str]:
        seen.update(label_task.row_labels(cell))
        return label_task.label_problem(cell, domain)

    rows = raw_csv.check_data(data, task.columns, task.label_column, label_problem, span_window)
    if len(seen) < 2:
        raise InputError(f"data {data}: every row has the label {sorted(seen)[0]!r} in column {task.label_column!r}: "
                         "a classifier needs examples of at least two classes")
    return rows
