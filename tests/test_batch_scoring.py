"""`make score` (python -m pipeline.score) on Beam with the shared small run's pushed model, on a drop made
from corpus rows with an id column (and a text with a lone carriage return, one with a line break):
its answers are the predict CLI's; two worker processes give the rows one gives; a bad file is refused in
one line with nothing written; a run killed mid-way leaves no file that looks complete, and the next run
clears what it left."""
import csv
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline import configs
from serving import batch_scoring, predict

ROWS = 240
PROBABILITY_TOLERANCE = 1e-6  # the predict CLI rounds to 6 decimals; scoring writes float32 in full


def score(drop, out, model, *flags):
    return subprocess.run([sys.executable, "-m", "pipeline.score", "--data", str(drop), "--out", str(out),
                           "--model", model, *flags], cwd=configs.PROJECT_DIR, capture_output=True, text=True,
                          timeout=900)


def scored_rows(out):
    """{id: row} over every shard."""
    rows = {}
    for shard in sorted(glob.glob(os.path.join(str(out), "scores-*.csv"))):
        with open(shard, encoding="utf-8", newline="") as f:
            rows.update((row["id"], row) for row in csv.DictReader(f))
    return rows


@pytest.fixture(scope="module")
def drop(corpus, tmp_path_factory):
    rows = corpus[:ROWS - 2] + [row for row in corpus if "\r" in row[0]][:1] + [
        ('made here: two lines,\nwith "quotes" and commas', "neutral")]  # the corpus has no line break
    path = tmp_path_factory.mktemp("drop") / "drop.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("id", "text", "label"), *((f"row-{i}", text, label)
                                                            for i, (text, label) in enumerate(rows))])
    return path


@pytest.fixture(scope="module")
def interrupted_then_scored(drop, pushed_model, tmp_path_factory):
    """A scoring killed as soon as it has written its first file, then run again on the same directory."""
    out = tmp_path_factory.mktemp("scores") / "out"
    process = subprocess.Popen([sys.executable, "-m", "pipeline.score", "--data", str(drop), "--out", str(out),
                                "--model", pushed_model], cwd=configs.PROJECT_DIR, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while not [name for _, _, names in os.walk(out) for name in names]:  # hidden directories too
        assert process.poll() is None and time.monotonic() < deadline, "the scoring ended before it wrote a file"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    left = sorted(os.listdir(out))
    result = score(drop, out, pushed_model)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, left, result


def test_scores_are_the_predict_clis_with_every_input_column_passed_through(interrupted_then_scored, drop,
                                                                             pushed_model, tmp_path):
    out, _, result = interrupted_then_scored
    assert f"scored: {ROWS} rows in " in result.stdout and " texts/s), model version " in result.stdout
    rows = scored_rows(out)
    assert len(rows) == ROWS
    assert predict.main(["--input", str(drop), "--output", str(tmp_path / "cli.jsonl"), "--model", pushed_model]) == 0
    with open(tmp_path / "cli.jsonl", encoding="utf-8") as f:
        cli = [json.loads(line) for line in f]
    with open(drop, encoding="utf-8", newline="") as f:
        given = list(csv.DictReader(f))
    version = os.path.basename(pushed_model)
    for row, answer in zip(given, cli):
        mine = rows[row["id"]]
        assert (mine["text"], mine["input_label"], mine["model_version"]) == (row["text"], row["label"], version)
        assert (mine["label"], int(mine["class_id"])) == (answer["label"], answer["class_id"])
        for name, probability in answer["probabilities"].items():
            assert abs(float(mine[f"p_{name}"]) - probability) <= PROBABILITY_TOLERANCE
    success = batch_scoring.read_success(str(out))
    assert success["rows"] == ROWS and success["model_version"] == version
    assert sorted(success["shards"]) == sorted(os.path.basename(p) for p in glob.glob(str(out / "scores-*.csv")))


def test_two_workers_give_the_rows_one_gives(interrupted_then_scored, drop, pushed_model, tmp_path):
    one = scored_rows(interrupted_then_scored[0])
    result = score(drop, tmp_path / "two", pushed_model, "--beam-workers", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(direct, 2 worker(s))" in result.stderr
    two = scored_rows(tmp_path / "two")
    assert set(two) == set(one)
    probabilities = [name for name in next(iter(one.values())) if name.startswith("p_")]
    for key, row in one.items():
        assert {k: v for k, v in two[key].items() if k not in probabilities} == {
            k: v for k, v in row.items() if k not in probabilities}
        assert max(abs(float(two[key][p]) - float(row[p])) for p in probabilities) <= PROBABILITY_TOLERANCE


def test_a_killed_scoring_leaves_no_file_that_looks_complete(interrupted_then_scored):
    out, left, _ = interrupted_then_scored
    assert left and all(name.startswith(batch_scoring.STAGING_PREFIX) for name in left), left
    assert not [name for name in os.listdir(out) if name.startswith(batch_scoring.STAGING_PREFIX)]


@pytest.mark.parametrize("content, message", [
    ("id,text\n1,fine\n2,\n", "drop.csv, line 3: empty text in column 'text'"),
    ("id,body\n1,fine\n", "drop.csv: no column 'text' in the header ['id', 'body']"),
    (b"id,text\n1,caf\xe9\n", "drop.csv, line 2: byte 0xe9 is not valid UTF-8"),
])
def test_a_bad_file_is_refused_in_one_line_and_nothing_is_written(tmp_path, pushed_model, content, message):
    drop = tmp_path / "drop.csv"
    drop.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = score(drop, tmp_path / "out", pushed_model)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {tmp_path}/{message}"), lines
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.parametrize("args, threads", [
    (["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"], (1, 1)),
    (["--direct_running_mode=multi_processing", "--direct_num_workers=2"], (1, 1)),  # 2 processes, a core each
    (["--direct_running_mode=multi_threading", "--direct_num_workers=2"], (1, 2)),  # one TensorFlow, 2 calls at once
    (["--direct_running_mode=in_memory"], (0, 0)),
    (["--runner=DataflowRunner"], (0, 0)),
])
def test_local_workers_share_the_cores(args, threads, monkeypatch):
    from apache_beam.options.pipeline_options import PipelineOptions

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert batch_scoring.worker_threads(PipelineOptions(args)) == threads
