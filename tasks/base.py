"""What a task is: its settings, and the two parts every component asks instead of branching on flags.

A task is a label task (what a row's label cell means and how the model answers it: single_label.py,
multi_label.py) read through an input shape (what the model reads of a row: one_text.py, text_pair.py,
long_text.py). Each part owns, for its concern, every step of the data's way: the raw CSV (the input check,
`make schema`, ExampleGen), Transform, the Trainer, the export's answer, TFMA's metrics, the BlessingGate's
metric, the run report and the model card. tasks/__init__.py registers them.

Nothing here imports TensorFlow at module level: the input check reads labels through a task before any
TensorFlow loads. Methods that build graphs or configs import what they need.
"""
import abc
import dataclasses
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from contracts import names
from contracts.text_columns import TextColumns


@dataclasses.dataclass(frozen=True)
class TaskSettings:
    """The task, as pipeline/configs.py derives it from the flags; carried whole by every component that
    reads rows or answers (contracts/typed_settings.py) and recorded in the model's hyperparameters.json."""

    labels: str = "single_label"  # a key of tasks.LABEL_TASKS
    inputs: str = "one_text"  # a key of tasks.INPUT_SHAPES
    text_column: str = "text"
    text_pair_column: str = ""  # text_pair: each row's second text
    label_column: str = "label"
    label_separator: str = ""  # multi_label: what joins a cell's labels (and the served answer's)
    max_seq_length: int = 64  # word pieces per model input ([CLS] and [SEP] included)
    chunk_stride: int = 16  # long_text: word pieces each window shares with the one before
    window_aggregation: str = "max"  # long_text: how a text's windows' logits make its answer

    @property
    def columns(self) -> TextColumns:
        return TextColumns(self.text_column, self.text_pair_column)


class LabelTask(abc.ABC):
    """What a row's label cell holds and how the model answers it."""

    # The headline metric, as the summary, the report and the BlessingGate name it.
    metric: str = ""

    def __init__(self, settings: TaskSettings):
        self.settings = settings

    def validate(self) -> None:
        """Refuses settings this task cannot use (contracts.errors.InputError naming the flag)."""
        return None

    # The raw CSV (no TensorFlow) ---------------------------------------------------------------------------

    @abc.abstractmethod
    def row_labels(self, cell: str) -> List[str]:
        """The labels a raw label cell holds, as ExampleGen writes them into the example."""

    @abc.abstractmethod
    def label_problem(self, cell: str, domain: Optional[Sequence[str]]) -> Optional[str]:
        """What is wrong with a row's label cell, against the schema's label domain (None: not checked)."""

    def pin_label_schema(self, feature) -> None:
        """`make schema`: what the schema pins of the label feature (a schema_pb2.Feature) beyond its domain."""
        return None

    # Transform, Trainer, export (TensorFlow) ----------------------------------------------------------------

    @abc.abstractmethod
    def transform_labels(self, label):
        """The label feature as Transform reads it -> the strings its vocabulary maps to class ids."""

    @abc.abstractmethod
    def targets(self, label_ids, classes: int):
        """The Trainer's batch of class ids (Transform's label_id) -> the loss's targets."""

    # Whether loss_and_accuracy weighs the classes by their share of the training texts (the Trainer then counts
    # them: one pass over the training split's labels).
    weighs_classes = False

    @abc.abstractmethod
    def loss_and_accuracy(self, class_shares: Optional[Sequence[float]] = None):
        """(loss, accuracy metric) of tf_keras, on logits; class_shares: each class's share of the training texts
        (None: unweighted)."""

    # The names of the facts fit_answer returns (hyperparameters.json records each by class name).
    fitted_facts: Tuple[str, ...] = ()

    @abc.abstractmethod
    def fit_answer(self, logits, targets) -> Tuple[float, Dict[str, Any]]:
        """On the validation slice (numpy: each text's logits [texts, classes], the targets() of its labels): the
        score that picks the best epoch (the task's metric there, higher is better), and what the served answer
        is fitted to there, {fact: one value per class}, in class order: the answer() takes it, hyperparameters.json
        records it by class name."""

    @abc.abstractmethod
    def answer(self, logits, class_names: Sequence[str], fitted: Dict[str, Sequence[float]]) -> Dict[str, Any]:
        """serving_default's outputs (contracts/names.OUTPUTS) from logits [batch, classes]."""

    # The output of answer() that TFMA's metrics read.
    tfma_prediction_key = names.PROBABILITIES

    def eval_labels(self, label_ids, classes: int):
        """transform_features' label_id, TFMA's labels: the class ids as Transform wrote them by default."""
        return label_ids

    # Evaluation and blessing ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def tfma_metrics(self, label_column: str, classes: int):
        """(metrics_specs, slicing_specs) of TFMA's EvalConfig (components/evaluation.py adds the model spec)."""

    @abc.abstractmethod
    def judge(self, labels: List[List[str]], candidate: List[str], baseline: Optional[List[str]], rule):
        """The BlessingGate's decision (tasks/judging.Decision): labels are each eval text's labels, candidate
        and baseline each model's served `label` answer for the same texts."""

    # The report and the model card ------------------------------------------------------------------------

    per_class_heading = "class"  # what the per-class table's rows are
    label_total_heading = "total"  # the label-count table's last row

    @abc.abstractmethod
    def card_task(self, class_names: Sequence[str], model_facts: Dict[str, Any]) -> str:
        """The model card's "Task:" sentence."""

    def card_output(self) -> str:
        """What the model card adds to the outputs' description; empty for nothing."""
        return ""

    def evaluation_note(self, model_facts: Dict[str, Any], examples: int) -> str:
        """A sentence under the report's per-class table; empty for none."""
        return ""


