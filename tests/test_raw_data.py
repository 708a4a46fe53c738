"""Span resolution without TFX (contracts/raw_data.py) against TFX 1.16's own functions, on the layouts
users give: the same newest span, the same resolved pattern, the same window patterns, the same refusals."""
import os

import pytest
from tfx.components.example_gen import utils as example_gen_utils
from tfx.proto import example_gen_pb2

from contracts import raw_data

LAYOUTS = {
    "numbered directories": (["span-1/a.csv", "span-2/a.csv", "span-10/a.csv", "span-9/b.csv"], "span-{SPAN}/*.csv"),
    "zero-padded": (["span-01/a.csv", "span-02/a.csv"], "span-{SPAN}/*.csv"),
    "span in the file name": (["data/part-3.csv", "data/part-12.csv", "data/other.txt"], "data/part-{SPAN}.csv"),
    "nested": (["drops/2/span-4/x.csv", "drops/2/span-5/y.csv"], "drops/2/span-{SPAN}/*.csv"),
}


def _tfx(input_base, pattern):
    split = example_gen_pb2.Input.Split(name="data", pattern=pattern)
    _, span, _ = example_gen_utils.calculate_splits_fingerprint_span_and_version(input_base, [split])
    return span, split.pattern


def _make(tmp_path, files):
    for name in files:
        os.makedirs(os.path.dirname(tmp_path / name), exist_ok=True)
        (tmp_path / name).write_text("text,label\n")
    return str(tmp_path)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_newest_span_and_its_pattern_are_tfxs(tmp_path, layout):
    files, pattern = LAYOUTS[layout]
    input_base = _make(tmp_path, files)
    assert raw_data.newest_span(input_base, pattern) == _tfx(input_base, pattern)
    span = raw_data.newest_span(input_base, pattern)[0]
    assert raw_data.span_patterns(pattern, span, 3) == [
        example_gen_utils.get_pattern_for_span_version(pattern, True, False, False, s, None)
        for s in range(span - 2, span + 1)]


@pytest.mark.parametrize("files", [[], ["span-x/a.csv"]], ids=["no file", "not a number"])
def test_what_tfx_refuses_is_refused(tmp_path, files):
    input_base = _make(tmp_path, files)
    with pytest.raises(ValueError) as tfx_error:
        _tfx(input_base, "span-{SPAN}/*.csv")
    with pytest.raises(ValueError) as ours:
        raw_data.newest_span(input_base, "span-{SPAN}/*.csv")
    assert str(ours.value).split(" ")[:3] == str(tfx_error.value).split(" ")[:3]
