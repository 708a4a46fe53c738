"""Bad input stops before the pipeline starts, with one line naming the file, line and fix."""
import json
import os

import pytest

from pipeline import inputs

LABELS = ("negative", "neutral", "positive")


def write(tmp_path, content, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


@pytest.mark.parametrize("content, message", [
    ("", r"data.csv is empty: it needs a header row \(text,label\)"),
    ("text,label\n", r"data.csv has a header but no data rows"),
    ("body,label\nhi,positive\n", r"no column 'text' in the header \['body', 'label'\]: .*--text-column"),
    ("text,sentiment\nhi,positive\n", r"no column 'label' in the header .*--label-column"),
    ("text,label\nok,positive\n,negative\n  ,neutral\n", r"line 3: empty text in column 'text'.* \(1 more row like it\)"),
    ("text,label\nok,positive\nfine,great\n", r"line 3: label 'great' is not one of \['negative', 'neutral', 'positive'\]"),
    ('text,label\n"two\nlines",positive\n', r"line 2: a quoted field spans several lines"),
    ("text,label\na,b,positive\n", r"line 2: 3 fields but the header has 2: quote fields"),
    ("text,label\nok,positive\nnul\x00here,negative\n", r"line 3: NUL byte"),
    (b"text,label\ncaf\xe9,positive\n", r"line 2: byte 0xe9 is not valid UTF-8: re-encode"),
    (b"\xef\xbb\xbftext,label\nhi,positive\n", r"byte-order mark"),
])
def test_bad_csv_is_refused_with_one_clear_line(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(inputs.InputError, match=message) as error:
        inputs.check_csv(path, "text", "label", LABELS)
    assert str(error.value).startswith(path) and "\n" not in str(error.value)


def test_valid_csv_with_extra_columns_and_quotes_passes(tmp_path):
    path = write(tmp_path, 'id,text,label\n1,"hello, world",positive\n2,"say ""hi""",neutral\n')
    assert inputs.check_csv(path, "text", "label", LABELS) == 2


def test_missing_paths(tmp_path):
    with pytest.raises(inputs.InputError, match=r"data file .*nope.csv does not exist"):
        inputs.csv_files(str(tmp_path / "nope.csv"))
    with pytest.raises(inputs.InputError, match=r"has no \*.csv file"):
        inputs.csv_files(str(tmp_path))


def copy_checkpoint(src, dst, skip=()):
    os.makedirs(dst)
    for name in ("config.json", "vocab.txt", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        if name not in skip:
            os.symlink(os.path.join(src, name), os.path.join(dst, name))
    return dst


@pytest.mark.parametrize("missing, message", [
    ("vocab.txt", r"has no vocab.txt"),
    ("config.json", r"has no config.json"),
    ("model.safetensors", r"has no weights \(model.safetensors or tf_model.h5\); a pickled pytorch_model.bin"),
])
def test_incomplete_checkpoint_is_refused(tmp_path, checkpoint_dir, missing, message):
    path = copy_checkpoint(checkpoint_dir, str(tmp_path / "ckpt"), skip=(missing,))
    with pytest.raises(inputs.InputError, match=message):
        inputs.check_checkpoint(path)


def test_vocab_size_must_match_config(tmp_path, checkpoint_dir):
    path = copy_checkpoint(checkpoint_dir, str(tmp_path / "ckpt"), skip=("config.json",))
    config = json.load(open(os.path.join(checkpoint_dir, "config.json")))
    json.dump({**config, "vocab_size": 1000}, open(os.path.join(path, "config.json"), "w"))
    with pytest.raises(inputs.InputError, match=r"vocab.txt has 30522 tokens but config.json says vocab_size 1000"):
        inputs.check_checkpoint(path)


def test_default_checkpoint_passes(checkpoint_dir):
    inputs.check_checkpoint(checkpoint_dir)
    assert not os.path.exists(os.path.join(checkpoint_dir, "pytorch_model.bin"))
