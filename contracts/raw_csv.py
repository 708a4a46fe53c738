"""How the pipeline reads a raw CSV drop, and what it refuses: shared by the input check before a run
(pipeline/cli.py), `make schema` and batch scoring (pipeline/score.py), so that a file one of them takes,
all of them take. Each refusal is one InputError line naming the file, the line or column, and the fix.

A file is read the way CsvExampleGen (TFX 1.16) does, so that what passes here also passes there: lines end
at "\\n" (a "\\r" before it is dropped by the CSV parser), lines are joined while a quote is open (a quoted
text may span lines), each record is parsed by Python's csv module (as tfx_bsl does, with its 131,072-
character field limit), blank lines are skipped. The one difference: a UTF-8 byte-order mark is allowed,
because our ExampleGen strips it from the header (components/csv_example_gen.py).

Nothing here imports TensorFlow or TFX (contracts/raw_data.py resolves spans as TFX does): a bad input is
refused in about a second, not after TensorFlow's import.
"""
import csv
import hashlib
import os
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from contracts.errors import InputError
from contracts.raw_data import (
    BYTE_ORDER_MARK,
    SPAN_SPEC,
    example_gen_input,
    glob_files,
    is_dir,
    is_file,
    open_binary,
    read_header,
    span_patterns,
)
from contracts.raw_data import newest_span as resolve_span
from contracts.text_columns import TextColumns

_OTHER_DELIMITERS = (";", "\t", "|")


def newest_span(data: str, span_window: int = 1) -> Tuple[int, List[str]]:
    """The span CsvExampleGen will read for a {SPAN} pattern, and the files of the span_window spans that
    end with it."""
    input_base, pattern = example_gen_input(data)
    try:
        span, resolved = resolve_span(input_base, pattern)
    except ValueError as e:
        raise InputError(f"data pattern {data}: {e}: {SPAN_SPEC} stands for the span number, e.g. "
                         "data/span-{SPAN}/*.csv with directories span-1, span-2, ...") from None
    files = [path for span_pattern in span_patterns(pattern, span, span_window)
             for path in glob_files(os.path.join(input_base, span_pattern))]
    if not glob_files(os.path.join(input_base, resolved)):
        raise InputError(f"data pattern {data}: span {span} has no file matching {resolved}")
    return span, files


def csv_files(data: str, span_window: int = 1) -> List[str]:
    if SPAN_SPEC in data:
        return newest_span(data, span_window)[1]
    if is_dir(data):
        files = glob_files(os.path.join(data, "*.csv"))
        if not files:
            raise InputError(f"data directory {data} has no *.csv file: pass --data with a CSV file or a "
                             "directory of CSV files")
        return files
    if not is_file(data):
        raise InputError(f"data file {data} does not exist: pass --data with a CSV file (text,label columns)")
    return [data]


def _decode(path: str, raw: Optional[bytes] = None) -> str:
    """The file's text; raw: its bytes, when the caller read them (from gs://, say)."""
    if raw is None:
        with open_binary(path) as f:
            raw = f.read()
    try:
        return raw.decode("utf-8").lstrip(BYTE_ORDER_MARK)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"{path}, line {line}: byte 0x{raw[e.start]:02x} is not valid UTF-8: re-encode the "
                         "file as UTF-8") from None


def _records(path: str, content: str) -> Iterator[Tuple[int, str]]:
    """(first line number, record) as CsvExampleGen groups lines: joined while the quote count is odd."""
    lines = content.split("\n")
    if lines[-1] == "":
        lines.pop()
    start, pending, quotes = 1, [], 0
    for number, line in enumerate(lines, start=1):
        if not pending:
            start = number
        pending.append(line + "\n")
        quotes += line.count('"')
        if quotes % 2 == 0:
            yield start, "".join(pending)
            pending, quotes = [], 0
    if pending:
        raise InputError(f"{path}, line {start}: a quote opened on this line is never closed: close it, and "
                         'write a quote inside a quoted text as two ("")')


def _rows(path: str, content: str) -> Iterator[Tuple[int, List[str]]]:
    """(first line number, fields) of each non-blank record, the header first."""
    for line, record in _records(path, content):
        row = _parse(path, line, record)
        if row:  # a blank line, which CsvExampleGen skips too
            yield line, row


def read_table(path: str, raw: Optional[bytes] = None) -> Tuple[List[str], List[List[str]]]:
    """The header and the rows of a CSV file, as CsvExampleGen reads them (raw: its bytes, if already read)."""
    rows = _rows(path, _decode(path, raw))
    header = next(rows, (0, []))[1]
    return header, [row for _, row in rows]


