"""Transform's preprocessing_fn: a row's raw texts and label in, BERT inputs and class ids out.

The tokenizer is built inside the traced function, so it is frozen into the transform graph (vocab.txt as
an asset) and the exported model tokenizes exactly as training did. What the texts become is the task's input
shape (one text, a pair, windows of a long text); what the label becomes, its label task (tasks/).
"""


import tensorflow as tf
import tensorflow_transform as tft

import tasks
from contracts import features
from preprocessing import checkpoint, tokenize
from preprocessing.settings import TransformSettings


def preprocessing_fn(inputs, custom_config):
    """custom_config: preprocessing/settings.TransformSettings (pipeline/configs.py, transform_settings)."""
    settings = TransformSettings.from_custom_config(custom_config)
    task = settings.task
    spec = tokenize.load_wordpiece_spec(checkpoint.local_dir(settings.checkpoint_dir))
    texts = [tf.reshape(inputs[column], [-1]) for column in task.columns.columns]
    # Tracked and created outside the traced function, so its tables are initialized once, not per batch.
    tokenizer = tft.make_and_track_object(lambda: tokenize.BertGraphTokenizer(spec), name="bert_tokenizer")
    outputs = tasks.input_shape(task).encode(tokenizer, texts)
    if task.label_column in inputs:  # absent at serving time
        outputs[features.LABEL_ID] = tft.compute_and_apply_vocabulary(
            tasks.label_task(task).transform_labels(inputs[task.label_column]),
            vocab_filename=features.LABEL_VOCABULARY)
    return outputs
