"""Transform's preprocessing_fn and the graph tokenizer it freezes into the model; the checkpoint's location."""
import contracts.environment  # noqa: F401  (sets the TensorFlow environment before anything imports TensorFlow)
