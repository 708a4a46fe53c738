"""Stops the run between ExampleValidator and Transform when the data has anomalies.

TFX's ExampleValidator only records anomalies; nothing downstream reads them. Transform is made to run
after this gate, so bad data never reaches training, let alone serving.

The gate also checks what a schema cannot express: that every class of the label's domain has examples
in every split. A drop without one class would otherwise train a model with fewer outputs than the
schema has classes, and evaluate it on the classes it happens to have.
"""
import os
from typing import List

import tensorflow_data_validation as tfdv
from tensorflow_data_validation.utils import anomalies_util
from tfx import types
from tfx.dsl.component.experimental.annotations import InputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts

from contracts.errors import DataAnomaliesError


def describe_anomalies(anomalies_artifact: types.Artifact) -> List[str]:
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


def missing_classes(statistics: types.Artifact, schema: types.Artifact, label_column: str) -> List[str]:
    """One 'split/feature: problem' string per split that lacks a class of the label's domain."""
    domain = tfdv.get_domain(tfdv.load_schema_text(os.path.join(schema.uri, "schema.pbtxt")), label_column)
    problems = []
    for split in artifact_utils.decode_split_names(statistics.split_names):
        stats = tfdv.load_stats_binary(os.path.join(statistics.uri, f"Split-{split}", "FeatureStats.pb"))
        seen = {bucket.label for feature in stats.datasets[0].features if feature.path.step == [label_column]
                for bucket in feature.string_stats.rank_histogram.buckets if bucket.sample_count > 0}
        absent = [value for value in domain.value if value not in seen]
        if absent:
            problems.append(f"split '{split}', feature '{label_column}': no example of class "
                            f"{', '.join(repr(value) for value in absent)}")
    return problems


@component
def AnomaliesGate(anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
                  statistics: InputArtifact[standard_artifacts.ExampleStatistics],
                  schema: InputArtifact[standard_artifacts.Schema], label_column: Parameter[str]) -> None:
    problems = describe_anomalies(anomalies) + missing_classes(statistics, schema, label_column)
    if problems:
        raise DataAnomaliesError(
            "the data does not match the schema: " + " | ".join(problems)
            + ". Fix those rows, or if the change is intended, regenerate the schema (make schema)")
