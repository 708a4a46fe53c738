"""The ServingPusher's settings, as one typed value: pipeline/configs.py builds them, the component carries them
as JSON, its executor reads them back once (contracts/typed_settings.py). No TFX here: the configuration is
built before TensorFlow loads."""
import dataclasses

from tasks import TaskSettings


@dataclasses.dataclass(frozen=True)
class PusherSettings:
    task: TaskSettings  # the text columns of the warm-up requests, the label column of the card
    warmup_texts: int
    intended_use: str
    serving_server: str  # "" = write the version unlabeled, ask no server
    serving_server_wait_seconds: int
