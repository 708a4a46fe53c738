"""Every knob of the pipeline, in one place, read once.

Defaults come from this file; the command line (pipeline/cli.py) overrides them; components receive
only what they need, through their custom_config.
"""
import argparse
import dataclasses
import functools
import glob
import hashlib
import os
from typing import Any, Dict, List, Tuple

import tasks
from components.settings import PusherSettings
from contracts import layout
from contracts.errors import InputError
from contracts.text_columns import TextColumns
from model.settings import LORA_TARGETS, PRECISIONS, SERVING_PRECISIONS, STRATEGIES, TrainerSettings
from preprocessing.settings import TransformSettings
from tasks import TaskSettings
from tasks.judging import Rule
from tasks.long_text import AGGREGATIONS

PROJECT_DIR = layout.PROJECT_DIR
DEFAULT_SCHEMA = os.path.join(PROJECT_DIR, "schema", "default", "schema.pbtxt")
DRIFT_ACTIONS = ("stop", "warn", "off")
BEAM_RUNNERS = ("direct", "dataflow")
TRAINER_BACKENDS = ("local", "vertex")
IMAGE_PROJECT_DIR = "/pipeline"  # where the Dockerfile puts this project inside the pipeline image
# Beam on this machine, named: Beam's DirectRunner first tries its Prism runner, which downloads a binary from
# GitHub when none is installed (a network attempt on every job), then falls back to this one.
LOCAL_BEAM_RUNNER = "FnApiRunner"


@functools.lru_cache(maxsize=None)
def source_fingerprint(*packages: str) -> str:
    """A hash of the packages' code. Components get their user code by module path, which TFX does not
    fingerprint, so this goes into their custom_config: editing the code invalidates their cache."""
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted(glob.glob(os.path.join(PROJECT_DIR, package, "*.py"))):
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:16]


def local_path(path: str) -> str:
    """A path inside the pipeline image (IMAGE_PROJECT_DIR), as it lies in this checkout; others unchanged:
    files a spec compiled for the image refers to are read from here when it is compiled."""
    if path.startswith(IMAGE_PROJECT_DIR + "/"):
        return PROJECT_DIR + path[len(IMAGE_PROJECT_DIR):]
    return path


