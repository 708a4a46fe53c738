"""Where a run's outputs go, below --outputs-dir: the pipeline writes there, serving/ and reports/ read from
there (and take these as their defaults), so the paths are derived in one place."""
import os

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUTS_DIR = os.path.join(PROJECT_DIR, "outputs")
DEFAULT_PIPELINE_NAME = "bert-text-classifier"  # Vertex AI allows [a-z0-9-] only
DEFAULT_MODEL_NAME = "text_classifier"

MODELS_CONFIG = "models.config"  # TF Serving's model config, beside the model directories
# In a pushed model directory: how the model was made (class names, training settings), in assets.extra/,
# whose other files TF Serving ignores.
HYPERPARAMETERS = os.path.join("assets.extra", "hyperparameters.json")
# In a ModelBlessing artifact of the BlessingGate: the decision and the numbers behind it.
BLESSING_DECISION = "decision.json"


def pipeline_root(outputs_dir: str, pipeline_name: str = DEFAULT_PIPELINE_NAME) -> str:
    return os.path.join(outputs_dir, "pipeline_root", pipeline_name)


def metadata_path(outputs_dir: str, pipeline_name: str = DEFAULT_PIPELINE_NAME) -> str:
    return os.path.join(outputs_dir, "metadata", pipeline_name, "metadata.sqlite")


def serving_dir(outputs_dir: str) -> str:
    """What TF Serving mounts as /models: one directory per model, and models.config."""
    return os.path.join(outputs_dir, "serving")


def serving_model_root(outputs_dir: str, model_name: str = DEFAULT_MODEL_NAME) -> str:
    """TF Serving's base path for one model: its versions are numbered directories below it."""
    return os.path.join(serving_dir(outputs_dir), model_name)


def reports_dir(outputs_dir: str) -> str:
    """One directory per run: index.html and run.json."""
    return os.path.join(outputs_dir, "reports")


def backup_dir(outputs_dir: str, pipeline_name: str = DEFAULT_PIPELINE_NAME) -> str:
    """Where an interrupted Trainer's BackupAndRestore state survives between runs."""
    return os.path.join(outputs_dir, "trainer_backup", pipeline_name)


def tensorboard_dir(outputs_dir: str) -> str:
    """What `make tensorboard` serves: `make profile`'s sessions and a link to the Trainer's logs."""
    return os.path.join(outputs_dir, "tensorboard")


def versions(model_root: str):
    """The numeric version directories under a model root, oldest first (a hidden staging directory is not
    a version). Through tf.io.gfile, imported here only, so that gs:// roots work too."""
    import tensorflow as tf

    if not tf.io.gfile.isdir(model_root):
        return []
    return sorted(int(name.rstrip("/")) for name in tf.io.gfile.listdir(model_root) if name.rstrip("/").isdigit())
