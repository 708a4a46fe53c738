"""How the compose stack runs TF Serving, read from serving_config/ in one place.

The serving benchmark reproduces these settings in-process (bench/serving_latency.py), and the tests check
that the settings it measured are the ones the compose file passes to the server.
"""
import os
from typing import Dict, Tuple

import yaml
from google.protobuf import text_format

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "serving_config")
COMPOSE_FILE = os.path.join(CONFIG_DIR, "docker-compose.yml")
BATCHING_FILE = os.path.join(CONFIG_DIR, "batching_parameters.txt")


def tf_serving_flags() -> Dict[str, str]:
    """tensorflow_model_server's flags in the compose file, without their dashes."""
    with open(COMPOSE_FILE) as f:
        command = yaml.safe_load(f)["services"]["tfserving"]["command"]
    return dict(flag.lstrip("-").split("=", 1) for flag in command)


def thread_settings() -> Tuple[int, int]:
    """(intra-op, inter-op) threads of the server's TensorFlow session."""
    flags = tf_serving_flags()
    return int(flags["tensorflow_intra_op_parallelism"]), int(flags["tensorflow_inter_op_parallelism"])


def batching_parameters():
    """serving_config/batching_parameters.txt as TF Serving's BatchingParameters proto (needs `make install`'s
    side directory of serving protos: a benchmark and test dependency, not the pipeline's)."""
    from serving import config_protos

    with open(BATCHING_FILE) as f:
        return text_format.Parse(f.read(), config_protos.session_bundle_config_pb2.BatchingParameters())
