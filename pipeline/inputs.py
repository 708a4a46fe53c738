"""Checks the user's inputs before anything runs, so that a bad file costs one clear line, not a Beam
traceback from deep inside a component. Each failure names the file, the line or column, and the fix."""
import csv
import glob
import io
import json
import os
from typing import List, Optional, Sequence

from components.model import WEIGHT_FILES


class InputError(ValueError):
    """Bad user input; the message is the one line to show."""


def check_checkpoint(checkpoint_dir: str) -> None:
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
        vocab_size = json.load(f).get("vocab_size")
    with open(os.path.join(checkpoint_dir, "vocab.txt"), encoding="utf-8") as f:
        vocab_lines = sum(1 for _ in f)
    if vocab_size != vocab_lines:
        raise InputError(f"checkpoint {checkpoint_dir}: vocab.txt has {vocab_lines} tokens but config.json says "
                         f"vocab_size {vocab_size}: they must come from the same model")


def csv_files(data: str) -> List[str]:
    if os.path.isdir(data):
        files = sorted(glob.glob(os.path.join(data, "*.csv")))
        if not files:
            raise InputError(f"data directory {data} has no *.csv file: pass --data with a CSV file or a "
                             "directory of CSV files")
        return files
    if not os.path.isfile(data):
        raise InputError(f"data file {data} does not exist: pass --data with a CSV file (text,label columns)")
    return [data]


def _decode(path: str) -> str:
    raw = open(path, "rb").read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raise InputError(f"{path} starts with a UTF-8 byte-order mark, which CsvExampleGen would read as part of "
                         "the first column's name: save the file as UTF-8 without BOM")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"{path}, line {line}: byte 0x{raw[e.start]:02x} is not valid UTF-8: re-encode the "
                         "file as UTF-8") from None


class _RowProblems:
    """Collects the first row of each kind of problem and how many rows share it."""

    def __init__(self, path: str):
        self._path, self._first, self._count = path, {}, {}

    def add(self, kind: str, line: int, message: str) -> None:
        self._first.setdefault(kind, (line, message))
        self._count[kind] = self._count.get(kind, 0) + 1

    def raise_first(self) -> None:
        if not self._first:
            return
        kind, (line, message) = min(self._first.items(), key=lambda item: item[1][0])
        more = self._count[kind] - 1
        suffix = f" ({more} more row{'s' if more > 1 else ''} like it)" if more else ""
        raise InputError(f"{self._path}, line {line}: {message}{suffix}")


def check_csv(path: str, text_column: str, label_column: str, labels: Optional[Sequence[str]]) -> int:
    """Validates one CSV file; returns its number of data rows."""
    content = _decode(path)
    if not content.strip():
        raise InputError(f"{path} is empty: it needs a header row ({text_column},{label_column}) and data rows")
    if "\x00" in content:
        line = content[: content.index("\x00")].count("\n") + 1
        raise InputError(f"{path}, line {line}: NUL byte in the file: remove it (is this a CSV file?)")
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    try:
        header = next(reader)
        missing = [c for c in (text_column, label_column) if c not in header]
        if missing:
            raise InputError(f"{path}: no column {missing[0]!r} in the header {header}: rename the column or pass "
                             f"--{'text' if missing[0] == text_column else 'label'}-column")
        text_at, label_at = header.index(text_column), header.index(label_column)
        problems = _RowProblems(path)
        rows, last_line = 0, reader.line_num
        for row in reader:
            rows += 1
            line, last_line = last_line + 1, reader.line_num
            if reader.line_num > line:
                problems.add("multiline", line, "a quoted field spans several lines; CsvExampleGen reads one "
                             "record per line: replace the line breaks inside the text with spaces")
            elif len(row) != len(header):
                problems.add("fields", line, f"{len(row)} fields but the header has {len(header)}: quote fields "
                             "that contain commas")
            elif not row[text_at].strip():
                problems.add("text", line, f"empty text in column {text_column!r}: fill it or drop the row")
            elif labels is not None and row[label_at] not in labels:
                problems.add("label", line, f"label {row[label_at]!r} is not one of {sorted(labels)} in the "
                             "schema: fix the row, or regenerate the schema (make schema) if it is a new class")
    except csv.Error as e:
        raise InputError(f"{path}, line {reader.line_num}: malformed CSV ({e}): check the quoting") from None
    problems.raise_first()
    if rows == 0:
        raise InputError(f"{path} has a header but no data rows")
    return rows
