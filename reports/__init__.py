"""What a run produced, for people: the run report (from ML Metadata) and the model card."""
import contracts.environment  # noqa: F401  (sets the TensorFlow environment before anything imports TensorFlow)
