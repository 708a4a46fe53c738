"""The pipeline's ExampleGen executor on real Beam, as the pipeline configures it (pipeline/pipeline.py): what it
writes of a label cell, and how it splits rows. (The whole component under TFX: tests/test_inputs.py.)"""
import apache_beam as beam
import pytest
import tensorflow as tf
from google.protobuf import message
from tfx.utils import proto_utils

from components import csv_example_gen
from contracts import names
from pipeline import configs, pipeline


def _generate(config: configs.PipelineConfig, out_dir):
    """{split: [{column: [values]}]}: the examples the executor writes for the config's data."""
    component = pipeline._example_gen(config)
    exec_properties = {key: proto_utils.proto_to_json(value) if isinstance(value, message.Message) else value
                       for key, value in component.exec_properties.items()}
    with beam.Pipeline() as p:
        for split, examples in csv_example_gen.Executor().GenerateExamplesByBeam(p, exec_properties).items():
            _ = (examples | f"Serialize{split}" >> beam.Map(lambda example: example.SerializeToString())
                 | f"Write{split}" >> beam.io.WriteToTFRecord(str(out_dir / split)))
    return {split: [_features(tf.train.Example.FromString(record.numpy()))
                    for record in tf.data.TFRecordDataset(sorted(map(str, out_dir.glob(f"{split}-*"))))]
            for split in (names.TRAIN_SPLIT, names.EVAL_SPLIT)}


def _features(example: tf.train.Example):
    return {name: [v.decode() if isinstance(v, bytes) else v for v in _values(feature)]
            for name, feature in example.features.feature.items()}


def _values(feature: tf.train.Feature):
    return getattr(feature, feature.WhichOneof("kind")).value


def test_numbered_labels_stay_class_names_and_spaces_around_a_label_are_dropped(tmp_path):
    """Every label a number: TFX alone would write an int64 feature, which Transform's vocabulary cannot read."""
    data = tmp_path / "reviews.csv"
    data.write_text("review,stars,helpful\n" + "".join(f"review {i},{' ' if i % 3 else ''}{i % 5 + 1},{i}\n"
                                                      for i in range(50)))
    splits = _generate(configs.PipelineConfig(data=str(data), text_column="review", label_column="stars"), tmp_path)
    examples = [example for rows in splits.values() for example in rows]
    assert sorted({label for example in examples for label in example["stars"]}) == ["1", "2", "3", "4", "5"]
    assert all(isinstance(example["helpful"][0], int) for example in examples)  # other columns as TFX types them


def test_a_multi_label_cell_is_written_as_its_labels(tmp_path):
    data = tmp_path / "tags.csv"
    data.write_text("text,label\none,a | b\ntwo,b\nthree, a|a|c \n")
    splits = _generate(configs.PipelineConfig(data=str(data), label_separator="|"), tmp_path)
    labels = {example["text"][0]: example["label"] for rows in splits.values() for example in rows}
    assert labels == {"one": ["a", "b"], "two": ["b"], "three": ["a", "c"]}


@pytest.fixture(scope="module")
def pair_splits(tmp_path_factory):
    """Chains of pairs sharing texts, in both orders, as duplicate-question data comes."""
    root = tmp_path_factory.mktemp("pairs")
    data = root / "pairs.csv"
    rows = []
    for chain in range(60):
        texts = [f"question {chain}-{i}" for i in range(4)]
        rows += [(texts[0], texts[1]), (texts[1], texts[0]), (texts[1], texts[2]), (texts[3], texts[2])]
    data.write_text("q1,q2,label\n" + "".join(f"{a},{b},{'dup' if i % 2 else 'other'}\n"
                                               for i, (a, b) in enumerate(rows)))
    return _generate(configs.PipelineConfig(data=str(data), text_column="q1", text_pair_column="q2", eval_buckets=3),
                     root)


def test_pairs_that_share_a_text_land_in_one_split(pair_splits):
    texts = {split: {text for example in rows for text in example["q1"] + example["q2"]}
             for split, rows in pair_splits.items()}
    assert texts[names.TRAIN_SPLIT] & texts[names.EVAL_SPLIT] == set()
    assert sum(map(len, pair_splits.values())) == 240
    assert 20 <= len(pair_splits[names.EVAL_SPLIT]) <= 140  # groups, not every pair, are split by the hash
