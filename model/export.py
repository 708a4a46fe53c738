"""The SavedModel the Trainer exports: the serving contract, relied on by users, the Evaluator and
serving_config/ (signature and output names: contracts/names.py).

- serving_default:    text (string [None])      -> probabilities, label, class_id
                      (a sentence-pair model: text and text_pair, string [None] each; what the outputs
                      hold is the label task's, tasks/: a multi-label model's probabilities are each
                      label's, its label the labels above their thresholds joined by the separator)
- serving_tf_example: examples (serialized tf.Example of the raw features) -> the same outputs
- transform_features: examples -> the transformed features (TFMA's preprocessing function)

Beside it, assets.extra/hyperparameters.json: how the model was made (class names, training settings, the
model it started from); TF Serving ignores that directory's other files.
"""
import dataclasses
import json
import os
from typing import Any, Dict, Sequence

import tensorflow as tf
import tf_keras

import tasks
from contracts import features, layout, names, typed_settings
from model import encoder, int8_encoder
from model.keras_classifier import trim_padding
from model.settings import TrainerSettings
from tasks import TaskSettings


def write_hyperparameters(model_dir: str, values: Dict[str, Any]) -> None:
    tf.io.gfile.makedirs(os.path.dirname(os.path.join(model_dir, layout.HYPERPARAMETERS)))
    with tf.io.gfile.GFile(os.path.join(model_dir, layout.HYPERPARAMETERS), "w") as f:
        json.dump(values, f, indent=2, sort_keys=True)


def read_hyperparameters(model_dir: str) -> Dict[str, Any]:
    with tf.io.gfile.GFile(os.path.join(model_dir, layout.HYPERPARAMETERS)) as f:
        return json.load(f)


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    task: TaskSettings  # what serving_default takes (the text columns) and answers (the label task)
    sub_batch_size: int  # a larger request is sorted by length into sub-batches of this many texts
    encoder_branches: int  # independent branches per layer of the served encoder (model/encoder.py)
    precision: str  # the served encoder's matmuls: float32 (model/encoder.py) or int8 (model/int8_encoder.py)

    # The TrainerSettings fields behind these, in order: all an export reads of how the model was made, so a
    # pushed model's record of them exports it again (model/reexport.py), whatever else its record lacks.
    TRAINER_FIELDS = ("task", "serving_sub_batch_size", "serving_encoder_branches", "serving_precision")

    @classmethod
    def of(cls, settings: TrainerSettings) -> "ExportSettings":
        return cls(*(getattr(settings, name) for name in cls.TRAINER_FIELDS))

    @classmethod
    def of_record(cls, recorded: Dict[str, Any]) -> "ExportSettings":
        """From a model's hyperparameters.json (its TrainerSettings as a dict, with other keys)."""
        task = typed_settings.from_dict(TaskSettings, recorded["task"], "hyperparameters.json's task")
        return cls(task, *(recorded[name] for name in cls.TRAINER_FIELDS[1:]))


