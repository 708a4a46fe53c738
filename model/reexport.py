"""A pushed model exported again from its trained weights with other serving settings (`serving_precision`,
say), without training: bench/serving_latency.py compares the float32 and int8 graphs of one trained model.

It rebuilds what the Trainer exported from what the model records: its checkpoint, task, serving settings and
classes (hyperparameters.json), its weights (the float32 ones, which every precision's SavedModel keeps) and the
answer fitted on the validation slice; the tokenizer comes from the Transform output it was trained on. It
reads nothing of how the model was trained, so a model pushed before a training setting existed exports again.
"""
import tasks
from model import encoder, export, keras_classifier, warm_start
from preprocessing import checkpoint


def reexport(model_dir: str, transform_dir: str, export_dir: str, **changes) -> None:
    """Writes to export_dir the model of model_dir with `changes` to its serving settings (TrainerSettings' names:
    serving_precision, say)."""
    import tensorflow_transform as tft

    hyperparameters = export.read_hyperparameters(model_dir)
    # Changes first: a model exported before a setting existed does not record it.
    settings = export.ExportSettings.of_record({**hyperparameters, **changes})
    class_names = hyperparameters["class_names"]
    classifier = keras_classifier.load_classifier(checkpoint.local_dir(hyperparameters["checkpoint_dir"]),
                                                  len(class_names))
    trained = warm_start.saved_weights(model_dir)
    for name, variable in encoder.keras_weights(classifier.variables).items():
        variable.assign(trained[name])
    fitted = {fact: [hyperparameters[fact][name] for name in class_names]
              for fact in tasks.label_task(settings.task).fitted_facts}
    tft_output = tft.TFTransformOutput(transform_dir)
    export.ExportModule(classifier, export.TransformGraph(tft_output), class_names, tft_output.raw_feature_spec(),
                        settings, fitted).save(export_dir)
    export.write_hyperparameters(export_dir, {**hyperparameters, **changes, "exported_again_from": model_dir})
