"""preprocessing_fn through TFT's Beam implementation, on real corpus rows."""
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from contracts import features
from pipeline import configs
from preprocessing import transform

MAX_LEN = 32


@pytest.fixture(scope="module")
def transformed(tmp_path_factory, checkpoint_dir, corpus):
    rows = corpus[::127]  # every class: the corpus is grouped by label
    raw = [{"body": [text.encode("utf-8")], "stars": [label.encode()]} for text, label in rows]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec({
        "body": tf.io.FixedLenFeature([1], tf.string), "stars": tf.io.FixedLenFeature([1], tf.string)}))
    config = configs.PipelineConfig(text_column="body", label_column="stars", checkpoint=checkpoint_dir,
                                    max_seq_length=MAX_LEN).transform_settings().to_custom_config()
    out_dir = str(tmp_path_factory.mktemp("transform"))
    with tft_beam.Context(temp_dir=os.path.join(out_dir, "tmp")):
        (examples, _), transform_fn = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: transform.preprocessing_fn(inputs, config))
        _ = transform_fn | tft_beam.WriteTransformFn(out_dir)
    return rows, examples, tft.TFTransformOutput(out_dir)


def test_outputs_are_the_reference_tokenizers_ids(transformed, reference_tokenizer):
    rows, examples, _ = transformed
    expected = reference_tokenizer([text for text, _ in rows], truncation=True, max_length=MAX_LEN,
                                   padding="max_length")
    np.testing.assert_array_equal(np.stack([e[features.INPUT_IDS] for e in examples]), expected["input_ids"])
    np.testing.assert_array_equal(np.stack([e[features.ATTENTION_MASK] for e in examples]),
                                  expected["attention_mask"])
    assert all(not e[features.TOKEN_TYPE_IDS].any() for e in examples)


def test_labels_map_through_a_vocabulary_in_the_graph(transformed):
    rows, examples, output = transformed
    class_names = [c.decode() for c in output.vocabulary_by_name(features.LABEL_VOCABULARY)]
    assert sorted(class_names) == ["negative", "neutral", "positive"]
    assert [class_names[e[features.LABEL_ID]] for e in examples] == [label for _, label in rows]


def test_vocab_is_an_asset_and_the_graph_serves_without_a_label(transformed, reference_tokenizer):
    _, _, output = transformed
    assert "vocab.txt" in os.listdir(os.path.join(output.transform_savedmodel_dir, "assets"))
    layer = output.transform_features_layer()
    out = layer({"body": tf.constant([["Hello [SEP] wörld"]])})
    assert features.LABEL_ID not in out
    expected = reference_tokenizer(["Hello [SEP] wörld"], max_length=MAX_LEN, padding="max_length")["input_ids"]
    np.testing.assert_array_equal(out[features.INPUT_IDS].numpy(), expected)
