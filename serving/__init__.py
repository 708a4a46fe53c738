"""The pushed model in use: the predict CLI, warm-up requests, models.config's labels, TF Serving's settings."""
import contracts.environment  # noqa: F401  (sets the TensorFlow environment before anything imports TensorFlow)
