"""Creates a Vertex AI pipeline schedule that runs the compiled pipeline on a cron, so that each new span
of data is trained on as it lands (`make compile-vertex` writes the spec first).

  python -m pipeline.schedule --gcp-project my-project --gcp-region us-central1 --dry-run

--dry-run prints the exact CreateScheduleRequest (JSON) and calls nothing; without it the request goes to
Vertex AI's ScheduleService with the caller's Application Default Credentials. A run with no new span
is served from the cache and pushes nothing, so a frequent schedule is cheap.
"""
import argparse
import os
import sys
from typing import List, Optional

from contracts.errors import InputError
from pipeline import cli, configs, vertex

# A run must not start while the previous one is still going: both would train and push the same span,
# and the local run lock (pipeline/run_lock.py) does not reach Cloud Storage.
MAX_CONCURRENT_RUNS = 1


def schedule_request(config: configs.PipelineConfig, spec_path: str):
    """The CreateScheduleRequest for the job spec at spec_path, run on config.schedule_cron."""
    from google.cloud import aiplatform_v1

    with open(spec_path) as f:
        job = aiplatform_v1.PipelineJob.from_json(f.read(), ignore_unknown_fields=True)
    parent = f"projects/{config.gcp_project}/locations/{config.gcp_region}"
    return aiplatform_v1.CreateScheduleRequest(parent=parent, schedule=aiplatform_v1.Schedule(
        display_name=f"{config.pipeline_name}-retraining", cron=config.schedule_cron,
        max_concurrent_run_count=MAX_CONCURRENT_RUNS,
        create_pipeline_job_request=aiplatform_v1.CreatePipelineJobRequest(parent=parent, pipeline_job=job)))


def main(argv: Optional[List[str]] = None) -> int:
    parser = cli.FlagParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default=None,
                        help="the compiled job spec (default: outputs/vertex/<pipeline name>.json)")
    parser.add_argument("--dry-run", action="store_true", help="print the request, send nothing")
    args = cli.parse_args(argv, parser)
    config = configs.from_arguments(args)
    spec_path = args.spec or os.path.join(vertex.SPEC_DIR, f"{config.pipeline_name}.json")
    try:
        if not config.gcp_project:
            raise InputError("--gcp-project is empty: name the Google Cloud project to schedule in")
        if not os.path.isfile(spec_path):
            raise InputError(f"job spec {spec_path} does not exist: compile it first (make compile-vertex)")
        request = schedule_request(config, spec_path)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return cli.EXIT_BAD_INPUT
    if args.dry_run:
        print(type(request).to_json(request))
        return 0
    from google.cloud import aiplatform_v1

    client = aiplatform_v1.ScheduleServiceClient(
        client_options={"api_endpoint": f"{config.gcp_region}-aiplatform.googleapis.com"})
    created = client.create_schedule(request=request)
    print(f"schedule {created.name}: {created.cron}, next run {created.next_run_time}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