class InputShape(abc.ABC):
    """What the model reads of a row: one text, a pair of texts, a long text in windows."""

    def __init__(self, settings: TaskSettings):
        self.settings = settings

    def validate(self) -> None:
        """Refuses settings this shape cannot use (contracts.errors.InputError naming the flag)."""
        return None

    @property
    def columns(self) -> TextColumns:
        return self.settings.columns

    # ExampleGen's split: False to hash each row's text (TFX's own partition); True when rows can share texts,
    # which must then stay on one side: each row's split is hashed from its group's key (split_groups).
    groups_rows: bool = False

    def split_groups(self, rows: List[List[str]]) -> Dict[str, str]:
        """Given every row's texts: each text's group key (asked only when groups_rows)."""
        raise NotImplementedError(f"{type(self).__name__} splits by the text itself (groups_rows is False)")

    # Transform, Trainer, export (TensorFlow) ----------------------------------------------------------------

    @abc.abstractmethod
    def encode(self, tokenizer, texts: List[Any]) -> Dict[str, Any]:
        """Transform: the text columns' batch ([batch] strings each) -> the model inputs it writes."""

    def training_examples(self, features: Dict[str, Any], labels: Any):
        """The Trainer's batch of Transform's examples -> (model inputs, labels): one row per text, as
        training_logits reads it."""
        return features, labels

    def training_logits(self, inputs: Dict[str, Any], logits: Callable[[Dict[str, Any]], Any]):
        """The Trainer: each text's logits from a batch of training_examples' inputs and the classifier's logits
        of model inputs, as the export answers the text (text_logits), so that the loss is on the served answer."""
        return logits(inputs)

    def text_logits(self, transformed: Dict[str, Any], logits: Callable[[Dict[str, Any]], Any]):
        """The export: each text's logits, from Transform's output and the classifier's logits of model inputs."""
        return logits(transformed)

    # The report and the model card ------------------------------------------------------------------------

    def length_columns(self, lengths) -> List[Dict[str, Any]]:
        """The report's columns after the word pieces per example (a numpy int array, [CLS] and each [SEP]
        included): [{"header", "value", "format": "percent" or a format spec}]."""
        truncated = float((lengths > self.settings.max_seq_length).mean())
        return [{"header": f"truncated at {self.settings.max_seq_length}", "value": truncated, "format": "percent"}]

    def length_note(self) -> str:
        """What the report says under its word-piece table about long texts; empty for nothing."""
        return ""

    def card_input(self) -> str:
        """The model card's sentence on what happens to a long text."""
        return (f"texts longer than {self.settings.max_seq_length} word pieces ([CLS] and [SEP] included) are "
                "cut there.")

    def card_limitation(self) -> str:
        return (f"Text beyond {self.settings.max_seq_length} word pieces is ignored (the run report gives the "
                "share of texts cut).")
