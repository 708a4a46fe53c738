"""Score a data drop with a pushed model, on Beam (serving/batch_scoring.py): `make score`.

  python -m pipeline.score --data 'data/span-{SPAN}/*.csv' --out outputs/scores [--model DIR]
      [--text-column text] [--text-pair-column COL] [--score-batch-size 64] [--beam-workers 2]
      [--beam-runner dataflow ...]

--data takes what the pipeline's --data takes (a CSV file, a directory of them, a {SPAN} pattern: its newest
span), read and refused by the same rules (contracts/raw_csv.py); a label column is not needed. --model is
a pushed version or a serving root (its newest version; default: where `make run` pushes). Beam runs as the
pipeline's does, from the same keys (--beam-runner, --beam-workers, --beam-args, and for Dataflow
--gcp-project, --gcp-region, --outputs-dir for its temp location, --pipeline-image), also from --config.
Bad input: one line, exit 2, nothing written under --out.
"""
import argparse
import sys
from typing import List, Optional

from contracts import environment, layout, raw_csv
from contracts.errors import InputError
from pipeline import cli, configs


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = cli.FlagParser(prog="score", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory for the scored shards and _SUCCESS")
    parser.add_argument("--model", default=None, help="a pushed version, or a serving root (its newest version); "
                                                      "default: the pipeline's serving root")
    return cli.parse_args(argv, parser)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cli.configure_logging(args.verbose)
    from serving import predict

    try:
        config = configs.from_arguments(args)
        configs.validate(config)
        if not config.data:
            raise InputError("--data is empty: name the drop to score (a CSV file, a directory, or a {SPAN} "
                             "pattern)")
        rows = raw_csv.check_data(config.data, config.text_columns)
        model_dir = predict.resolve_model_dir(args.model or config.serving_model_root)
        class_names = predict.class_names(model_dir)
        if not class_names:
            raise InputError(f"{model_dir} has no {layout.HYPERPARAMETERS}: it was not pushed by this "
                             "pipeline; pass --model with a pushed version")
    except (InputError, predict.PredictError) as e:
        print(f"error: {e}", file=sys.stderr)
        return cli.EXIT_BAD_INPUT
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from serving import batch_scoring  # Beam's import takes seconds: after the checks

    scoring = batch_scoring.Scoring(files=raw_csv.csv_files(config.data), text_columns=config.text_columns,
                                    model_dir=model_dir, class_names=class_names,
                                    batch_size=config.score_batch_size)
    print(f"scoring {rows} rows of {config.data} with {model_dir} ({config.beam_runner}, {config.beam_workers} "
          f"worker(s))", file=sys.stderr, flush=True)
    pipeline = beam.Pipeline(options=PipelineOptions(config.beam_pipeline_args()))
    summary = batch_scoring.run(scoring, args.out, rows, pipeline)
    print(f"scored: {summary.rows} rows in {summary.seconds:.1f} s ({summary.texts_per_second:.1f} texts/s), "
          f"model version {scoring.model_version}\nout: {args.out} ({len(summary.shards)} shard(s), "
          f"{batch_scoring.SUCCESS_FILE} last)")
    return 0


if __name__ == "__main__":
    environment.filter_native_stderr()
    sys.exit(main())