def knob(default: Any, help_text: str, choices: Tuple[str, ...] = ()) -> Any:
    """A field of PipelineConfig: its default, the help of its flag, and the values it may take, if few."""
    return dataclasses.field(default=default, metadata={"help": help_text, "choices": choices})


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    # What to run on. An empty data/checkpoint means the embedded default (pipeline/defaults.py).
    data: str = knob("", "CSV file, directory of CSV files, or a pattern with {SPAN} such as "
                     "'data/span-{SPAN}/*.csv' (the newest span is read) (default: the embedded tweet corpus)")
    span_window: int = knob(1, "with a {SPAN} pattern: train on the newest span and the N - 1 before it")
    # With {SPAN} data, before training: the newest span against the one before it (components/drift_check.py).
    drift_action: str = knob("stop", "with a {SPAN} pattern, on drift from the previous span: stop the run, "
                             "warn and train, or skip the check", DRIFT_ACTIONS)
    drift_label_linf: float = knob(0.1, "drift threshold: the largest change of any class's share of the examples")
    drift_token_length_js: float = knob(0.1, "drift threshold: Jensen-Shannon divergence of the word-pieces-per-"
                                        "text histograms")
    checkpoint: str = knob("", "local Hugging Face BERT checkpoint dir: config.json, vocab.txt, model.safetensors "
                           "or tf_model.h5 (default: the embedded MiniLM-L6-H384-uncased)")
    schema: str = knob(DEFAULT_SCHEMA, "curated TFDV schema (schema.pbtxt) for the data; create one with "
                       "`make schema`")
    text_column: str = knob("text", "the CSV column holding the text")
    # A sentence-pair task (duplicate questions, entailment, query-document relevance): the model reads
    # [CLS] text [SEP] pair [SEP], cut by the checkpoint tokenizer's longest_first rule.
    text_pair_column: str = knob("", "the CSV column holding each row's second text, for a sentence-pair task; "
                                 "empty: one text per row")
    label_column: str = knob("label", "the CSV column holding the class name")
    # Multi-label (tags, clause types): a row's label cell holds its labels joined by this separator. The
    # model answers each label yes or no (sigmoid, each label at its own threshold, chosen on the validation
    # slice), is evaluated on per-label precision, recall and F1, and blessed on macro F1 (docs/tasks.md).
    label_separator: str = knob("", "a multi-label task: the separator of the labels in a row's label cell (e.g. "
                                "'|'); empty: one class per row")
    default_sample: int = knob(12000, "rows of the embedded corpus used when --data is not given; 0 = all 38,158")

    # Where things go.
    pipeline_name: str = knob(layout.DEFAULT_PIPELINE_NAME, "the pipeline's name in ML Metadata and on Vertex AI "
                              "([a-z0-9-] only)")
    model_name: str = knob(layout.DEFAULT_MODEL_NAME, "the model's name in TF Serving (its directory under "
                           "<outputs>/serving)")
    outputs_dir: str = knob(layout.DEFAULT_OUTPUTS_DIR, "where everything goes: artifacts, ML Metadata, the serving "
                            "directory, reports (a gs:// path on Vertex AI)")

    # Split: 1 in eval_buckets texts goes to eval, by a hash of the text itself.
    eval_buckets: int = knob(10, "1 in N texts goes to the eval split, by a hash of the text itself")

    # Model and training.
    max_seq_length: int = knob(64, "word pieces per text (per window with --long-text chunk), [CLS] and [SEP] "
                               "included; at most the checkpoint's max_position_embeddings")
    # Long documents (preprocessing/windows.py): cut at max_seq_length, or read whole as overlapping windows
    # (the reference tokenizer's return_overflowing_tokens); training, evaluation and serving all answer a text by
    # combining its windows' logits (tasks/long_text.py). `max` was chosen on the validation slice (bench/RESULTS.md).
    long_text: str = knob("truncate", "texts longer than --max-seq-length: truncate (read the first word pieces) "
                          "or chunk (overlapping windows: every word piece is read)", ("truncate", "chunk"))
    chunk_stride: int = knob(16, "with --long-text chunk: word pieces each window shares with the one before")
    window_aggregation: str = knob("max", "with --long-text chunk: how a text's windows' logits make its answer",
                                   AGGREGATIONS)
    batch_size: int = knob(16, "the global batch, across all replicas")
    # Training runs epochs until the validation slice (a share of the training split: never the eval split,
    # which TFMA reports and the BlessingGate judges) stops improving, at most --epochs; the best epoch's
    # weights are the ones exported (model/validation.py).
    epochs: int = knob(3, "at most this many passes over the training split (unless --train-steps)")
    early_stopping_patience: int = knob(1, "stop after this many epochs past the best (the latest epoch within "
                                        "one standard error of the highest validation score; 0: run every "
                                        "--epochs); the best epoch's weights are exported")
    validation_fraction: float = knob(0.1, "share of the training split held out to score each epoch, choose the "
                                      "best one and fit the served answer (multi-label thresholds)")
    # The slice costs its share of the training texts. Where it chose nothing but the number of epochs (not a
    # multi-label task's thresholds), that many epochs are trained again from the checkpoint on the whole split,
    # slice included (early stopping's "retrain on all the data", Goodfellow et al. 2016, 7.8): it doubles the
    # training time, so only up to refit_max_texts, where a tenth of the texts is worth the most and a second
    # training is short; the default data (~10,840 training texts) keeps its one training and 15-minute run.
    refit_max_texts: int = knob(10_000, "when the training split has at most N texts, train the chosen number of "
                                "epochs again on all of it, validation slice included (not for multi-label, "
                                "whose thresholds are fitted on the slice); 0: never")
    train_steps: int = knob(0, "training steps (updates); 0 = derive them from --epochs")
    # 5e-5 over 1e-4 on the default data's validation slice at 3 epochs (0.8026 against 0.7925; bench/RESULTS.md).
    learning_rate: float = knob(5e-5, "AdamW's peak learning rate (linear warm-up, then linear decay to 0)")
    warmup_fraction: float = knob(0.1, "share of the steps spent warming the learning rate up")
    weight_decay: float = knob(0.01, "AdamW's weight decay")
    mixed_precision: str = knob("auto", "Keras precision policy; auto = mixed_float16 on a GPU, mixed_bfloat16 on a "
                                "CPU with AMX (amx_bf16 in /proc/cpuinfo), float32 (off) on other CPUs",
                                PRECISIONS)
    seed: int = knob(42, "drives the data order, dropout and every initialisation (head, adapters)")
    # Each update averages the gradients of this many batches of batch_size, run one after the other:
    # the update of a batch_size x N batch in the memory of one batch. train_steps counts updates.
    gradient_accumulation_steps: int = knob(1, "each update averages the gradients of N batches, run one after "
                                            "the other (the update of N x --batch-size in one batch's memory)")
    # Recompute each transformer layer's activations in the backward pass instead of keeping them:
    # less memory for ~1/3 more compute (model/gradient_checkpointing.py).
    gradient_checkpointing: bool = knob(False, "recompute each layer's activations in the backward pass: less "
                                        "memory, about 1/3 more compute")
    # LoRA (model/lora.py): lora_rank > 0 trains rank-r adapters on lora_targets of every transformer
    # layer, and the classifier head, with the checkpoint's weights frozen; they are merged into the
    # weights at export, so the served model is a full fine-tune's in form and cost. 0 = full fine-tune.
    lora_rank: int = knob(0, "LoRA adapters of this rank on --lora-targets, the checkpoint frozen; 0 = full "
                          "fine-tune")
    lora_alpha: float = knob(16.0, "the adapters' update is scaled by lora_alpha / lora_rank")
    lora_dropout: float = knob(0.1, "dropout on the adapters' input, in [0, 1)")
    lora_targets: str = knob("query,value", f"comma-separated projections to adapt, of {', '.join(LORA_TARGETS)}")
    # BackupAndRestore saves the training state every this many steps; a killed Trainer resumes from the
    # last save when the pipeline is re-run (the state lives in outputs/trainer_backup until training ends).
    backup_every_steps: int = knob(100, "save the training state every N steps (a killed run resumes from it)")
    log_every_steps: int = knob(50, "a progress line with the loss and the speed every N steps")
    # Start from the weights of the model serving now (the newest version under serving_model_root, which
    # only blessed models reach) when its classes and architecture match; else from the checkpoint.
    warm_start: bool = knob(True, "start from the weights of the model serving now, when its classes and shapes "
                            "match (else from the checkpoint)")

    # Blessing (components/blessing.py): an absolute floor; the accuracy's lower confidence bound above the
    # largest class's share; and, once a model was blessed, a paired non-inferiority test against it on the
    # same eval texts, per class too. The tolerance is what the default eval split (~1,160 texts) can resolve:
    # at 0.01, even a copy of the baseline would be refused there (docs/data.md, "Blessing").
    accuracy_floor: float = knob(0.5, "bless only a model with at least this eval accuracy (a multi-label "
                                 "model: macro F1)")
    majority_margin: float = knob(0.0, "the accuracy's lower confidence bound must beat the eval split's largest "
                                  "class's share by this (a one-class model scores that share)")
    regression_tolerance: float = knob(0.02, "non-inferiority margin: bless only a model whose accuracy's lower "
                                       "confidence bound is no more than this below the last blessed model's, "
                                       "on the same eval texts")
    blessing_alpha: float = knob(0.05, "one-sided confidence level of the blessing's bounds is 1 - alpha")
    blessing_per_class: bool = knob(True, "also refuse a model whose recall of any class (a multi-label model: F1 "
                                    "of any label) is significantly below the last blessed model's")

    # Serving: texts from the eval split that TF Serving replays at load time (assets.extra), the
    # sub-batch the exported model sorts a request into by length (model/export.py), and the number of
    # independent branches each layer of the exported encoder is split into (model/encoder.py): TF
    # Serving's inter-op threads run them on separate cores, so set it to the serving machine's cores (it is
    # reduced to its greatest common divisor with the attention heads).
    warmup_texts: int = knob(8, "eval texts TF Serving replays when it loads a version (warm-up requests)")
    intended_use: str = knob("Sentiment of short English social-media posts (negative, neutral, positive), for "
                             "aggregate analysis such as trends over many posts, with people reviewing decisions.",
                             "the model card's \"Intended use\": say what your model is for")
    serving_sub_batch_size: int = knob(8, "a larger request is sorted by length into sub-batches of N texts")
    serving_encoder_branches: int = knob(2, "independent branches per layer of the exported encoder, run on "
                                         "separate cores by TF Serving: the serving machine's cores")
    serving_precision: str = knob("float32", "the exported encoder's matmuls: float32, or int8 (weights "
                                  "quantized per output column, activations per word piece at each request, "
                                  "model/int8_encoder.py; needs TF Serving's oneDNN, on by default on x86-64)",
                                  SERVING_PRECISIONS)
    # TF Serving moves a label in use only to a version it has loaded (serving/model_server_config.py).
    serving_server: str = knob("", "TF Serving's REST address (e.g. http://127.0.0.1:8501): the Pusher waits for "
                               "it to load a new version, then labels it canary; empty: written unlabeled")
    serving_server_wait_seconds: int = knob(300, "how long the Pusher waits for --serving-server to load a version")

    enable_cache: bool = knob(True, "reuse a component's outputs when its inputs and settings are unchanged")

    # Beam, which runs ExampleGen, StatisticsGen, Transform and the Evaluator: "direct" on this machine,
    # in memory (1 worker) or in that many processes; "dataflow" on Google Cloud, up to that many workers.
    beam_runner: str = knob("direct", "where Beam runs: this machine, or Google Cloud Dataflow", BEAM_RUNNERS)
    beam_workers: int = knob(1, "Beam processes here (direct), or at most that many Dataflow workers")
    beam_args: tuple = knob((), "extra Beam pipeline arguments, appended last (they win)")

    # Batch scoring (serving/batch_scoring.py) on the same Beam: `make score`, and in the pipeline a step
    # after the Pusher that scores a drop with the model the run blessed.
    score_data: str = knob("", "a drop (CSV file, directory or {SPAN} pattern) to score after the push with the "
                           "model the run blessed; nothing is scored when it blessed none")
    score_batch_size: int = knob(64, "texts per batch when scoring a drop (Beam's RunInference)")

    # Training at scale. "auto": MultiWorkerMirrored when TF_CONFIG names several workers, Mirrored over
    # several GPUs or cpu_devices > 1, else one device. cpu_devices splits the CPU into logical devices,
    # so that a multi-replica run can be rehearsed on a laptop.
    strategy: str = knob("auto", "tf.distribute strategy; auto = multi_worker with a TF_CONFIG of several workers, "
                         "mirrored over several GPUs or --cpu-devices, else one_device", STRATEGIES)
    cpu_devices: int = knob(1, "split the CPU into N logical devices (rehearse MirroredStrategy on a laptop)")
    # "vertex": the Trainer runs as a Vertex AI custom job (tfx.extensions.google_cloud_ai_platform), on
    # vertex_machines machines (> 1: MultiWorkerMirroredStrategy, TF_CONFIG set by Vertex AI).
    trainer_backend: str = knob("local", "where the Trainer runs: in the pipeline, or as a Vertex AI custom job",
                                TRAINER_BACKENDS)
    vertex_machine_type: str = knob("n1-standard-8", "the Vertex AI Trainer's machine type")
    vertex_accelerator: str = knob("NVIDIA_TESLA_T4", "the Vertex AI Trainer's accelerator type; empty = CPU only")
    vertex_accelerators_per_machine: int = knob(2, "accelerators on each Vertex AI Trainer machine")
    vertex_machines: int = knob(1, "Vertex AI Trainer machines (> 1: MultiWorkerMirroredStrategy)")

    # Google Cloud: used by kubeflow_v2_runner.py (Vertex AI Pipelines), Dataflow and the Vertex Trainer.
    # A cloud run keeps everything under --outputs-dir gs://...; the image is the Dockerfile's, pushed.
    gcp_project: str = knob("", "Google Cloud project (Vertex AI, Dataflow)")
    gcp_region: str = knob("us-central1", "Google Cloud region")
    pipeline_image: str = knob("", "the pipeline image (the Dockerfile's, pushed to Artifact Registry)")
    schedule_cron: str = knob("TZ=Etc/UTC 0 3 * * *", "when Vertex AI runs the pipeline again: unix cron, "
                              "optionally 'TZ=<zone> ' first")

    @property
    def text_columns(self) -> TextColumns:
        return self.task_settings().columns

    # The paths below --outputs-dir (contracts/layout.py, which serving/ and reports/ read too).
    @property
    def pipeline_root(self) -> str:
        return layout.pipeline_root(self.outputs_dir, self.pipeline_name)

    @property
    def metadata_path(self) -> str:
        return layout.metadata_path(self.outputs_dir, self.pipeline_name)

    @property
    def reports_dir(self) -> str:
        return layout.reports_dir(self.outputs_dir)

    @property
    def serving_model_root(self) -> str:
        return layout.serving_model_root(self.outputs_dir, self.model_name)

    @property
    def backup_dir(self) -> str:
        return layout.backup_dir(self.outputs_dir, self.pipeline_name)

    def beam_pipeline_args(self, project_dir: str = PROJECT_DIR) -> List[str]:
        """project_dir: where this project lies on the machine that starts the Beam jobs (inside the
        pipeline image on Vertex AI), for Dataflow's --setup_file."""
        if self.beam_runner == "direct":
            mode = "multi_processing" if self.beam_workers > 1 else "in_memory"
            args = [f"--runner={LOCAL_BEAM_RUNNER}", f"--direct_running_mode={mode}",
                    f"--direct_num_workers={max(self.beam_workers, 1)}"]
        elif self.beam_runner == "dataflow":
            args = ["--runner=DataflowRunner", f"--project={self.gcp_project}", f"--region={self.gcp_region}",
                    f"--temp_location={self.outputs_dir}/beam_tmp", f"--max_num_workers={self.beam_workers}",
                    f"--setup_file={os.path.join(project_dir, 'setup.py')}", "--experiments=use_runner_v2"]
            if self.pipeline_image:  # workers start from the pipeline image: the same pinned stack
                args.append(f"--sdk_container_image={self.pipeline_image}")
        else:
            raise ValueError(f"beam_runner must be 'direct' or 'dataflow', not {self.beam_runner!r}")
        return args + list(self.beam_args)

    def vertex_training_args(self) -> Dict[str, Any]:
        """Vertex AI CustomJob worker pools: the chief, then vertex_machines - 1 workers, each running the
        pipeline image's TFX training entry point."""
        machine = {"machine_type": self.vertex_machine_type}
        if self.vertex_accelerator:
            machine.update(accelerator_type=self.vertex_accelerator,
                           accelerator_count=self.vertex_accelerators_per_machine)
        pool = {"machine_spec": machine, "container_spec": {"image_uri": self.pipeline_image}}
        pools = [{**pool, "replica_count": 1}]
        if self.vertex_machines > 1:
            pools.append({**pool, "replica_count": self.vertex_machines - 1})
        return {"project": self.gcp_project, "job_spec": {"worker_pool_specs": pools}}

    def task_settings(self) -> TaskSettings:
        """The task the flags ask for: the one place flags pick a task's modules (tasks/__init__.py)."""
        inputs = "long_text" if self.long_text == "chunk" else "text_pair" if self.text_pair_column else "one_text"
        return TaskSettings(
            labels="multi_label" if self.label_separator else "single_label", inputs=inputs,
            text_column=self.text_column, text_pair_column=self.text_pair_column, label_column=self.label_column,
            label_separator=self.label_separator, max_seq_length=self.max_seq_length, chunk_stride=self.chunk_stride,
            window_aggregation=self.window_aggregation)

    def transform_settings(self) -> TransformSettings:
        return TransformSettings(task=self.task_settings(), checkpoint_dir=self.checkpoint,
                                 code_version=source_fingerprint("contracts", "tasks", "preprocessing"))

    def pusher_settings(self) -> PusherSettings:
        return PusherSettings(task=self.task_settings(), warmup_texts=self.warmup_texts,
                              intended_use=self.intended_use, serving_server=self.serving_server,
                              serving_server_wait_seconds=self.serving_server_wait_seconds)

    def blessing_rule(self) -> Rule:
        return Rule(accuracy_floor=self.accuracy_floor, majority_margin=self.majority_margin,
                    tolerance=self.regression_tolerance, alpha=self.blessing_alpha, per_class=self.blessing_per_class,
                    seed=self.seed)

    def trainer_settings(self) -> TrainerSettings:
        return TrainerSettings(
            task=self.task_settings(), checkpoint_dir=self.checkpoint,
            batch_size=self.batch_size, epochs=self.epochs, early_stopping_patience=self.early_stopping_patience,
            validation_fraction=self.validation_fraction, refit_max_texts=self.refit_max_texts,
            learning_rate=self.learning_rate,
            warmup_fraction=self.warmup_fraction, weight_decay=self.weight_decay,
            mixed_precision=self.mixed_precision, seed=self.seed,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            gradient_checkpointing=self.gradient_checkpointing, lora_rank=self.lora_rank,
            lora_alpha=self.lora_alpha, lora_dropout=self.lora_dropout,
            lora_targets=tuple(self.lora_targets.split(",")), backup_dir=self.backup_dir,
            backup_every_steps=self.backup_every_steps, log_every_steps=self.log_every_steps,
            serving_sub_batch_size=self.serving_sub_batch_size,
            serving_encoder_branches=self.serving_encoder_branches, serving_precision=self.serving_precision,
            strategy=self.strategy,
            cpu_devices=self.cpu_devices, warm_start_root=self.serving_model_root if self.warm_start else "",
            code_version=source_fingerprint("contracts", "tasks", "preprocessing", "model"))


