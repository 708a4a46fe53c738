"""Two runs on one outputs directory: the second refuses to start; a killed run leaves no stale lock."""
import os
import signal
import subprocess
import sys
import time

from pipeline import cli, configs, run_lock

from pipeline_runs import FLAGS, run_cli


def test_second_run_on_the_same_outputs_refuses_and_a_killed_run_releases(tmp_path):
    outputs = tmp_path / "outputs"
    first = subprocess.Popen([sys.executable, os.path.join(configs.PROJECT_DIR, "beam_runner.py"),
                              "--outputs-dir", str(outputs), *FLAGS], cwd=configs.PROJECT_DIR,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock = outputs / run_lock.LOCK_FILE
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text() == str(first.pid)):
            assert first.poll() is None and time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.2)

        second = run_cli(outputs, *FLAGS)
        assert second.returncode == cli.EXIT_BUSY
        assert second.stderr.strip().splitlines()[-1] == (
            f"error: another run (pid {first.pid}) is using {outputs}: wait for it to finish, or pass "
            "--outputs-dir with another directory")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    with run_lock.hold(str(outputs)):  # the kernel dropped the killed holder's lock
        assert lock.read_text() == str(os.getpid())
