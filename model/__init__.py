"""The model and its training: the Keras classifier, run_fn, LoRA, checkpointing, distribution, the export."""
import contracts.environment  # noqa: F401  (sets the TensorFlow environment before anything imports TensorFlow)
