"""The pipeline: every knob (configs.py), the wiring (pipeline.py), the runners' CLI, input checks, the run summary."""
import contracts.environment  # noqa: F401  (sets the TensorFlow environment before anything imports TensorFlow)