class TransformGraph(tf.Module):
    """Transform's graph (the tokenizer in it) as the SavedModel holds it: what TFT's transform_features_layer()
    holds, without its Keras model around it, whose SavedModel serialization traces the layer again at every
    save (measured: 13 s of a Trainer's 15 s export went there). The loaded graph's tables and vocab.txt asset are
    tracked through the loader's attributes, as TFT's layer tracks them."""

    def __init__(self, tft_output):
        from tensorflow_transform.saved import saved_transform_io_v2

        super().__init__(name="transform_graph")
        self._loader = saved_transform_io_v2.SavedModelLoader(tft_output.transform_savedmodel_dir)
        self.loaded = self._loader.__dict__

    def __call__(self, raw_features: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        return self._loader.apply_transform_model(raw_features)


class ExportModule(tf.Module):
    """What the SavedModel holds: the transform graph (tokenizer included) and the classifier's forward pass
    (model/encoder.py: the trained weights in a graph laid out for CPU serving); what it answers is the task's."""

    def __init__(self, classifier: tf_keras.Model, transform: tf.Module, class_names: Sequence[str],
                 raw_feature_spec: Dict[str, tf.io.FixedLenFeature], settings: ExportSettings,
                 fitted: Dict[str, Sequence[float]]):
        """fitted: what the label task fitted its answer to on the validation slice (LabelTask.fit_answer)."""
        super().__init__()
        encoder_class = int8_encoder.Int8ServingEncoder if settings.precision == "int8" else encoder.ServingEncoder
        self.encoder = encoder_class(classifier, settings.encoder_branches)
        self.transform = transform  # tracked: its tables and vocab.txt asset go into the SavedModel
        self._class_names, self._fitted = list(class_names), fitted
        self._num_classes = len(class_names)
        self._sub_batch_size = settings.sub_batch_size
        self._label_task, self._input_shape = tasks.label_task(settings.task), tasks.input_shape(settings.task)
        columns = settings.task.columns
        self._raw_feature_spec = dict(raw_feature_spec)
        self._serving_feature_spec = {k: v for k, v in raw_feature_spec.items() if k != settings.task.label_column}
        self._text_columns, self._text_inputs = columns.columns, columns.inputs

    def _classify(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
        inputs = trim_padding(inputs)
        return self.encoder.logits(*(inputs[name] for name in features.MODEL_INPUTS))

    def _logits(self, transformed: Dict[str, tf.Tensor]) -> tf.Tensor:
        """A request of up to sub_batch_size texts goes straight through (no sorting work at batch 1); a larger
        one is sorted by length into sub-batches, each cut to its own longest text.

        A request's texts are padded to its longest one; sorted sub-batches compute on little padding
        (1.7x the throughput at batch 32 on tweets), and TensorFlow runs independent iterations of the loop
        on separate inter-op threads. Core ops only (While, TensorList): stock TF Serving runs it. The answer
        does not depend on the order: each text is masked to its own length.
        """
        size = self._sub_batch_size
        lengths = tf.reduce_sum(tf.cast(transformed[features.ATTENTION_MASK], tf.int32), axis=1)

        def by_length():
            order = tf.argsort(lengths)
            sorted_inputs = {name: tf.gather(transformed[name], order) for name in features.MODEL_INPUTS}
            count = (tf.shape(order)[0] + size - 1) // size
            logits = tf.TensorArray(tf.float32, size=count, infer_shape=False,
                                    element_shape=tf.TensorShape([None, self._num_classes]))

            def classify_sub_batch(i, logits):
                sub_batch = {name: values[i * size:(i + 1) * size] for name, values in sorted_inputs.items()}
                return i + 1, logits.write(i, self._classify(sub_batch))

            _, logits = tf.while_loop(lambda i, _: i < count, classify_sub_batch, [tf.constant(0), logits])
            return tf.gather(logits.concat(), tf.argsort(order))  # back to the request's order

        return tf.cond(tf.size(lengths) <= size, lambda: self._classify(transformed), by_length)

    def _predict(self, raw_features: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        logits = self._input_shape.text_logits(self.transform(raw_features), self._logits)
        return self._label_task.answer(logits, self._class_names, self._fitted)

    def _serve_text(self, *texts):
        return self._predict({column: tf.reshape(text, [-1, 1]) for column, text in zip(self._text_columns, texts)})

    def _serve_tf_example(self, examples):
        return self._predict(tf.io.parse_example(examples, self._serving_feature_spec))

    def _transform_features(self, examples):
        transformed = self.transform(tf.io.parse_example(examples, self._raw_feature_spec))
        transformed[features.LABEL_ID] = self._label_task.eval_labels(transformed[features.LABEL_ID], self._num_classes)
        return transformed

    def signatures(self) -> Dict[str, Any]:
        """The signatures' concrete functions, each traced once. Not attributes of the module: saving traces a
        module's tf.function attributes a second time (measured: half of the export's time)."""
        examples = [tf.TensorSpec([None], tf.string, name=names.EXAMPLES_INPUT)]
        # serving_default's inputs are the text columns' (contracts/text_columns.py): one or two.
        texts = [tf.TensorSpec([None], tf.string, name=name) for name in self._text_inputs]
        return {name: tf.function(function, autograph=False, input_signature=spec).get_concrete_function()
                for name, function, spec in ((names.SERVING_DEFAULT, self._serve_text, texts),
                                             (names.SERVING_TF_EXAMPLE, self._serve_tf_example, examples),
                                             (names.TRANSFORM_FEATURES, self._transform_features, examples))}

    def save(self, export_dir: str) -> None:
        tf.saved_model.save(self, export_dir, signatures=self.signatures())
