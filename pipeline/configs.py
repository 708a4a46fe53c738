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

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SCHEMA = os.path.join(PROJECT_DIR, "schema", "default", "schema.pbtxt")
SPAN_SPEC = "{SPAN}"  # TFX's placeholder for the span number in an input pattern
IMAGE_PROJECT_DIR = "/pipeline"  # where the Dockerfile puts this project inside the pipeline image


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


def example_gen_input(data: str) -> Tuple[str, str]:
    """ExampleGen's input_base and file pattern (relative to it) for --data."""
    if SPAN_SPEC in data:
        parts = data.split("/")
        first_variable = next(i for i, part in enumerate(parts) if SPAN_SPEC in part or "*" in part)
        return "/".join(parts[:first_variable]) or "/", "/".join(parts[first_variable:])
    if os.path.isdir(data):
        return data, "*.csv"
    return os.path.dirname(os.path.abspath(data)), os.path.basename(data)


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    # What to run on. An empty data/checkpoint means the embedded default (pipeline/defaults.py).
    # data: a CSV file, a directory whose *.csv files are read, or a pattern with {SPAN} (e.g.
    # data/span-{SPAN}/*.csv): each run reads the newest span, the highest number {SPAN} matches, and the
    # span_window - 1 spans before it.
    data: str = ""
    span_window: int = 1
    # With {SPAN} data, before training: the newest span against the one before it (components/drift_check.py).
    # Over a threshold, "stop" ends the run, "warn" logs it and trains; "off" skips the check.
    drift_action: str = "stop"  # stop | warn | off
    drift_label_linf: float = 0.1  # largest change of any class's share of the examples
    drift_token_length_js: float = 0.1  # Jensen-Shannon divergence of the word-pieces-per-text histograms
    checkpoint: str = ""  # a local Hugging Face BERT checkpoint directory
    schema: str = DEFAULT_SCHEMA  # curated schema; regenerate with `make schema`
    text_column: str = "text"
    label_column: str = "label"
    default_sample: int = 12000  # rows of the embedded corpus used by the default run; 0 = all 38,158

    # Where things go.
    pipeline_name: str = "bert-text-classifier"  # Vertex AI allows [a-z0-9-] only
    model_name: str = "text_classifier"
    outputs_dir: str = os.path.join(PROJECT_DIR, "outputs")

    # Split: 1 in eval_buckets texts goes to eval, by a hash of the text itself.
    eval_buckets: int = 10

    # Model and training.
    max_seq_length: int = 64
    batch_size: int = 16  # global batch, across all replicas
    epochs: int = 1
    train_steps: int = 0  # > 0 overrides epochs
    learning_rate: float = 1e-4
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    mixed_precision: str = "auto"  # auto (mixed_float16 on GPU, off on CPU) | off | mixed_float16 | mixed_bfloat16
    seed: int = 42  # drives the data order, dropout and every initialisation (head, adapters)
    # Each update averages the gradients of this many batches of batch_size, run one after the other:
    # the update of a batch_size x N batch in the memory of one batch. train_steps counts updates.
    gradient_accumulation_steps: int = 1
    # Recompute each transformer layer's activations in the backward pass instead of keeping them:
    # less memory for ~1/3 more compute (components/gradient_checkpointing.py).
    gradient_checkpointing: bool = False
    # LoRA (components/lora.py): lora_rank > 0 trains rank-r adapters on lora_targets of every transformer
    # layer, and the classifier head, with the checkpoint's weights frozen; they are merged into the
    # weights at export, so the served model is a full fine-tune's in form and cost. 0 = full fine-tune.
    lora_rank: int = 0
    lora_alpha: float = 16.0  # the adapters' update is scaled by lora_alpha / lora_rank
    lora_dropout: float = 0.1
    lora_targets: str = "query,value"  # comma-separated, from LORA_TARGETS
    # BackupAndRestore saves the training state every this many steps; a killed Trainer resumes from the
    # last save when the pipeline is re-run (the state lives in outputs/trainer_backup until training ends).
    backup_every_steps: int = 100
    log_every_steps: int = 50  # a progress line with the loss and the speed
    # Start from the weights of the model serving now (the newest version under serving_model_root, which
    # only blessed models reach) when its classes and architecture match; else from the checkpoint.
    warm_start: bool = True

    # Blessing: an absolute floor, and no regression beyond the tolerance against the last blessed model.
    accuracy_floor: float = 0.5
    regression_tolerance: float = 0.01

    # Serving: texts from the eval split that TF Serving replays at load time (assets.extra), the
    # sub-batch the exported model sorts a request into by length (components/model.py), and the number of
    # independent branches each layer of the exported encoder is split into (components/encoder.py): TF
    # Serving's inter-op threads run them on separate cores, so set it to the serving machine's cores (it is
    # reduced to its greatest common divisor with the attention heads).
    warmup_texts: int = 8
    # The model card's "Intended use" (reports/model_card.py); say what your model is for.
    intended_use: str = ("Sentiment of short English social-media posts (negative, neutral, positive), for "
                         "aggregate analysis such as trends over many posts, with people reviewing decisions.")
    serving_sub_batch_size: int = 8
    serving_encoder_branches: int = 2
    # TF Serving's REST address (e.g. http://127.0.0.1:8501), if a server polls the serving directory: the
    # Pusher then waits up to serving_server_wait_seconds for it to load a new version and labels that
    # version `canary`. Without it a new version is written unlabeled: `make canary` labels it once loaded
    # (TF Serving moves a label in use only to a version it has loaded; serving/model_server_config.py).
    serving_server: str = ""
    serving_server_wait_seconds: int = 300

    enable_cache: bool = True

    # Beam, which runs ExampleGen, StatisticsGen, Transform and the Evaluator: "direct" on this machine,
    # in memory (1 worker) or in that many processes; "dataflow" on Google Cloud, up to that many workers.
    beam_runner: str = "direct"
    beam_workers: int = 1
    beam_args: tuple = ()  # extra Beam pipeline arguments, appended last (they win)

    # Training at scale. "auto": MultiWorkerMirrored when TF_CONFIG names several workers, Mirrored over
    # several GPUs or cpu_devices > 1, else one device. cpu_devices splits the CPU into logical devices,
    # so that a multi-replica run can be rehearsed on a laptop.
    strategy: str = "auto"  # auto | one_device | mirrored | multi_worker
    cpu_devices: int = 1
    # "vertex": the Trainer runs as a Vertex AI custom job (tfx.extensions.google_cloud_ai_platform), on
    # vertex_machines machines (> 1: MultiWorkerMirroredStrategy, TF_CONFIG set by Vertex AI).
    trainer_backend: str = "local"  # local | vertex
    vertex_machine_type: str = "n1-standard-8"
    vertex_accelerator: str = "NVIDIA_TESLA_T4"  # "" = CPU only
    vertex_accelerators_per_machine: int = 2
    vertex_machines: int = 1

    # Google Cloud: used by kubeflow_v2_runner.py (Vertex AI Pipelines), Dataflow and the Vertex Trainer.
    # A cloud run keeps everything under --outputs-dir gs://...; the image is the Dockerfile's, pushed.
    gcp_project: str = ""
    gcp_region: str = "us-central1"
    pipeline_image: str = ""
    # When Vertex AI runs the pipeline again (pipeline/schedule.py): unix cron, optionally "TZ=<zone> " first.
    schedule_cron: str = "TZ=Etc/UTC 0 3 * * *"

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.outputs_dir, "pipeline_root", self.pipeline_name)

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.outputs_dir, "metadata", self.pipeline_name, "metadata.sqlite")

    @property
    def reports_dir(self) -> str:
        """One directory per run: index.html (reports/run_report.py) and run.json."""
        return os.path.join(self.outputs_dir, "reports")

    @property
    def serving_model_root(self) -> str:
        """TF Serving's base path for this model: versions are pushed below it."""
        return os.path.join(self.outputs_dir, "serving", self.model_name)

    @property
    def backup_dir(self) -> str:
        """Where an interrupted Trainer's BackupAndRestore state survives between runs."""
        return os.path.join(self.outputs_dir, "trainer_backup", self.pipeline_name)

    def beam_pipeline_args(self, project_dir: str = PROJECT_DIR) -> List[str]:
        """project_dir: where this project lies on the machine that starts the Beam jobs (inside the
        pipeline image on Vertex AI), for Dataflow's --setup_file."""
        if self.beam_runner == "direct":
            mode = "multi_processing" if self.beam_workers > 1 else "in_memory"
            args = [f"--direct_running_mode={mode}", f"--direct_num_workers={max(self.beam_workers, 1)}"]
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

    def transform_config(self) -> Dict[str, Any]:
        return {
            "text_column": self.text_column,
            "label_column": self.label_column,
            "checkpoint_dir": self.checkpoint,
            "max_seq_length": self.max_seq_length,
            "code_version": source_fingerprint("preprocessing"),
        }

    def pusher_config(self) -> Dict[str, Any]:
        return {"text_column": self.text_column, "label_column": self.label_column, "warmup_texts": self.warmup_texts,
                "intended_use": self.intended_use, "serving_server": self.serving_server,
                "serving_server_wait_seconds": self.serving_server_wait_seconds}

    def trainer_config(self) -> Dict[str, Any]:
        return {
            "checkpoint_dir": self.checkpoint,
            "text_column": self.text_column,
            "label_column": self.label_column,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "warmup_fraction": self.warmup_fraction,
            "weight_decay": self.weight_decay,
            "mixed_precision": self.mixed_precision,
            "seed": self.seed,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "gradient_checkpointing": self.gradient_checkpointing,
            "lora_rank": self.lora_rank,
            "lora_alpha": self.lora_alpha,
            "lora_dropout": self.lora_dropout,
            "lora_targets": self.lora_targets.split(","),
            "backup_dir": self.backup_dir,
            "backup_every_steps": self.backup_every_steps,
            "log_every_steps": self.log_every_steps,
            "serving_sub_batch_size": self.serving_sub_batch_size,
            "serving_encoder_branches": self.serving_encoder_branches,
            "strategy": self.strategy,
            "cpu_devices": self.cpu_devices,
            "warm_start_root": self.serving_model_root if self.warm_start else "",
            "code_version": source_fingerprint("preprocessing", "components"),
        }


