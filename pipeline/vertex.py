"""Compiles the pipeline into a Vertex AI Pipelines job spec (KubeflowV2DagRunner): the same components as a
local run, with everything under --outputs-dir gs://..., and the components running in --pipeline-image.

`python kubeflow_v2_runner.py --help`; `tfx pipeline create --engine=vertex --pipeline_path=kubeflow_v2_runner.py`
reads it the same way. Nothing here calls Google Cloud.
"""
import argparse
import dataclasses
import os
import sys
from typing import List, Optional

from contracts.errors import InputError
from pipeline import cli, configs, inputs

SPEC_DIR = os.path.join(configs.PROJECT_DIR, "outputs", "vertex")


def _in_image(path: str) -> str:
    """A path to one of this project's files, as the pipeline image sees it."""
    if path.startswith(configs.PROJECT_DIR + os.sep):
        return configs.IMAGE_PROJECT_DIR + path[len(configs.PROJECT_DIR):]
    return path


def resolve(args: argparse.Namespace) -> configs.PipelineConfig:
    """The config of a cloud run: data and outputs on Cloud Storage, an image to run in. An empty
    checkpoint is the embedded default, resolved inside the image."""
    config = configs.from_arguments(args)
    configs.validate(config)
    if not config.outputs_dir.startswith("gs://"):
        raise InputError(f"--outputs-dir {config.outputs_dir} is not on Cloud Storage: give "
                                "gs://BUCKET/PREFIX (pipeline root, serving models and Beam's temp files go there)")
    if not config.data.startswith("gs://"):
        raise InputError(f"--data {config.data or '(the embedded default)'} is not on Cloud Storage: "
                                "copy the CSV files to gs://... and pass that path or pattern")
    if config.checkpoint and not config.checkpoint.startswith("gs://"):
        raise InputError(f"--checkpoint {config.checkpoint} is not on Cloud Storage: copy it to gs://... "
                                "or leave it empty for the embedded default")
    if not config.pipeline_image:
        raise InputError("--pipeline-image is empty: build the Dockerfile, push it to Artifact Registry "
                                "and pass its URI")
    return dataclasses.replace(config, schema=_in_image(os.path.abspath(config.schema)))


def compile_spec(config: configs.PipelineConfig, spec_path: str) -> None:
    from tfx import v1 as tfx

    from pipeline import pipeline

    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=config.pipeline_image),
        output_dir=os.path.dirname(spec_path), output_filename=os.path.basename(spec_path))
    runner.run(pipeline.create_pipeline(config, project_dir=configs.IMAGE_PROJECT_DIR, metadata=False))


def main(argv: Optional[List[str]] = None) -> int:
    parser = cli.FlagParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--spec", default=None,
                        help="where to write the job spec (default: outputs/vertex/<pipeline name>.json)")
    args = cli.parse_args(argv, parser)
    cli.configure_logging(args.verbose)
    try:
        config = resolve(args)
        # refuses a schema without labels, or without a text column
        inputs.schema_labels(configs.local_path(config.schema), config.label_column, config.text_columns.columns)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return cli.EXIT_BAD_INPUT
    spec_path = os.path.abspath(args.spec or os.path.join(SPEC_DIR, f"{config.pipeline_name}.json"))
    os.makedirs(os.path.dirname(spec_path), exist_ok=True)
    compile_spec(config, spec_path)
    if os.path.exists(spec_path):  # under `tfx pipeline create` the tfx CLI writes it to its own directory
        print(f"Vertex AI pipeline spec: {spec_path} (image {config.pipeline_image}, root {config.pipeline_root})")
    return 0
