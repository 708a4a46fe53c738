"""Bad input at ingestion: each case ends with one line naming the file, line or column and the fix, exit
code 2, and no outputs directory at all. Valid variants (BOM, CRLF, mixed line endings, quoted line
breaks) are accepted, and the real ExampleGen reads them as the check does."""
import glob
import json
import os
import shutil

import pytest
import tensorflow as tf

from contracts.errors import InputError
from pipeline import configs, defaults, inputs
from tasks import TaskSettings

from pipeline_runs import run_refused

LABELS = defaults.CORPUS_LABELS
HEADER_ONLY = "text,label\n"

# (case, file content, the message after "error: "; {path} is the file)
BAD_CSV = [
    ("empty file", "", "{path} is empty: it needs a header row (text,label) and data rows"),
    ("header only", HEADER_ONLY, "{path} has a header but no data rows"),
    ("missing text column", "body,label\nhi,positive\n",
     "{path}: no column 'text' in the header ['body', 'label']: rename the column or pass --text-column"),
    ("missing label column", "text,sentiment\nhi,positive\n",
     "{path}: no column 'label' in the header ['text', 'sentiment']: rename the column or pass --label-column"),
    ("extra fields in a row", "text,label\nok,positive\na,b,positive\n",
     "{path}, line 3: 3 fields but the header has 2: quote fields that contain commas"),
    ("unclosed quote", 'text,label\nok,positive\n"never closed,negative\nmore,neutral\n',
     '{path}, line 3: a quote opened on this line is never closed: close it, and write a quote inside a quoted '
     'text as two ("")'),
    ("stray quote in an unquoted text", 'text,label\nhe is 5" tall,positive\nok,negative\n',
     '{path}, line 2: a quote opened on this line is never closed: close it, and write a quote inside a quoted '
     'text as two ("")'),
    ("semicolon delimiter", "text;label\nhi;positive\n",
     "{path}: the header 'text;label' is one column; the file looks ';'-separated, but CsvExampleGen reads "
     "comma-separated files only: save it with commas"),
    ("tab delimiter", "text\tlabel\nhi\tpositive\n",
     "{path}: the header 'text\\tlabel' is one column; the file looks '\\t'-separated, but CsvExampleGen reads "
     "comma-separated files only: save it with commas"),
    ("non-UTF-8 bytes", b"text,label\nok,positive\ncaf\xe9,positive\n",
     "{path}, line 3: byte 0xe9 is not valid UTF-8: re-encode the file as UTF-8"),
    ("NUL byte", "text,label\nok,positive\nnul\x00here,negative\n",
     "{path}, line 3: NUL byte in the file: remove it (is this a CSV file?)"),
    ("empty text", "text,label\nok,positive\n,negative\n",
     "{path}, line 3: empty text in column 'text': fill it or drop the row"),
    ("whitespace-only text", "text,label\nok,positive\n   ,neutral\n\t,neutral\n",
     "{path}, line 3: empty text in column 'text': fill it or drop the row (1 more row like it)"),
    ("1 MB text", "text,label\nok,positive\n" + "word " * 200_000 + ",negative\n",
     "{path}, line 3: a field is longer than 131,072 characters, the most CsvExampleGen's CSV parser reads: "
     "shorten the text (the model reads only its first tokens)"),
    ("unknown label", "text,label\nok,positive\nfine,great\n",
     "{path}, line 3: label 'great' is not one of ['negative', 'neutral', 'positive'] in the schema: fix the "
     "row, or regenerate the schema (make schema) if it is a new class"),
    ("numeric label", "text,label\nok,positive\nbad,0\n",
     "{path}, line 3: label '0' is a number, but the classes in the schema are ['negative', 'neutral', "
     "'positive']: write the class name, not its index"),
    ("duplicate header", "text,label,text\nhi,positive,again\n",
     "{path}: column 'text' appears twice in the header ['text', 'label', 'text']: rename or drop one of them"),
    ("carriage-return-only line endings", "text,label\rhi,positive\rbad,negative\r",
     "{path}, line 1: a carriage return (\\r) without a line feed ends a line: CsvExampleGen splits lines on "
     "\\n only; save the file with \\n or \\r\\n line endings"),
]


def write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


