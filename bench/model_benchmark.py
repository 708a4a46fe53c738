"""What the benchmarks of a pushed model share: its flags (--model, --seed, --no-write), the model
directory they name, and publishing the table (printed, and written into bench/RESULTS.md with the
commit and date unless --no-write)."""
import argparse
import sys
import time
from typing import List

from pipeline import configs
from serving import predict

import results_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=configs.PipelineConfig().serving_model_root,
                        help="pushed SavedModel or serving root (newest version)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md as it is")


def model_dir(args: argparse.Namespace) -> str:
    try:
        return predict.resolve_model_dir(args.model)
    except predict.PredictError as e:
        sys.exit(f"error: {e}")


def publish(command: str, lines: List[str], args: argparse.Namespace, block: str = "") -> None:
    """block: the name of the block in bench/RESULTS.md, if not the command's."""
    print("\n".join(lines))
    if not args.no_write:
        results_file.write_block(block or command, f"Measured by `{command}` at commit {results_file.commit()} on "
                                 f"{time.strftime('%Y-%m-%d')}.", lines)
