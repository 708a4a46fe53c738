"""The op allowlist: what stock TF Serving can load."""
import tensorflow as tf
import tensorflow_text as tf_text

from components import serving_ops


class _Module(tf.Module):
    def __init__(self, tokenizer):
        super().__init__()
        self.tokenizer = tokenizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, text):
        return self.tokenizer.tokenize(text).flat_values


class _Encoders(_Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)] * 2)
    def __call__(self, text, pair):  # the model inputs of single texts, sentence pairs and long texts' windows
        return {"single": self.tokenizer.encode(text, 16)["input_ids"],
                "pair": self.tokenizer.encode_pair(text, pair, 16)["token_type_ids"],
                "windows": self.tokenizer.encode_windows(text, 16, 4)[0]["attention_mask"]}


def export(tmp_path, tokenizer, module=_Module):
    path = str(tmp_path / "model")
    tf.saved_model.save(module(tokenizer), path)
    return path


def test_graph_tokenizer_uses_only_servable_ops(tmp_path, wordpiece_spec):
    from preprocessing import tokenize

    path = export(tmp_path, tokenize.BertGraphTokenizer(wordpiece_spec))
    assert "WordpieceTokenizeWithOffsets" in serving_ops.graph_ops(path)
    assert serving_ops.unservable_ops(path) == set()


def test_single_pair_and_window_encodings_use_only_servable_ops(tmp_path, wordpiece_spec):
    from preprocessing import tokenize

    path = export(tmp_path, tokenize.BertGraphTokenizer(wordpiece_spec), _Encoders)
    assert {"RaggedRange", "WordpieceTokenizeWithOffsets"} <= serving_ops.graph_ops(path)
    assert serving_ops.unservable_ops(path) == set()


class _Trimmer(tf.Module):
    """Keras-Hub's BERT preprocessing step: its op is not in stock TF Serving."""

    def tokenize(self, text):
        ragged = tf.strings.split(text)
        return tf_text.RoundRobinTrimmer(max_seq_length=4).trim([ragged, ragged])[0]


def unservable_model(tmp_path):
    return export(tmp_path, _Trimmer())


def test_an_op_stock_serving_lacks_is_reported(tmp_path):
    assert "TFText>RoundRobinTrim" in serving_ops.unservable_ops(unservable_model(tmp_path))