@pytest.mark.parametrize("content, message", [case[1:] for case in BAD_CSV], ids=[case[0] for case in BAD_CSV])
def test_bad_csv_is_refused_with_one_clear_line(tmp_path, capsys, content, message):
    path = write(tmp_path / "data.csv", content)
    assert run_refused(tmp_path, capsys, "--data", path) == message.format(path=path)


def test_missing_file_and_directory_without_csv(tmp_path, capsys):
    missing = str(tmp_path / "nope.csv")
    assert run_refused(tmp_path, capsys, "--data", missing) == (
        f"data file {missing} does not exist: pass --data with a CSV file (text,label columns)")
    (tmp_path / "drop").mkdir()
    write(tmp_path / "drop" / "data.tsv", "text\tlabel\n")
    assert run_refused(tmp_path, capsys, "--data", str(tmp_path / "drop")) == (
        f"data directory {tmp_path / 'drop'} has no *.csv file: pass --data with a CSV file or a directory of "
        "CSV files")


def test_files_of_one_drop_must_share_the_header(tmp_path, capsys):
    (tmp_path / "drop").mkdir()
    write(tmp_path / "drop" / "a.csv", "text,label\nhi,positive\n")
    second = write(tmp_path / "drop" / "b.csv", "label,text\npositive,hi\n")
    assert run_refused(tmp_path, capsys, "--data", str(tmp_path / "drop")) == (
        f"{second}: header ['label', 'text'] differs from ['text', 'label'] in {tmp_path / 'drop' / 'a.csv'}: "
        "every CSV file of a run needs the same columns in the same order")


def test_numbered_labels_are_class_names(tmp_path, capsys):
    """0/1 and 1-5 stars are how most public data comes: against a schema of numbered classes they pass; against
    a schema of named ones, the row is refused with what to write instead."""
    path = write(tmp_path / "data.csv", "text,stars\nok,1\nbad,0\nfine, 1\n")
    assert inputs.check_rows(path, TaskSettings(label_column="stars"), ["0", "1"]) == 3
    with pytest.raises(InputError) as error:
        inputs.check_rows(path, TaskSettings(label_column="stars"), LABELS)
    assert str(error.value) == (f"{path}, line 2: label '1' is a number, but the classes in the schema are "
                                f"{sorted(LABELS)}: write the class name, not its index (2 more rows like it)")


def test_a_label_written_with_spaces_around_it_is_the_class(tmp_path):
    path = write(tmp_path / "data.csv", "text,label\nok, positive\nbad,negative \nmeh, neutral \n")
    assert inputs.check_rows(path, TaskSettings(), LABELS) == 3


def test_data_of_one_class_is_refused_before_anything_runs(tmp_path, capsys):
    path = write(tmp_path / "data.csv", "text,label\nok,positive\nfine, positive\ngreat,positive\n")
    assert run_refused(tmp_path, capsys, "--data", path) == (
        f"data {path}: every row has the label 'positive' in column 'label': a classifier needs examples of at "
        "least two classes")


def copy_checkpoint(src, dst, skip=()):
    os.makedirs(dst)
    for name in os.listdir(src):
        if name not in skip:
            os.symlink(os.path.join(src, name), os.path.join(dst, name))
    return dst


@pytest.mark.parametrize("missing, message", [
    ("vocab.txt", "checkpoint {path} has no vocab.txt: copy the checkpoint's vocab.txt into it"),
    ("config.json", "checkpoint {path} has no config.json: copy the checkpoint's config.json into it"),
    ("model.safetensors", "checkpoint {path} has no weights (model.safetensors or tf_model.h5); a pickled "
                          "pytorch_model.bin is not loaded: save the model with safetensors"),
])
def test_incomplete_checkpoint_is_refused(tmp_path, capsys, checkpoint_dir, missing, message):
    path = copy_checkpoint(checkpoint_dir, str(tmp_path / "ckpt"), skip=(missing,))
    if missing == "model.safetensors":
        write(tmp_path / "ckpt" / "pytorch_model.bin", b"\x80\x02 a pickle, never loaded")
    assert run_refused(tmp_path, capsys, "--checkpoint", path) == message.format(path=path)


