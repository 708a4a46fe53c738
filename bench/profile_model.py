"""`make profile`: TensorBoard profiles (tf.profiler) of the pushed model's serving_default at batch 1 and at
batch 32, with the thread settings TF Serving gets from serving_config/, and of the Trainer's training step
(length buckets, AdamW), each after its warm-up. Written as the profile sessions serving_batch1,
serving_batch32 and training_step of <outputs>/tensorboard, the log directory `make tensorboard` serves
(Profile tab; docs/benchmarks.md, "Profiling").
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from contracts import layout
from model import export
from pipeline import configs, defaults
from serving import predict, server_settings

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import kernel_table
from ours_serving import PROFILED_REQUESTS

import run_all
import serving_latency


def run(script: str, *args: str) -> None:
    result = subprocess.run([sys.executable, os.path.join(BENCH_DIR, script), *args], capture_output=True, text=True,
                            cwd=configs.PROJECT_DIR)
    if result.returncode:
        sys.exit(f"error: {script} failed:\n{result.stderr[-3000:]}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outputs-dir", default=configs.PipelineConfig.outputs_dir)
    parser.add_argument("--model", help="pushed SavedModel or serving root (default: the outputs' serving root)")
    parser.add_argument("--training-warmup", type=int, default=20,
                        help="training steps before the profiled ones (the first retrace per new length)")
    args = parser.parse_args(argv)
    config = configs.PipelineConfig(outputs_dir=os.path.abspath(args.outputs_dir))
    try:
        model_dir = predict.resolve_model_dir(args.model or config.serving_model_root)
    except predict.PredictError as e:
        sys.exit(f"error: {e}")
    sessions = os.path.join(config.outputs_dir, "tensorboard", "plugins", "profile")
    intra, inter = server_settings.thread_settings()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as texts, \
            tempfile.NamedTemporaryFile("w", suffix=".json") as training, tempfile.TemporaryDirectory() as logdir:
        json.dump(serving_latency.sample_texts(40, 7, 32, seed=0), texts)
        json.dump(run_all.training_texts(640, config.seed), training)
        texts.flush()
        training.flush()
        run("ours_serving.py", "--model", model_dir, "--texts", texts.name, "--intra", str(intra),
            "--inter", str(inter), "--profile-dir", logdir)
        checkpoint = export.read_hyperparameters(model_dir).get("checkpoint_dir") or defaults.default_checkpoint_dir()
        run("training_speed.py", "--checkpoint", checkpoint, "--texts", training.name,
            "--padding", "buckets", "--warmup", str(args.training_warmup), "--steps", "5", "--window", "5",
            "--threads", str(os.cpu_count()),
            "--profile-dir", os.path.join(logdir, "training_step"))
        for name in sorted(os.listdir(logdir)):  # tf.profiler names a session by its time: name it by what it is
            (session,) = os.listdir(os.path.join(logdir, name, "plugins", "profile"))
            shutil.rmtree(os.path.join(sessions, name), ignore_errors=True)
            shutil.move(os.path.join(logdir, name, "plugins", "profile", session), os.path.join(sessions, name))
    print(f"the kernels of a batch-1 request ({PROFILED_REQUESTS} profiled):",
          *kernel_table.kernel_table(os.path.join(sessions, "serving_batch1"), PROFILED_REQUESTS), sep="\n")
    outputs_flag = "" if config.outputs_dir == layout.DEFAULT_OUTPUTS_DIR else f" OUTPUTS={args.outputs_dir}"
    print(f"profiles of {model_dir} (batch 1 and 32, intra-op {intra} / inter-op {inter} threads) and of a "
          f"training step: {', '.join(sorted(os.listdir(sessions)))} in {sessions}\n"
          f"make tensorboard{outputs_flag}, then the Profile tab (http://127.0.0.1:6006/#profile)")


if __name__ == "__main__":
    main()
