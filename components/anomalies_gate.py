"""Stops the run between ExampleValidator and Transform when the data has anomalies.

TFX's ExampleValidator only records anomalies; nothing downstream reads them. Transform is made to run
after this gate, so bad data never reaches training, let alone serving.
"""
import os

from tensorflow_data_validation.utils import anomalies_util
from tfx import types
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts
from tfx.dsl.component.experimental.annotations import InputArtifact


class DataAnomaliesError(ValueError):
    """The examples do not match the curated schema."""


def describe_anomalies(anomalies_artifact: types.Artifact) -> list:
    """One 'split/feature: problem' string per anomaly, in split and feature order."""
    problems = []
    for split in artifact_utils.decode_split_names(anomalies_artifact.split_names):
        path = os.path.join(anomalies_artifact.uri, f"Split-{split}", "SchemaDiff.pb")
        anomalies = anomalies_util.load_anomalies_binary(path)
        for feature, info in sorted(anomalies.anomaly_info.items()):
            detail = "; ".join(reason.description.rstrip(". ") for reason in info.reason) or info.description
            problems.append(f"split '{split}', feature '{feature}': {detail}")
        if anomalies.HasField("dataset_anomaly_info"):
            problems.append(f"split '{split}': {anomalies.dataset_anomaly_info.description}")
    return problems


@component
def AnomaliesGate(anomalies: InputArtifact[standard_artifacts.ExampleAnomalies]) -> None:
    problems = describe_anomalies(anomalies)
    if problems:
        raise DataAnomaliesError(
            "the data does not match the schema: " + " | ".join(problems)
            + ". Fix those rows, or if the change is intended, regenerate the schema (make schema)")
