"""Runs the pipeline with TFX's LocalDagRunner: `python local_runner.py --help`."""
import sys

from pipeline import cli

if __name__ == "__main__":
    sys.exit(cli.main_on_console(runner="local"))
