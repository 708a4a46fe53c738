"""The Trainer's settings: what run_fn needs from the pipeline's configuration, as one typed value.

pipeline/configs.py builds it (PipelineConfig.trainer_settings), the Trainer component carries it in its
custom_config as JSON, and run_fn reads it back once (from_custom_config); every module of the training
reads fields, not dictionary keys. The same values are recorded in the model's hyperparameters.json.
"""
import dataclasses
from typing import Any, Dict, Tuple

from contracts import typed_settings
from tasks import TaskSettings

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
PRECISIONS = ("auto", "off", "mixed_float16", "mixed_bfloat16")
SERVING_PRECISIONS = ("float32", "int8")
LORA_TARGETS = ("query", "key", "value", "attention_output", "intermediate", "output")


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
    task: TaskSettings  # the columns, the labels' and inputs' modules (tasks/), max_seq_length
    checkpoint_dir: str  # "" = the embedded default, resolved where the Trainer runs
    batch_size: int  # global, across all replicas
    epochs: int  # at most; fewer when the validation slice stops improving
    early_stopping_patience: int  # epochs past the best (model/validation.best_of) before stopping; 0 = never
    validation_fraction: float  # of the training split, scored at each epoch's end (model/validation.py)
    refit_max_texts: int  # retrain the chosen epochs on the whole split up to this many texts (validation.refit_epochs)
    learning_rate: float
    warmup_fraction: float
    weight_decay: float
    mixed_precision: str  # one of PRECISIONS
    seed: int
    gradient_accumulation_steps: int
    gradient_checkpointing: bool
    lora_rank: int  # 0 = full fine-tune
    lora_alpha: float
    lora_dropout: float
    lora_targets: Tuple[str, ...]  # of LORA_TARGETS
    backup_dir: str
    backup_every_steps: int
    log_every_steps: int
    serving_sub_batch_size: int
    serving_encoder_branches: int
    serving_precision: str  # one of SERVING_PRECISIONS
    strategy: str  # one of STRATEGIES
    cpu_devices: int
    warm_start_root: str  # "" = no warm start
    code_version: str  # a hash of the training code: editing it invalidates the Trainer's cache

    @property
    def texts_per_update(self) -> int:
        """One optimizer update reads this many texts (accumulation cuts them into micro-batches of batch_size)."""
        return self.batch_size * self.gradient_accumulation_steps

    def to_custom_config(self) -> Dict[str, Any]:
        return typed_settings.to_dict(self)

    @classmethod
    def from_custom_config(cls, values: Dict[str, Any]) -> "TrainerSettings":
        """From the Trainer's custom_config, which may carry other keys too (Vertex AI's, say)."""
        return typed_settings.from_dict(cls, values, "the Trainer's custom_config")
