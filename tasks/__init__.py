"""The tasks the pipeline trains, each a module: label tasks (single_label.py, multi_label.py) and input
shapes (one_text.py, text_pair.py, long_text.py), with the interface they implement (base.py) and the
blessing's statistics they share (judging.py).

Every component asks the task of its TaskSettings (base.py) instead of branching on flags: label_task() and
input_shape() below are the one place a setting picks a module. A new task is its own module, its tests, and
one entry in LABEL_TASKS or INPUT_SHAPES (docs/architecture.md, "Adding a task").

Below preprocessing in the package graph: the input check, ExampleGen and Transform read rows through it.
"""
import contracts.environment  # noqa: F401  (sets the TensorFlow environment before anything imports TensorFlow)

from tasks.base import InputShape, LabelTask, TaskSettings
from tasks.long_text import LongText
from tasks.multi_label import MultiLabel
from tasks.one_text import OneText
from tasks.single_label import SingleLabel
from tasks.text_pair import TextPair

LABEL_TASKS = {"single_label": SingleLabel, "multi_label": MultiLabel}
INPUT_SHAPES = {"one_text": OneText, "text_pair": TextPair, "long_text": LongText}


def label_task(settings: TaskSettings) -> LabelTask:
    return LABEL_TASKS[settings.labels](settings)


def input_shape(settings: TaskSettings) -> InputShape:
    return INPUT_SHAPES[settings.inputs](settings)


def validate(settings: TaskSettings) -> None:
    """Refuses, before anything runs, settings the task's modules cannot use (InputError naming the flag)."""
    label_task(settings).validate()
    input_shape(settings).validate()


__all__ = ["INPUT_SHAPES", "LABEL_TASKS", "InputShape", "LabelTask", "TaskSettings", "input_shape", "label_task",
           "validate"]
