"""Compiles the pipeline for Vertex AI Pipelines with TFX's KubeflowV2DagRunner:
`python kubeflow_v2_runner.py --help`."""
import sys

from pipeline import vertex

if __name__ == "__main__":
    sys.exit(vertex.main())
