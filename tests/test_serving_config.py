"""serving_config/: every file parses with TF Serving's own protos (or as what it is), and the pieces agree.

Docker does not run on these machines, so the compose stack is checked structurally: images, mounts,
ports, flags, and that what one service points at is what another serves.
"""
import http.server
import json
import os
import re
import socket
import threading
from unittest import mock

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from components import serving_ops
from pipeline import configs
from serving import config_protos, model_server_config, server_settings

CONFIG_DIR = os.path.dirname(model_server_config.TEMPLATE)
PROTO_FILES = {
    "models.config": model_server_config_pb2.ModelServerConfig,
    "batching_parameters.txt": config_protos.session_bundle_config_pb2.BatchingParameters,
    "batching_parameters_gpu.txt": config_protos.session_bundle_config_pb2.BatchingParameters,
    "monitoring.config": config_protos.monitoring_config_pb2.MonitoringConfig,
}
OTHER_FILES = {"tf_serving_text_ops.txt", "docker-compose.yml", "prometheus.yml",
               "grafana/provisioning/datasources/prometheus.yml",
               "grafana/provisioning/dashboards/dashboards.yml", "grafana/dashboards/tf_serving.json"}


def parse(name):
    with open(os.path.join(CONFIG_DIR, name)) as f:
        return text_format.Parse(f.read(), PROTO_FILES[name]())


def load_yaml(name):
    with open(os.path.join(CONFIG_DIR, name)) as f:
        return yaml.safe_load(f)


def test_every_file_is_checked_here():
    files = {os.path.relpath(os.path.join(d, f), CONFIG_DIR) for d, _, fs in os.walk(CONFIG_DIR) for f in fs}
    assert files == set(PROTO_FILES) | OTHER_FILES


@pytest.mark.parametrize("name", sorted(PROTO_FILES))
def test_config_parses_with_tf_serving_protos(name):
    assert parse(name).ListFields()


def test_a_broken_config_is_rejected(tmp_path):
    broken = open(os.path.join(CONFIG_DIR, "batching_parameters.txt")).read().replace("max_batch_size",
                                                                                      "max_batch_sise")
    with pytest.raises(text_format.ParseError, match="max_batch_sise"):
        text_format.Parse(broken, config_protos.session_bundle_config_pb2.BatchingParameters())


def test_models_config_keeps_two_versions_with_stable_and_canary_labels():
    (entry,) = parse("models.config").model_config_list.config
    assert entry.model_platform == "tensorflow"
    assert entry.model_version_policy.latest.num_versions == 2
    assert set(entry.version_labels) == {"stable", "canary"}


@pytest.mark.parametrize("name", ["batching_parameters.txt", "batching_parameters_gpu.txt"])
def test_batching_parameters_are_consistent(name):
    batching = parse(name)
    assert 0 < batching.batch_timeout_micros.value <= 10_000  # a lone request must not wait long
    if batching.allowed_batch_sizes:  # TF Serving's rule: increasing, the last equal to max_batch_size
        assert list(batching.allowed_batch_sizes) == sorted(batching.allowed_batch_sizes)
        assert batching.allowed_batch_sizes[-1] == batching.max_batch_size.value


def compose():
    return load_yaml("docker-compose.yml")["services"]


def volumes(service):
    """host source -> container path; the source may hold a ${VAR:-default} with its own colon."""
    split = [v.rsplit(":", 2) if v.endswith((":ro", ":rw")) else v.rsplit(":", 1) for v in service["volumes"]]
    return {parts[0]: parts[1] for parts in split}


def test_compose_serves_the_pushed_models_with_a_tf_text_that_has_every_op():
    server = compose()["tfserving"]
    tag = server["image"].split(":")[1]
    supported = re.search(r"TensorFlow Serving (\d+)\.(\d+)\.\d+-(\d+)\.(\d+)\.x",
                          open(serving_ops.SERVING_TEXT_OPS_FILE).read())
    low, high = (int(supported[1]), int(supported[2])), (int(supported[3]), int(supported[4]))
    assert server["image"].startswith("tensorflow/serving:")
    assert low <= tuple(int(p) for p in tag.split(".")[:2]) <= high
    flags = server_settings.tf_serving_flags()
    assert flags["model_config_file"] == "/models/" + model_server_config.CONFIG_FILE
    assert flags["enable_model_warmup"] == "true" and flags["enable_batching"] == "true"
    # The first push labels a version before the server has loaded it: without this flag it refuses to start.
    assert flags["allow_version_labels_for_unavailable_models"] == "true"
    mounts = {target: source for source, target in volumes(server).items()}
    assert mounts["/models"] == "${SERVING_ROOT:-../outputs/serving}"
    for flag in ("batching_parameters_file", "monitoring_config_file"):
        host_file = mounts[flags[flag]]
        assert os.path.isfile(os.path.join(CONFIG_DIR, host_file)), host_file
    (entry,) = parse("models.config").model_config_list.config
    assert entry.base_path.startswith("/models/")


