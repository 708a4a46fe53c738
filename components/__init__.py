"""TFX components only: ExampleGen, the gates (anomalies, drift), the Evaluator's config, the Pusher."""
import contracts.environment  # noqa: F401  (sets the TensorFlow environment before anything imports TensorFlow)
