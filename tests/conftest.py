"""Shared fixtures. Environment first: TensorFlow reads these when it is first imported."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from pipeline import defaults  # noqa: E402


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


@pytest.fixture(scope="session")
def span_runs(tmp_path_factory, corpus):
    """Three spans and a re-run through the pipeline (tests/span_runs.py), shared by the tests of
    continuous retraining and of reproducibility."""
    from span_runs import play_spans

    return play_spans(tmp_path_factory.mktemp("spans"), corpus)