def test_compose_binds_every_port_to_localhost_and_leaves_no_default_password():
    services = compose()
    assert set(services) == {"tfserving", "prometheus", "grafana"}
    for name, service in services.items():
        for port in service["ports"]:
            assert port.startswith("127.0.0.1:"), (name, port)
        for source in volumes(service):
            if source.startswith("./"):
                assert os.path.exists(os.path.join(CONFIG_DIR, source)), (name, source)
    password = services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?.+\}", password)  # compose refuses to start unset
    assert services["grafana"]["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_prometheus_scrapes_the_path_tf_serving_exports():
    monitoring = parse("monitoring.config").prometheus_config
    assert monitoring.enable
    (job,) = load_yaml("prometheus.yml")["scrape_configs"]
    assert job["metrics_path"] == monitoring.path
    rest_port = next(f.split("=")[1] for f in compose()["tfserving"]["command"] if f.startswith("--rest_api_port"))
    assert job["static_configs"][0]["targets"] == [f"tfserving:{rest_port}"]


def test_grafana_dashboard_shows_rate_latency_percentiles_and_errors():
    datasource = load_yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    dashboard = json.load(open(os.path.join(CONFIG_DIR, "grafana/dashboards/tf_serving.json")))
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert all(t["datasource"]["uid"] == datasource["uid"] for p in dashboard["panels"] for t in p["targets"])
    assert any("rate(:tensorflow:serving:request_count" in e and "status!=" not in e for e in expressions)
    assert {q for e in expressions for q in re.findall(r"histogram_quantile\((0\.\d+), .*request_latency_bucket", e)} \
        == {"0.5", "0.9", "0.99"}
    assert any('status!="OK"' in e for e in expressions)
    provider = load_yaml("grafana/provisioning/dashboards/dashboards.yml")["providers"][0]
    assert volumes(compose()["grafana"])["./grafana/dashboards"] == provider["options"]["path"]


def push(serving_dir, model_name, version, server="", wait_seconds=0):
    os.makedirs(os.path.join(serving_dir, model_name, str(version)))
    return model_server_config.update(str(serving_dir), model_name, server, wait_seconds)


def labels(path):
    (entry,) = model_server_config.read(path).model_config_list.config
    return dict(entry.version_labels), entry


def unlabeled(serving_dir, path):
    return model_server_config.unlabeled_versions(str(serving_dir), model_server_config.read(path))


def test_without_a_server_a_new_version_waits_unlabeled_and_labels_stay_on_loaded_versions(tmp_path):
    """TF Serving moves a label in use only to a version it has loaded: with nothing to ask, only versions
    pushed before (which it has had time to load) carry labels; `canary` labels the newest when told."""
    path = push(tmp_path, "reviews", 100)
    first, entry = labels(path)
    assert first == {"stable": 100, "canary": 100}  # new labels: allowed before the load (the compose flag)
    assert (entry.name, entry.base_path) == ("reviews", "/models/reviews")
    assert labels(push(tmp_path, "reviews", 200))[0] == {"stable": 100, "canary": 100}
    assert unlabeled(tmp_path, path) == [200]
    model_server_config.move_label(str(tmp_path), model_server_config.CANARY)
    assert labels(path)[0] == {"stable": 100, "canary": 200}
    model_server_config.move_label(str(tmp_path), model_server_config.STABLE)
    assert labels(path)[0] == {"stable": 200, "canary": 200}
    assert labels(push(tmp_path, "reviews", 300))[0] == {"stable": 200, "canary": 200}
    # 200 leaves the two loaded versions when 400 arrives: both labels move to 300, which the server has.
    assert labels(push(tmp_path, "reviews", 400))[0] == {"stable": 300, "canary": 300}
    assert unlabeled(tmp_path, path) == [400]
    os.makedirs(tmp_path / "reviews" / ".staging-500-abc")  # a push in progress is not a version
    assert labels(model_server_config.update(str(tmp_path), "reviews"))[0] == {"stable": 300, "canary": 300}
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".models.config")]  # no temp file left


