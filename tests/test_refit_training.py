"""Training by epochs, then the chosen epochs trained again on the whole training split (model/validation.py,
refit_epochs), through TFX's Trainer executor on the first run's Transform outputs: the refit_training run."""
import math

import tensorflow as tf

from contracts import names
from model import validation

from pipeline_runs import run_artifacts, run_name, trained_hyperparameters
from shared_runs import REFIT_OPTIONS


def _training_split_texts(first_run):
    outputs, result = first_run
    examples = run_artifacts(outputs, run_name(result.stdout))[names.TRANSFORM]["transformed_examples"]
    files = tf.io.gfile.glob(f"{examples.uri}/Split-train/*")
    return int(tf.data.TFRecordDataset(files, compression_type="GZIP").reduce(0, lambda n, _: n + 1))


def test_the_chosen_epochs_are_trained_again_on_every_text_of_the_training_split(refit_training, first_run):
    root, log = refit_training
    hp = trained_hyperparameters(root)
    batch = REFIT_OPTIONS["batch_size"]
    assert hp["epochs_trained"] == hp["best_epoch"] == hp["refit_epochs"] == 1
    assert hp["stopped_by"] == "--epochs 1 run"
    # The first training read the texts outside the slice; the second read them all, the slice's too.
    whole = _training_split_texts(first_run)
    assert hp["refit_texts"] == whole and hp["train_steps"] == math.ceil((whole - hp["validation_texts"]) / batch)
    # The exported model is the second training's: its optimizer made the steps counted.
    assert hp["steps_trained"] == hp["refit_steps"] == math.ceil(whole / batch) > hp["train_steps"]
    assert f"Training 1 epoch(s) again, from the start, on the whole training split ({whole} texts" in log
    assert validation.outcome(hp).endswith(f"trained again on the whole training split ({whole} texts, the "
                                           "slice's included): their weights exported")
