"""Transform's preprocessing_fn: raw text (or a sentence pair) and label in, BERT inputs and class id out.

The tokenizer is built inside the traced function, so it is frozen into the transform graph (vocab.txt as
an asset) and the exported model tokenizes exactly as training did.
"""


import tensorflow as tf
import tensorflow_transform as tft

from contracts.text_columns import TextColumns
from preprocessing import checkpoint, features, tokenize, windows


def preprocessing_fn(inputs, custom_config):
    """custom_config: text_column, text_pair_column ("" for single texts), label_column, checkpoint_dir,
    max_seq_length, long_text, chunk_stride, multi_label (see pipeline/configs.py)."""
    spec = tokenize.load_wordpiece_spec(checkpoint.local_dir(custom_config["checkpoint_dir"]))
    columns = TextColumns(custom_config["text_column"], custom_config["text_pair_column"]).columns
    texts = [tf.reshape(inputs[column], [-1]) for column in columns]
    # Tracked and created outside the traced function, so its tables are initialized once, not per batch.
    tokenizer = tft.make_and_track_object(lambda: tokenize.BertGraphTokenizer(spec), name="bert_tokenizer")
    max_seq_length = custom_config["max_seq_length"]
    if custom_config["long_text"] == "chunk":  # one example per text, its windows one after the other
        outputs = windows.to_per_text(*tokenizer.encode_windows(*texts, max_seq_length, custom_config["chunk_stride"]))
    else:
        encode = tokenizer.encode_pair if len(texts) == 2 else tokenizer.encode
        outputs = encode(*texts, max_seq_length)
    label_column = custom_config["label_column"]
    if label_column in inputs:  # absent at serving time
        # Multi-label: a varying number of labels per text (a SparseTensor), each mapped to its index.
        labels = inputs[label_column] if custom_config["multi_label"] else tf.reshape(inputs[label_column], [-1])
        outputs[features.LABEL_ID] = tft.compute_and_apply_vocabulary(
            labels, vocab_filename=features.LABEL_VOCABULARY)
    return outputs
