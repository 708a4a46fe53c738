"""bench/RESULTS.md's measured blocks: each benchmark command rewrites its own block between its markers and
keeps the text written by hand around it; every block names the commit it measured."""
import os
import subprocess
from typing import List

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(BENCH_DIR, "RESULTS.md")


def markers(command: str):
    return f"<!-- {command}: begin -->", f"<!-- {command}: end -->"


def write_block(command: str, header: str, lines: List[str]) -> None:
    """Replaces `command`'s block (appended at the end the first time)."""
    begin, end = markers(command)
    text = open(RESULTS).read() if os.path.exists(RESULTS) else "# Benchmark results\n"
    if begin not in text:
        text = f"{text.rstrip()}\n\n{begin}\n{end}\n"
    before, rest = text.split(begin, 1)
    after = rest.split(end, 1)[1]
    with open(RESULTS, "w") as f:
        f.write(f"{before}{begin}\n{header}\n\n```\n" + "\n".join(lines) + f"\n```\n{end}{after}")


def read_block(command: str) -> str:
    begin, end = markers(command)
    return open(RESULTS).read().split(begin, 1)[1].split(end, 1)[0]


def commit() -> str:
    project = os.path.dirname(BENCH_DIR)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=project).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True, cwd=project).stdout.strip()
    return head + (" (with uncommitted changes)" if dirty else "")
