"""Wires the TFX components; nothing else. Every value comes from pipeline/configs.py."""
from typing import List

from tfx import v1 as tfx
from tfx.proto import example_gen_pb2

from components import (
    anomalies_gate,
    batch_scoring,
    blessing_gate,
    csv_example_gen,
    drift_check,
    evaluation,
    serving_pusher,
)
from contracts import names, raw_csv, raw_data, typed_settings
from pipeline import configs, inputs


def _example_gen(config: configs.PipelineConfig):
    """Reads the CSV (a file, every *.csv in a directory, or the newest spans of a {SPAN} pattern) and
    splits by a hash of the text itself, so that identical texts (retweets) always land in the same split."""
    input_base, pattern = raw_data.example_gen_input(config.data)
    span_window = config.span_window if raw_data.SPAN_SPEC in pattern else 1
    return csv_example_gen.CsvExampleGen(
        input_base=input_base,
        input_config=example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="data", pattern=pattern)]),
        output_config=example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
            splits=[example_gen_pb2.SplitConfig.Split(name=names.TRAIN_SPLIT, hash_buckets=config.eval_buckets - 1),
                    example_gen_pb2.SplitConfig.Split(name=names.EVAL_SPLIT, hash_buckets=1)],
            partition_feature_name=config.text_column)),
        custom_config=csv_example_gen.example_gen_config(config.task_settings(), pattern, span_window),
    ).with_id(names.CSV_EXAMPLE_GEN)


def _drift_check(config: configs.PipelineConfig, example_gen):
    """With {SPAN} data: the newest span against the one before it; None when there is nothing to check."""
    if raw_data.SPAN_SPEC not in config.data or config.drift_action == "off":
        return None
    input_base, pattern = raw_data.example_gen_input(config.data)
    return drift_check.DriftCheck(
        examples=example_gen.outputs[names.EXAMPLES], input_base=input_base, pattern=pattern,
        task=typed_settings.to_json(config.task_settings()), checkpoint_dir=config.checkpoint,
        label_linf=config.drift_label_linf, token_length_js=config.drift_token_length_js,
        action=config.drift_action).with_id(names.DRIFT_CHECK)


def _classes(config: configs.PipelineConfig) -> int:
    """The number of classes (the schema's label domain), which TFMA's per-class metrics need before the run."""
    return len(inputs.schema_labels(configs.local_path(config.schema), config.label_column))


def _trainer(config: configs.PipelineConfig, transform, schema_gen):
    """In the pipeline's own process, or as a Vertex AI custom job on the worker pools of the config."""
    custom_config = config.trainer_settings().to_custom_config()
    trainer_class = tfx.components.Trainer
    if config.trainer_backend == "vertex":
        vertex = tfx.extensions.google_cloud_ai_platform
        trainer_class = vertex.Trainer
        custom_config.update({vertex.ENABLE_VERTEX_KEY: True, vertex.VERTEX_REGION_KEY: config.gcp_region,
                              vertex.TRAINING_ARGS_KEY: config.vertex_training_args()})
    return trainer_class(
        run_fn="model.training.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=config.train_steps or None), eval_args=tfx.proto.EvalArgs(),
        custom_config=custom_config).with_id(names.TRAINER)


def create_pipeline(config: configs.PipelineConfig, project_dir: str = configs.PROJECT_DIR,
                    metadata: bool = True) -> tfx.dsl.Pipeline:
    """project_dir: where the project lies where the components run; metadata: False where the
    orchestrator brings its own ML Metadata (Vertex AI)."""
    example_gen = _example_gen(config)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs[names.EXAMPLES]).with_id(
        names.STATISTICS_GEN)
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema).with_id(names.SCHEMA_GEN)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs[names.STATISTICS], schema=schema_gen.outputs["schema"]).with_id(
        names.EXAMPLE_VALIDATOR)
    anomalies = anomalies_gate.AnomaliesGate(anomalies=example_validator.outputs[names.ANOMALIES],
                                        statistics=statistics_gen.outputs[names.STATISTICS],
                                        schema=schema_gen.outputs["schema"],
                                        label_column=config.label_column).with_id(names.ANOMALIES_GATE)

    transform = tfx.components.Transform(
        examples=example_gen.outputs[names.EXAMPLES], schema=schema_gen.outputs["schema"],
        preprocessing_fn="preprocessing.transform.preprocessing_fn",
        custom_config=config.transform_settings().to_custom_config()).with_id(names.TRANSFORM)
    transform.add_upstream_node(anomalies)
    drift = _drift_check(config, example_gen)
    if drift:
        transform.add_upstream_node(drift)

    trainer = _trainer(config, transform, schema_gen)

    baseline_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id(names.BASELINE_RESOLVER)
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs[names.EXAMPLES], model=trainer.outputs[names.MODEL],
        baseline_model=baseline_resolver.outputs[names.MODEL],
        example_splits=[names.EVAL_SPLIT],
        eval_config=evaluation.eval_config(config.task_settings(), _classes(config))).with_id(names.EVALUATOR)
    blessing = blessing_gate.BlessingGate(
        examples=example_gen.outputs[names.EXAMPLES], model=trainer.outputs[names.MODEL],
        baseline_model=baseline_resolver.outputs[names.MODEL], rule=typed_settings.to_json(config.blessing_rule()),
        task=typed_settings.to_json(config.task_settings())).with_id(names.BLESSING_GATE)
    pusher = serving_pusher.ServingPusher(
        model=trainer.outputs[names.MODEL], model_blessing=blessing.outputs[names.BLESSING],
        examples=example_gen.outputs[names.EXAMPLES], model_evaluation=evaluator.outputs[names.EVALUATION],
        statistics=statistics_gen.outputs[names.STATISTICS], serving_model_root=config.serving_model_root,
        settings=config.pusher_settings()).with_id(names.PUSHER)

    scoring = batch_scoring.BatchScoring(
        pushed_model=pusher.outputs[names.PUSHED_MODEL], data=config.score_data,
        data_fingerprint=raw_csv.fingerprint(config.score_data), text_column=config.text_column,
        text_pair_column=config.text_pair_column, batch_size=config.score_batch_size,
    ).with_id(names.BATCH_SCORING) if config.score_data else None

    components: List = [example_gen, statistics_gen, schema_gen, example_validator, anomalies,
                        *([drift] if drift else []), transform, trainer, baseline_resolver, evaluator, blessing, pusher,
                        *([scoring] if scoring else [])]
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name, pipeline_root=config.pipeline_root, components=components,
        enable_cache=config.enable_cache,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path) if metadata else None,
        beam_pipeline_args=config.beam_pipeline_args(project_dir))
