"""One Trainer process, as TFX starts one on each machine of a distributed training: TFX's own Trainer
executor (GenericExecutor, the one the Vertex AI extension runs on every worker) on the Transform outputs
of an earlier pipeline run, with the strategy and devices given here and TF_CONFIG from the environment.

python tests/train_worker.py OUTPUTS_DIR MODEL_DIR --run RUN --steps N [--strategy S] [--cpu-devices K]
    [--options '{"lora_rank": 4, ...}' (other fields of pipeline/configs.py)]
"""
import argparse
import dataclasses
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import contracts.environment  # noqa: F401  (before TFX imports TensorFlow)

from absl import logging
from tfx.components.trainer import executor as trainer_executor
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from contracts import names
from pipeline import configs

from pipeline_runs import run_artifacts


def _artifacts(config: configs.PipelineConfig, run_name: str):
    """The run's Transform outputs and schema, as TFX artifacts."""
    outputs = run_artifacts(config.outputs_dir, run_name)
    return {"examples": [outputs[names.TRANSFORM]["transformed_examples"]],
            "transform_graph": [outputs[names.TRANSFORM]["transform_graph"]],
            "schema": [outputs[names.SCHEMA_GEN]["schema"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outputs_dir")
    parser.add_argument("model_dir")
    parser.add_argument("--run", required=True, help="the pipeline run whose Transform outputs to train on")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--cpu-devices", type=int, default=1)
    parser.add_argument("--options", default="{}", help="JSON object of other PipelineConfig fields")
    args = parser.parse_args()
    logging.set_verbosity(logging.INFO)
    logging.use_absl_handler()

    config = configs.PipelineConfig(outputs_dir=args.outputs_dir, strategy=args.strategy, cpu_devices=args.cpu_devices,
                                    log_every_steps=1, backup_every_steps=1000, warm_start=False,
                                    **json.loads(args.options))
    model, model_run = standard_artifacts.Model(), standard_artifacts.ModelRun()
    model.uri, model_run.uri = os.path.join(args.model_dir, "model"), os.path.join(args.model_dir, "model_run")
    exec_properties = {
        "run_fn": "model.training.run_fn",
        "train_args": proto_utils.proto_to_json(trainer_pb2.TrainArgs(num_steps=args.steps)),
        "eval_args": proto_utils.proto_to_json(trainer_pb2.EvalArgs(num_steps=2)),
        "custom_config": json.dumps(dataclasses.replace(config, checkpoint="").trainer_settings().to_custom_config()),
    }
    trainer_executor.GenericExecutor().Do(_artifacts(config, args.run), {"model": [model], "model_run": [model_run]},
                                          exec_properties)


if __name__ == "__main__":
    main()
