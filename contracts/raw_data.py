"""What a data drop looks like on disk, read the same way by the input check before the run
(contracts/raw_csv.py), by CsvExampleGen and by the drift check: the CSV header, and {SPAN} patterns.

Span resolution follows TFX 1.16's CsvExampleGen driver for a plain {SPAN} (tfx.components.example_gen.
utils: the span spec becomes `*` in a glob and a capture group in a regex built from that glob; the newest
span wins; its zero padding is kept in the resolved pattern; older spans of a window are spelled without
padding). It is written out here so that the input check needs no TFX, and so no TensorFlow: a bad file
is refused in a second. tests/test_raw_data.py checks it against TFX's own functions.
"""
import csv
import glob
import os
import re
from typing import List, Tuple

BYTE_ORDER_MARK = "\ufeff"
SPAN_SPEC = "{SPAN}"  # TFX's placeholder for the span number in an input pattern


def example_gen_input(data: str) -> Tuple[str, str]:
    """ExampleGen's input_base and file pattern (relative to it) for --data."""
    if SPAN_SPEC in data:
        parts = data.split("/")
        first_variable = next(i for i, part in enumerate(parts) if SPAN_SPEC in part or "*" in part)
        return "/".join(parts[:first_variable]) or "/", "/".join(parts[first_variable:])
    if is_dir(data):
        return data, "*.csv"
    return os.path.dirname(data if "://" in data else os.path.abspath(data)), os.path.basename(data)


def _gfile():
    import tensorflow as tf  # remote storage (gs://) only: local inputs are checked without TensorFlow

    return tf.io.gfile


def open_binary(path: str):
    return _gfile().GFile(path, "rb") if "://" in path else open(path, "rb")


def glob_files(pattern: str) -> List[str]:
    return sorted(_gfile().glob(pattern) if "://" in pattern else glob.glob(pattern))


def is_dir(path: str) -> bool:
    return _gfile().isdir(path) if "://" in path else os.path.isdir(path)


def is_file(path: str) -> bool:
    return (_gfile().exists(path) and not _gfile().isdir(path)) if "://" in path else os.path.isfile(path)


def read_header(path: str) -> List[str]:
    """The column names: the first line, byte-order mark dropped, parsed as CSV (quotes honoured)."""
    with open_binary(path) as f:
        first_line = f.readline().decode("utf-8", errors="replace").lstrip(BYTE_ORDER_MARK)
    return next(csv.reader([first_line]), [])


def _glob_to_regex(pattern: str) -> str:
    """TFX's translation of a glob into the regex it matches file paths with."""
    for old, new in (("\\", "\\\\"), (".", r"\."), ("+", r"\+"), ("*", r"[^\\/]*"), ("?", r"[^\\/]"),
                     ("(", r"\("), (")", r"\)")):
        pattern = pattern.replace(old, new)
    return pattern


def newest_span(input_base: str, pattern: str) -> Tuple[int, str]:
    """The newest span a {SPAN} pattern matches under input_base, and the pattern resolved to it.
    Raises ValueError as TFX does: no file matches, or a span is not a number."""
    full = os.path.join(input_base, pattern)
    regex = _glob_to_regex(full).replace(SPAN_SPEC, "(?P<span>.*)")
    newest, token = None, None
    for path in glob_files(full.replace(SPAN_SPEC, "*")):
        match = re.search(regex, path)
        if match is None:
            raise ValueError("Glob pattern does not match regex pattern")
        try:
            span = int(match.group("span"))
        except ValueError:
            raise ValueError(f"Cannot find span number from {path} based on {regex}") from None
        if newest is None or span > newest:
            newest, token = span, match.group("span")
    if newest is None:
        raise ValueError(f"Cannot find matching for split data based on {pattern}")
    return newest, pattern.replace(SPAN_SPEC, token)


def span_patterns(pattern: str, span: int, span_window: int) -> List[str]:
    """The file patterns of the span_window spans that end with `span`, oldest first."""
    return [pattern.replace(SPAN_SPEC, str(s)) for s in range(max(span - span_window + 1, 0), span + 1)]
