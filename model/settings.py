"""The Trainer's settings: what run_fn needs from the pipeline's configuration, as one typed value.

pipeline/configs.py builds it (PipelineConfig.trainer_settings), the Trainer component carries it in its
custom_config as JSON, and run_fn reads it back once (from_custom_config); every module of the training
reads fields, not dictionary keys. The same values are recorded in the model's hyperparameters.json.
"""
import dataclasses
from typing import Any, Dict, Tuple

from contracts.text_columns import TextColumns

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
PRECISIONS = ("auto", "off", "mixed_float16", "mixed_bfloat16")
LORA_TARGETS = ("query", "key", "value", "attention_output", "intermediate", "output")


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
    checkpoint_dir: str  # "" = the embedded default, resolved where the Trainer runs
    text_column: str
    text_pair_column: str  # "" = one text per example
    label_column: str
    label_separator: str  # "" = one class per text; else multi-label: the predicted labels are joined by it
    max_seq_length: int
    window_aggregation: str  # "" = one input per text; "mean" or "max": a text's windows' logits combined
    batch_size: int  # global, across all replicas
    epochs: int
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
    strategy: str  # one of STRATEGIES
    cpu_devices: int
    warm_start_root: str  # "" = no warm start
    code_version: str  # a hash of the training code: editing it invalidates the Trainer's cache

    @property
    def text_columns(self) -> TextColumns:
        return TextColumns(self.text_column, self.text_pair_column)

    def to_custom_config(self) -> Dict[str, Any]:
        return {**dataclasses.asdict(self), "lora_targets": list(self.lora_targets)}

    @classmethod
    def from_custom_config(cls, values: Dict[str, Any]) -> "TrainerSettings":
        """From the Trainer's custom_config, which may carry other keys too (Vertex AI's, say)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(fields - set(values))
        if missing:
            raise ValueError(f"the Trainer's custom_config lacks {', '.join(missing)}: compile the pipeline again")
        settings = {name: value for name, value in values.items() if name in fields}
        return cls(**{**settings, "lora_targets": tuple(settings["lora_targets"])})
