"""Picks the tf.distribute strategy and precision policy for the machine the Trainer runs on.

The batch size in the config is the global batch: each of R replicas computes the gradient of
batch_size / R examples, the gradients are summed across replicas and the loss is averaged over the global
batch, so one step means the same thing (and the learning rate needs no rescaling) on 1 device, several
GPUs or several machines.
"""
import json
import os
from typing import FrozenSet

import tensorflow as tf
import tf_keras

from model.settings import STRATEGIES


def split_cpu(devices: int) -> None:
    """Splits the CPU into `devices` logical devices, so that MirroredStrategy can be rehearsed without
    GPUs. TensorFlow allows this only before its runtime starts."""
    if devices <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or []) == devices:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    except RuntimeError:
        raise RuntimeError(f"cpu_devices={devices}: TensorFlow's runtime had already started in this process; "
                           "split the CPU before any TensorFlow op runs (the pipeline CLI does)") from None


def _cluster_size() -> int:
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return sum(len(cluster.get(role, [])) for role in ("chief", "worker"))


def _replica_devices():
    """The GPUs if there are any, else the logical CPU devices."""
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return [d.name for d in devices]


def choose_strategy(requested: str = "auto") -> tf.distribute.Strategy:
    """auto: MultiWorkerMirrored when TF_CONFIG names several workers, Mirrored when this machine has
    several GPUs (or logical CPU devices), the default one-device strategy otherwise."""
    if requested == "auto":
        requested = ("multi_worker" if _cluster_size() > 1 else
                     "mirrored" if len(_replica_devices()) > 1 else "one_device")
    if requested == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if requested == "mirrored":
        return tf.distribute.MirroredStrategy(devices=_replica_devices())
    if requested == "one_device":
        return tf.distribute.get_strategy()
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {requested!r}")


_PUBLIC_NAMES = ((tf.distribute.MultiWorkerMirroredStrategy, "MultiWorkerMirroredStrategy"),
                 (tf.distribute.MirroredStrategy, "MirroredStrategy"))


def name(strategy: tf.distribute.Strategy) -> str:
    """The strategy's public name (MultiWorkerMirroredStrategy's class is CollectiveAllReduceStrategy)."""
    return next((name for cls, name in _PUBLIC_NAMES if isinstance(strategy, cls)), "one device")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the training's outputs: the chief, or worker 0 in a chief-less cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> FrozenSet[str]:
    """The CPU's feature flags as Linux reports them (empty where there is no /proc/cpuinfo)."""
    try:
        with open(cpuinfo) as f:
            line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return frozenset()
    return frozenset(line.split(":", 1)[-1].split())


def auto_precision(has_gpu: bool, flags: FrozenSet[str]) -> str:
    """mixed_float16 on a GPU (with Keras' loss scaling); mixed_bfloat16 on a CPU whose AMX units multiply
    bfloat16 matrices (amx_bf16: Intel Xeon since Sapphire Rapids); float32 on other CPUs, where bfloat16
    matmuls are emulated or run on AVX-512 BF16's dot products and gain too little to pay for the rounding."""
    if has_gpu:
        return "mixed_float16"
    return "mixed_bfloat16" if "amx_bf16" in flags else "float32"


def set_precision_policy(requested: str) -> str:
    """Sets Keras' global policy; 'auto' is auto_precision's choice for this machine, 'off' float32."""
    if requested == "auto":
        requested = auto_precision(bool(tf.config.list_logical_devices("GPU")), cpu_flags())
    elif requested == "off":
        requested = "float32"
    tf_keras.mixed_precision.set_global_policy(requested)
    return requested
