"""The process environment TensorFlow must see before it is first imported; every package's __init__
imports this module first, so any entry point (a runner, a CLI, a Beam worker, TFX's Trainer importing
run_fn, the tests) sets it before TensorFlow loads.

- TF_USE_LEGACY_KERAS=1: TensorFlow 2.16 defaults to Keras 3, but TFT's transform layer, TFMA and
  transformers' TF classes are tf_keras (Keras 2); TFT sets it on import if unset, too late for code that
  imported TensorFlow first.
- TF_CPP_MIN_LOG_LEVEL=2: TensorFlow's C++ info and warning lines (CPU features, missing CUDA) are noise
  to a user; errors still show.
- HF_HUB_OFFLINE=1: every model and data path is local; nothing is ever fetched from a hub.
Values already set in the environment win.
"""
import os
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# google-api-core warns once per package at import that Python 3.10 gets no further updates: known, and
# TFX 1.16 needs 3.10 (README, "Requirements and the lock"). Only that warning, only from google's packages.
warnings.filterwarnings("ignore", message="You are using a non-supported Python version", category=FutureWarning)
# google-cloud-aiplatform warns at import that google-cloud-storage < 3 will lose support: TFX 1.16 pins it.
warnings.filterwarnings("ignore", message="Support for google-cloud-storage < 3.0.0", category=FutureWarning)
# The same two for the processes started from here (Beam's worker processes import google's packages before
# any of ours).
os.environ.setdefault("PYTHONWARNINGS", "ignore:You are using a non-supported Python version:FutureWarning,"
                                        "ignore:Support for google-cloud-storage < 3.0.0:FutureWarning")

# Lines TensorFlow's C++ code writes straight to stderr at error level that are not errors, each verified
# harmless here; dropped only by filter_native_stderr(), which a CLI calls for its own console:
NATIVE_NOISE = (
    # TF 2.16's wheel registers XLA's CUDA plugins twice (tensorflow#62075; gone in TF 2.17, which TFX 1.16
    # cannot use). Printed at import, with or without a GPU; nothing fails.
    b"Unable to register cuFFT factory",
    b"Unable to register cuDNN factory",
    b"Unable to register cuBLAS factory",
    # oneDNN's int64 check reads some AVX-512 CPUs as lacking it; the op runs on Eigen, as the line says.
    b"oneDNN supports DT_INT64 only on platforms with AVX-512",
)


def filter_native_stderr() -> None:
    """Drops NATIVE_NOISE lines from this process's file descriptor 2, where C++ libraries write past Python's
    logging; every other byte passes through in order. Call it before TensorFlow is imported."""
    import atexit
    import threading

    console = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as source:
            for line in iter(source.readline, b""):
                if not any(noise in line for noise in NATIVE_NOISE):
                    os.write(console, line)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:  # back to the console, and what is still in the pipe written out
        import sys

        sys.stderr.flush()
        os.dup2(console, 2)
        thread.join(timeout=5)

    atexit.register(restore)
