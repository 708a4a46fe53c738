"""The command line a user runs: --help, bad input and bad flags refused in one line, a gate's error as one line."""
import os
import subprocess
import sys

import pytest

from contracts import errors
from pipeline import cli, configs

RUNNER = os.path.join(configs.PROJECT_DIR, "beam_runner.py")


def run(*args):
    return subprocess.run([sys.executable, RUNNER, *args], capture_output=True, text=True, timeout=600)


def test_help_lists_the_flags():
    result = run("--help")
    assert result.returncode == 0
    for flag in ("--data", "--checkpoint", "--schema", "--text-column", "--label-column", "--train-steps",
                 "--epochs", "--batch-size", "--learning-rate", "--max-seq-length", "--outputs-dir"):
        assert flag in result.stdout


def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("text,label\nfine,positive\n,negative\n")
    outputs = tmp_path / "outputs"
    result = run("--data", str(data), "--outputs-dir", str(outputs))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {data}, line 3: empty text in column 'text': fill it or drop the row"]
    assert not outputs.exists()


def test_a_config_file_sets_knobs_and_flags_given_with_it_win(tmp_path):
    config_file = tmp_path / "training.yaml"
    config_file.write_text("lora_rank: 8\nlora_targets: query,key,value\ngradient_accumulation_steps: 4\n"
                           "learning_rate: 5.0e-4\n")
    args = cli.parse_args(["--config", str(config_file), "--learning-rate", "3e-4"])
    config = configs.from_arguments(args)
    assert (config.lora_rank, config.lora_targets, config.gradient_accumulation_steps) == (8, "query,key,value", 4)
    assert config.learning_rate == 3e-4  # the flag wins
    assert config.trainer_settings().lora_targets == ("query", "key", "value")
    json_file = tmp_path / "training.json"
    json_file.write_text('{"gradient_checkpointing": true, "seed": 7}')
    config = configs.from_arguments(cli.parse_args(["--config", str(json_file)]))
    assert config.gradient_checkpointing and config.seed == 7


@pytest.mark.parametrize("content, message", [
    ("lora_rnk: 8\n", "'lora_rnk' is not a field of pipeline/configs.py (fields are the flags' names with "
                      "underscores, e.g. lora_rank)"),
    ("- 8\n", "expected a mapping of field: value, got list"),
])
def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path, content, message, capsys):
    config_file = tmp_path / "training.yaml"
    config_file.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--config", str(config_file), "--outputs-dir", str(tmp_path / "outputs")])
    assert exit_info.value.code == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.splitlines() == [f"error: config file {config_file}: {message}"]
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("flags, message", [
    (["--lora-rank", "8", "--lora-targets", "query,keys"],
     "--lora-targets 'query,keys': 'keys' is not one of query, key, value, attention_output, intermediate, output"),
    (["--gradient-accumulation-steps", "0"], "--gradient-accumulation-steps 0: must be 1 or more"),
])
def test_bad_training_options_are_one_line_and_exit_2(tmp_path, flags, message, capsys):
    assert cli.main([*flags, "--outputs-dir", str(tmp_path / "outputs")]) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.splitlines() == [f"error: {message}"]
    assert not (tmp_path / "outputs").exists()


def test_every_flag_says_what_it_does():
    parser = cli.FlagParser()
    configs.add_arguments(parser)
    assert [action.dest for action in parser._actions if not action.help] == []


@pytest.mark.parametrize("flags, message", [
    (["--strategy", "mirored"], "argument --strategy: invalid choice: 'mirored' (choose from 'auto', 'one_device', "
                                "'mirrored', 'multi_worker') (--help lists the flags)"),
    (["--mixed-precision", "bf16"], "argument --mixed-precision: invalid choice: 'bf16'"),
    (["--serving-precision", "int4"], "argument --serving-precision: invalid choice: 'int4' (choose from 'float32', "
                                      "'int8')"),
    (["--batch-size", "sixteen"], "argument --batch-size: invalid int value: 'sixteen'"),
])
def test_a_bad_flag_is_one_line_and_exit_2_before_anything_runs(tmp_path, flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*flags, "--outputs-dir", str(tmp_path / "outputs")])
    assert exit_info.value.code == cli.EXIT_BAD_INPUT
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {message}")
    assert not (tmp_path / "outputs").exists()


def test_a_bad_choice_in_a_config_file_is_refused_like_a_flag(tmp_path, capsys):
    config_file = tmp_path / "training.yaml"
    config_file.write_text("strategy: mirored\n")
    assert cli.main(["--config", str(config_file), "--outputs-dir", str(tmp_path / "outputs")]) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.splitlines() == [
        "error: --strategy 'mirored': must be one of auto, one_device, mirrored, multi_worker"]
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("kind", [kind for kind in errors.every_kind() if kind is not errors.PipelineError],
                         ids=lambda kind: kind.__name__)
def test_every_gates_error_is_one_line_however_the_runner_wrapped_it(kind):
    """LocalDagRunner raises a component's error as it is; Beam chains it, or re-raises only its text."""
    line = f"{kind.__name__} says what, where, and what to do"
    try:
        try:
            raise kind(f"{line}\nsecond line")
        except kind as e:
            raise RuntimeError("Beam wrapped it") from e
    except RuntimeError as chained:
        assert cli._root_cause(chained) == line
    as_text = RuntimeError(f"Traceback ...\n{kind.__module__}.{kind.__name__}: {line} [while running 'Run[X]']")
    assert cli._root_cause(as_text) == line