def validate(config: PipelineConfig) -> None:
    """Refuses, before anything runs, a value no component could use: one line naming the flag (InputError).
    Flags are checked by argparse too; this also covers --config files and values set in code."""
    for field in dataclasses.fields(PipelineConfig):
        value, choices = getattr(config, field.name), field.metadata["choices"]
        if choices and value not in choices:
            raise InputError(f"{_flag(field.name)} {value!r}: must be one of {', '.join(choices)}")
    tasks.validate(config.task_settings())
    unknown = [t for t in config.lora_targets.split(",") if t not in LORA_TARGETS]
    if config.lora_rank and unknown:
        raise InputError(f"--lora-targets {config.lora_targets!r}: {unknown[0]!r} is not one of "
                         f"{', '.join(LORA_TARGETS)}")
    if not 0 < config.blessing_alpha < 0.5:
        raise InputError(f"--blessing-alpha {config.blessing_alpha}: must be in (0, 0.5)")
    if not 0 < config.validation_fraction < 0.5:
        raise InputError(f"--validation-fraction {config.validation_fraction}: must be in (0, 0.5)")
    if not 0 <= config.lora_dropout < 1:
        raise InputError(f"--lora-dropout {config.lora_dropout}: must be in [0, 1)")
    for name in ("lora_rank", "train_steps", "default_sample", "early_stopping_patience", "refit_max_texts"):
        if getattr(config, name) < 0:
            raise InputError(f"{_flag(name)} {getattr(config, name)}: must be 0 or more")
    for name in ("batch_size", "epochs", "max_seq_length", "eval_buckets", "gradient_accumulation_steps",
                 "serving_sub_batch_size", "serving_encoder_branches", "beam_workers", "cpu_devices", "span_window",
                 "score_batch_size"):
        if getattr(config, name) < 1:
            raise InputError(f"{_flag(name)} {getattr(config, name)}: must be 1 or more")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def read_config_file(path: str) -> Dict[str, Any]:
    """Knobs from a YAML or JSON file (keys: the field names, e.g. lora_rank); raises ValueError naming the
    file and the problem."""
    import yaml  # YAML is a superset of JSON: one reader for both

    try:
        with open(path) as f:
            values = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"config file {path}: {e}".splitlines()[0]) from None
    if not isinstance(values, dict):
        raise ValueError(f"config file {path}: expected a mapping of field: value, got {type(values).__name__}")
    fields = {f.name for f in dataclasses.fields(PipelineConfig)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ValueError(f"config file {path}: {unknown[0]!r} is not a field of pipeline/configs.py "
                         f"(fields are the flags' names with underscores, e.g. lora_rank)")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per field, e.g. --batch-size, with this file's defaults; --config FILE sets any of them
    from a YAML/JSON file, and flags given with it win."""
    parser.add_argument("--config", help="YAML or JSON file of knobs (field: value); flags override it")
    for field in dataclasses.fields(PipelineConfig):
        flag, help_text = _flag(field.name), field.metadata["help"]
        if field.type is tuple:
            parser.add_argument(flag, nargs="*", default=None, help=help_text)
        elif field.type is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default, help=help_text)
        else:
            parser.add_argument(flag, type=field.type, default=field.default, help=help_text,
                                choices=field.metadata["choices"] or None)


def from_arguments(args: argparse.Namespace, **resolved: Any) -> PipelineConfig:
    """The config the flags describe; `resolved` replaces values the caller has already resolved."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(PipelineConfig)}
    values["beam_args"] = tuple(values["beam_args"] or ())
    values.update(resolved)
    return PipelineConfig(**values)
