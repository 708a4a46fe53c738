"""The TF Serving config protos that tensorflow-serving-api does not ship.

tensorflow-serving-api (2.16.1, and every release through 2.19) packages ModelServerConfig but not
BatchingParameters (session_bundle_config.proto) or MonitoringConfig (monitoring_config.proto). The
protoc-generated modules of both come from min-tfs-client, which `make install` puts in a side directory
(its wheel also carries a copy of `tensorflow/` that must not shadow the real one); they are loaded
here by path, under private names. Used by the tests and the serving benchmark, not by the pipeline.
"""
import importlib.util
import os

SIDE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv", "serving-protos")


def _load(name: str, relative_path: str):
    path = os.path.join(SIDE_DIR, relative_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: run `make install`")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


session_bundle_config_pb2 = _load("_tfs_session_bundle_config_pb2",
                                  "tensorflow_serving/servables/tensorflow/session_bundle_config_pb2.py")
monitoring_config_pb2 = _load("_tfs_monitoring_config_pb2", "tensorflow_serving/config/monitoring_config_pb2.py")
