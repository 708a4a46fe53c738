"""Names shared by the Transform graph, the Trainer and the Evaluator: the transformed-feature contract."""

INPUT_IDS = "input_ids"
ATTENTION_MASK = "attention_mask"
TOKEN_TYPE_IDS = "token_type_ids"
MODEL_INPUTS = (INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS)

LABEL_ID = "label_id"  # class index into the label vocabulary (multi-label: the indices of a text's labels)
LABEL_VOCABULARY = "label"  # TFT vocabulary file holding the class names, most frequent first


def multi_hot(label_ids, classes: int):
    """A multi-label text's label indices (a SparseTensor [batch, labels]) as 0/1 floats [batch, classes]:
    the Trainer's targets and TFMA's labels."""
    import tensorflow as tf

    return tf.cast(tf.sparse.to_indicator(label_ids, classes), tf.float32)