class _ModelStatus(http.server.BaseHTTPRequestHandler):
    """A stand-in for TF Serving's REST model status API: GET /v1/models/<name> with the versions in
    `available` AVAILABLE and the others LOADING."""

    available = set()
    loading = set()

    def do_GET(self):  # noqa: N802
        status = [{"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK"}} for v in self.available]
        status += [{"version": str(v), "state": "LOADING", "status": {"error_code": "OK"}} for v in self.loading]
        body = json.dumps({"model_version_status": status}).encode()
        self.send_response(200 if self.path == "/v1/models/reviews" else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def model_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ModelStatus)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", _ModelStatus
    server.shutdown()


def test_with_a_server_labels_move_only_to_versions_it_reports_available(tmp_path, model_server, capsys):
    url, status = model_server
    status.available, status.loading = {100}, set()
    path = push(tmp_path, "reviews", 100, url)
    status.loading = {200}  # the server is still loading the new version when the wait ends
    assert labels(push(tmp_path, "reviews", 200, url, wait_seconds=1))[0] == {"stable": 100, "canary": 100}
    assert model_server_config.main(["canary", "--serving-dir", str(tmp_path), "--server", url]) == 1
    assert "has not loaded version 200" in capsys.readouterr().err
    assert labels(path)[0] == {"stable": 100, "canary": 100}

    status.available, status.loading = {100, 200}, set()  # loaded: the label moves
    assert model_server_config.main(["canary", "--serving-dir", str(tmp_path), "--server", url]) == 0
    assert labels(path)[0] == {"stable": 100, "canary": 200}
    status.available, status.loading = {100, 200}, {300}
    threading.Timer(1.5, lambda: setattr(status, "available", {200, 300})).start()  # loaded during the wait
    assert labels(push(tmp_path, "reviews", 300, url, wait_seconds=30))[0] == {"stable": 200, "canary": 300}
    assert model_server_config.main(["promote", "--serving-dir", str(tmp_path), "--server", url]) == 0
    assert labels(path)[0] == {"stable": 300, "canary": 300}


def test_a_server_that_cannot_be_reached_leaves_the_labels_where_they_are(tmp_path, capsys):
    """Unreachable is not "has loaded nothing": the labels stay on the versions they name, the new version waits
    unlabeled, and the label commands refuse with one line."""
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    path = push(tmp_path, "reviews", 100, url)
    assert labels(path)[0] == {"stable": 100, "canary": 100}  # new labels, as without a server
    # The log call itself: another test's TFX run may have turned logging off in this process.
    with mock.patch.object(model_server_config.logging, "warning") as warning:
        assert labels(push(tmp_path, "reviews", 200, url, wait_seconds=1))[0] == {"stable": 100, "canary": 100}
    assert unlabeled(tmp_path, path) == [200]
    (call,) = warning.call_args_list
    assert (call.args[0] % call.args[1:]).startswith(f"TF Serving at {url} cannot be reached")
    assert model_server_config.main(["canary", "--serving-dir", str(tmp_path), "--server", url]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"the server at {url} cannot be reached" in line
    assert labels(path)[0] == {"stable": 100, "canary": 100}


def test_the_serving_benchmark_ran_with_the_threads_and_batching_the_compose_file_gives_tf_serving():
    """bench/RESULTS.md's `make bench-serving` blocks (one per CPU kind) name the settings ours ran with: after a
    change to the compose file or batching_parameters.txt, this fails until the benchmark is measured again."""
    results = open(os.path.join(configs.PROJECT_DIR, "bench", "RESULTS.md")).read()
    measured = re.findall(r"serving config: intra-op (\d+), inter-op (\d+) threads; batching: max_batch_size "
                          r"(\d+), batch_timeout_micros (\d+), num_batch_threads (\d+)", results)
    batching = server_settings.batching_parameters()
    configured = (*server_settings.thread_settings(), batching.max_batch_size.value,
                  batching.batch_timeout_micros.value, batching.num_batch_threads.value)
    assert measured and all(tuple(map(int, block)) == configured for block in measured), measured
