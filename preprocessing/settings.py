"""Transform's settings: what preprocessing_fn needs from the pipeline's configuration, as one typed value.

pipeline/configs.py builds it, the Transform component carries it in its custom_config, and preprocessing_fn
reads it back once (contracts/typed_settings.py). No TensorFlow here: the configuration is built before it loads.
"""
import dataclasses
from typing import Any, Dict

from contracts import typed_settings
from tasks import TaskSettings


@dataclasses.dataclass(frozen=True)
class TransformSettings:
    task: TaskSettings
    checkpoint_dir: str  # "" = the embedded default, resolved where Transform runs
    code_version: str  # a hash of the code Transform runs: editing it invalidates Transform's cache

    def to_custom_config(self) -> Dict[str, Any]:
        return typed_settings.to_dict(self)

    @classmethod
    def from_custom_config(cls, values: Dict[str, Any]) -> "TransformSettings":
        return typed_settings.from_dict(cls, values, "Transform's custom_config")
