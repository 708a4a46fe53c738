"""One run at a time per outputs directory: a second run refuses to start instead of sharing the ML
Metadata store, the pipeline root and the serving directory with the first.

The lock is an flock on <outputs>/.run.lock: the kernel releases it when the holder exits, however it
exits (a killed run leaves no stale lock). The file holds the holder's pid, for the message. A run that
created the outputs directory and wrote nothing else into it (bad input) removes it again.
"""
import contextlib
import fcntl
import os


class RunInProgressError(RuntimeError):
    """Another run holds the outputs directory; the message is the one line to show."""


LOCK_FILE = ".run.lock"


@contextlib.contextmanager
def hold(outputs_dir: str):
    created = not os.path.isdir(outputs_dir)
    os.makedirs(outputs_dir, exist_ok=True)
    path = os.path.join(outputs_dir, LOCK_FILE)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise RunInProgressError(
                f"another run (pid {holder}) is using {outputs_dir}: wait for it to finish, or pass "
                "--outputs-dir with another directory") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            if created and os.listdir(outputs_dir) == [LOCK_FILE]:
                os.remove(path)
                os.rmdir(outputs_dir)
