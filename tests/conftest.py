"""Shared fixtures. The TensorFlow environment first: TensorFlow reads it when it is first imported."""
import threading

import contracts.environment  # noqa: F401  (before pytest's plugins or any test import TensorFlow)

import pytest

from pipeline import defaults

import shared_runs

# Tests that read a shared run (tests/shared_runs.py) are the slow tier; modules and tests that run one
# themselves say so with @pytest.mark.slow. `make test-fast` runs the rest.
PIPELINE_FIXTURES = set(shared_runs.JOBS) | {"pushed_model"}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs the pipeline (or a training) end to end; `make test` runs it, "
                                       "`make test-fast` does not")


def _modules_in_order(items):
    """Items grouped by module (a module's fixtures are set up once), the modules that read no shared run
    first, then by the latest-starting run they read: each waits as little as it can."""
    rank = {name: i for i, name in enumerate(shared_runs.JOBS)}
    rank["pushed_model"] = rank["first_run"]
    module_rank = {}
    for item in items:
        needed = [rank[name] for name in item.fixturenames if name in rank]
        module_rank[item.path] = max([module_rank.get(item.path, -1), *needed])
    return sorted(items, key=lambda item: module_rank[item.path])


def pytest_collection_modifyitems(items):
    for item in items:
        if PIPELINE_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)
    items[:] = _modules_in_order(items)


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


class _InBackground(threading.Thread):
    """A shared run's job, in a thread that mostly waits on its subprocesses."""

    def __init__(self, job, *args):
        super().__init__(daemon=True)  # an interrupted session does not wait for it
        self.job, self.args, self.value, self.error = job, args, None, None
        self.start()

    def run(self):
        try:
            self.value = self.job(*self.args)
        except BaseException as e:  # noqa: BLE001 (re-raised in the test that needs the value)
            self.error = e

    def result(self):
        self.join()
        if self.error:
            raise self.error
        return self.value


def pytest_collection_finish(session):
    """Starts the shared runs the collected tests read (and the runs those build on), in the background."""
    needed = {name for item in session.items for name in item.fixturenames if name in shared_runs.JOBS}
    if any("pushed_model" in item.fixturenames for item in session.items):
        needed.add("first_run")
    needed |= {dependency for name in needed for dependency in shared_runs.DEPENDS_ON.get(name, ())}
    jobs = session.config.shared_runs = {}
    for name, job in shared_runs.JOBS.items():
        if name in needed:
            jobs[name] = _InBackground(job, session.config._tmp_path_factory.mktemp(name), jobs)


def _shared_run(name):
    @pytest.fixture(scope="session", name=name)
    def fixture(request):
        return request.config.shared_runs[name].result()

    fixture.__doc__ = shared_runs.JOBS[name].__doc__
    return fixture


(first_run, trainings, lora_training, refit_training, killed_then_completed, sentence_pair_run, long_document_run,
 multi_label_run, span_runs) = map(_shared_run, shared_runs.JOBS)


@pytest.fixture(scope="session")
def pushed_model(first_run):
    """The version directory the first run pushed."""
    from pipeline_runs import summary

    return summary(first_run[1].stdout)["pushed"]