def test_checkpoint_whose_vocab_disagrees_with_its_config(tmp_path, capsys, checkpoint_dir):
    path = copy_checkpoint(checkpoint_dir, str(tmp_path / "ckpt"), skip=("config.json",))
    config = json.load(open(os.path.join(checkpoint_dir, "config.json")))
    json.dump({**config, "vocab_size": 1000}, open(os.path.join(path, "config.json"), "w"))
    assert run_refused(tmp_path, capsys, "--checkpoint", path) == (
        f"checkpoint {path}: vocab.txt has 30522 tokens but config.json says vocab_size 1000: they must come from "
        "the same model")


def test_missing_checkpoint_directory(tmp_path, capsys):
    path = str(tmp_path / "nope")
    assert run_refused(tmp_path, capsys, "--checkpoint", path) == (
        f"checkpoint directory {path} does not exist: pass --checkpoint with a local Hugging Face BERT "
        "checkpoint (config.json, vocab.txt, model.safetensors)")


# Valid variants: byte-order mark, CRLF, mixed line endings, a quoted text over two lines, a blank line,
# extra columns, a quoted header.
VALID = (b'\xef\xbb\xbf"id","text","label"\r\n1,hello there,positive\r\n2,bad day,negative\n'
         b'3,"two\r\nlines, one text",neutral\n\n4,"say ""hi""",positive\r\n')
VALID_ROWS = {"hello there": "positive", "bad day": "negative", "two\r\nlines, one text": "neutral",
              'say "hi"': "positive"}


def test_valid_variants_pass_the_check(tmp_path):
    path = write(tmp_path / "data.csv", VALID)
    assert inputs.check_rows(path, TaskSettings(), LABELS) == len(VALID_ROWS)


def test_example_gen_reads_the_valid_variants_as_the_check_does(tmp_path):
    """The pipeline's own ExampleGen, run by TFX: every row arrives with its text and label intact."""
    from tfx import v1 as tfx

    from pipeline import pipeline

    config = configs.PipelineConfig(data=write(tmp_path / "data.csv", VALID), checkpoint="unused",
                                    outputs_dir=str(tmp_path / "outputs"), eval_buckets=2)
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="example_gen", pipeline_root=config.pipeline_root, components=[pipeline._example_gen(config)],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path)))
    rows = {}
    for path in glob.glob(os.path.join(config.pipeline_root, "CsvExampleGen", "examples", "*", "Split-*", "*")):
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            feature = tf.train.Example.FromString(record.numpy()).features.feature
            assert set(feature) == {"id", "text", "label"}
            rows[feature["text"].bytes_list.value[0].decode()] = feature["label"].bytes_list.value[0].decode()
    assert rows == VALID_ROWS
    shutil.rmtree(config.outputs_dir)


def test_default_checkpoint_passes(checkpoint_dir):
    inputs.check_checkpoint(checkpoint_dir)
    assert not os.path.exists(os.path.join(checkpoint_dir, "pytorch_model.bin"))


# Multi-label cells (--label-separator): each label is checked, and a row needs one.
MULTI_LABEL = TaskSettings(labels="multi_label", label_separator="|")


@pytest.mark.parametrize("cell, message", [
    ("positive|angry", "label 'angry' is not one of ['negative', 'neutral', 'positive'] in the schema: fix the row, "
                       "or regenerate the schema (make schema) if it is a new class"),
    (" | ", "no label (the cell is ' | '): give the row at least one label, or drop it"),
])
def test_a_multi_label_row_with_an_unknown_label_or_none_is_refused(tmp_path, cell, message):
    path = write(tmp_path / "data.csv", f"text,label\nfine,negative | neutral\nbad,{cell}\nok,positive\n")
    with pytest.raises(InputError) as error:
        inputs.check_rows(path, MULTI_LABEL, LABELS)
    assert str(error.value) == f"{path}, line 3: {message}"


def test_a_multi_label_file_passes_with_its_separator_and_not_without(tmp_path):
    path = write(tmp_path / "data.csv", "text,label\nfine,negative | neutral\nok,positive\n")
    assert inputs.check_rows(path, MULTI_LABEL, LABELS) == 2
    with pytest.raises(InputError, match="label 'negative | neutral' is not one of"):
        inputs.check_rows(path, TaskSettings(), LABELS)


@pytest.mark.parametrize("separator", [",", '"', " |", "\n"])
def test_a_label_separator_a_csv_cell_cannot_hold_is_refused(tmp_path, capsys, separator):
    message = run_refused(tmp_path, capsys, "--label-separator", separator)
    assert message.startswith(f"--label-separator {separator!r}: a CSV cell holds the labels")