def _parse(path: str, line: int, record: str) -> List[str]:
    try:
        return next(csv.reader([record]), [])
    except csv.Error as e:
        if "new-line character" in str(e):
            raise InputError(f"{path}, line {line}: a carriage return (\\r) without a line feed ends a line: "
                             "CsvExampleGen splits lines on \\n only; save the file with \\n or \\r\\n line "
                             "endings") from None
        if "field larger than field limit" in str(e):
            raise InputError(f"{path}, line {line}: a field is longer than {csv.field_size_limit():,} "
                             "characters, the most CsvExampleGen's CSV parser reads: shorten the text (the model "
                             "reads only its first tokens)") from None
        raise InputError(f"{path}, line {line}: malformed CSV ({e}): check the quoting") from None


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


def _check_header(path: str, header: List[str], text_columns: Sequence[str], label_column: Optional[str]) -> None:
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InputError(f"{path}: column {duplicates[0]!r} appears twice in the header {header}: rename or "
                         "drop one of them")
    delimiters = [d for d in _OTHER_DELIMITERS if len(header) == 1 and d in header[0]]
    if delimiters:
        raise InputError(f"{path}: the header {header[0]!r} is one column; the file looks {delimiters[0]!r}"
                         "-separated, but CsvExampleGen reads comma-separated files only: save it with commas")
    flags = dict(zip(text_columns, ("--text-column", "--text-pair-column")))
    if label_column is not None:
        flags[label_column] = "--label-column"
    missing = [c for c in flags if c not in header]
    if missing:
        raise InputError(f"{path}: no column {missing[0]!r} in the header {header}: rename the column or pass "
                         f"{flags[missing[0]]}")


LabelProblem = Callable[[str], Optional[str]]  # a row's label cell -> what is wrong with it, or None


def check_csv(path: str, columns: TextColumns, label_column: Optional[str] = None,
              label_problem: Optional[LabelProblem] = None) -> int:
    """Validates one CSV file; returns its number of data rows. Each text column (a sentence pair's second
    one too, contracts/text_columns.py) must be filled in every row; label_problem (the task's, tasks/) says
    what is wrong with a label cell."""
    content = _decode(path)
    names = ",".join(c for c in (*columns.columns, label_column) if c)
    if not content.strip():
        raise InputError(f"{path} is empty: it needs a header row ({names}) and data rows")
    if "\x00" in content:
        line = content[: content.index("\x00")].count("\n") + 1
        raise InputError(f"{path}, line {line}: NUL byte in the file: remove it (is this a CSV file?)")
    records = _rows(path, content)
    header = next(records)[1]
    _check_header(path, header, columns.columns, label_column)
    text_at = [(header.index(column), column) for column in columns.columns]
    label_at = header.index(label_column) if label_column else None
    problems, rows = _RowProblems(path), 0
    for line, row in records:
        rows += 1
        if len(row) != len(header):
            problems.add("fields", line, f"{len(row)} fields but the header has {len(header)}: quote fields "
                         "that contain commas")
        elif empty := [column for at, column in text_at if not row[at].strip()]:
            problems.add("text", line, f"empty text in column {empty[0]!r}: fill it or drop the row")
        elif label_at is not None and label_problem and (problem := label_problem(row[label_at])):
            problems.add("label", line, problem)
    problems.raise_first()
    if rows == 0:
        raise InputError(f"{path} has a header but no data rows")
    return rows


def check_data(data: str, columns: TextColumns, label_column: Optional[str] = None,
               label_problem: Optional[LabelProblem] = None, span_window: int = 1) -> int:
    """Validates every CSV file a run (or a scoring) reads; returns the number of data rows. Without a
    label column (scoring), labels are neither required nor checked."""
    files = csv_files(data, span_window)
    rows = 0
    for path in files:
        rows += check_csv(path, columns, label_column, label_problem)
    headers = {path: read_header(path) for path in files}
    for path in files[1:]:
        if headers[path] != headers[files[0]]:
            raise InputError(f"{path}: header {headers[path]} differs from {headers[files[0]]} in {files[0]}: "
                             "every CSV file of a run needs the same columns in the same order")
    return rows


def fingerprint(data: str) -> str:
    """Of the files a drop resolves to now (names, sizes, modification times): it changes when a new span
    or a rewritten file arrives. Empty for remote storage, which is not listed from here."""
    if "://" in data:
        return ""
    digest = hashlib.sha256()  # local files only
    for path in csv_files(data):
        status = os.stat(path)
        digest.update(f"{os.path.abspath(path)}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