LORA_TARGETS = ("query", "key", "value", "attention_output", "intermediate", "output")


def check_training_options(config: PipelineConfig) -> None:
    """Raises ValueError with one line naming the flag when a training option cannot work."""
    if config.lora_rank < 0:
        raise ValueError(f"--lora-rank {config.lora_rank}: must be 0 (full fine-tune) or more")
    unknown = [t for t in config.lora_targets.split(",") if t not in LORA_TARGETS]
    if config.lora_rank and unknown:
        raise ValueError(f"--lora-targets {config.lora_targets!r}: {unknown[0]!r} is not one of "
                         f"{', '.join(LORA_TARGETS)}")
    if not 0 <= config.lora_dropout < 1:
        raise ValueError(f"--lora-dropout {config.lora_dropout}: must be in [0, 1)")
    if config.serving_sub_batch_size < 1 or config.serving_encoder_branches < 1:
        raise ValueError("--serving-sub-batch-size and --serving-encoder-branches must be 1 or more")
    if config.gradient_accumulation_steps < 1:
        raise ValueError(f"--gradient-accumulation-steps {config.gradient_accumulation_steps}: must be 1 or more")


_HELP = {
    "data": "CSV file, directory of CSV files, or a pattern with {SPAN} such as 'data/span-{SPAN}/*.csv' "
            "(the newest span is read) (default: the embedded tweet corpus)",
    "checkpoint": "local Hugging Face BERT checkpoint dir: config.json, vocab.txt, model.safetensors or "
                  "tf_model.h5 (default: the embedded MiniLM-L6-H384-uncased)",
    "schema": "curated TFDV schema (schema.pbtxt) for the data; create one with `make schema`",
    "span_window": "with a {SPAN} pattern: train on the newest span and the N - 1 before it",
    "drift_action": "with a {SPAN} pattern, on drift from the previous span: stop | warn | off",
    "default_sample": "rows of the embedded corpus used when --data is not given; 0 = all",
    "train_steps": "training steps; 0 = derive from --epochs",
    "mixed_precision": "auto | off | mixed_float16 | mixed_bfloat16",
}


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
        flag = "--" + field.name.replace("_", "-")
        if field.type is tuple:
            parser.add_argument(flag, nargs="*", default=None, help="extra Beam pipeline arguments")
        elif field.type is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default)
        else:
            parser.add_argument(flag, type=field.type, default=field.default, help=_HELP.get(field.name))


def from_arguments(args: argparse.Namespace, **resolved: Any) -> PipelineConfig:
    """The config the flags describe; `resolved` replaces values the caller has already resolved."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(PipelineConfig)}
    values["beam_args"] = tuple(values["beam_args"] or ())
    values.update(resolved)
    return PipelineConfig(**values)
