"""The AnomaliesGate on TFDV statistics of drops built here, in memory, against the default schema: each broken
drop is stopped with the one line that names the split, the feature and the fix; a clean one goes on. (A
broken drop stopped by the gate in a real run, with the serving directory untouched: tests/test_bad_data_drops.py.)
"""
import os

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.types import artifact_utils, standard_artifacts

from components import anomalies_gate
from contracts.errors import DataAnomaliesError
from pipeline import configs

SPLITS = ("train", "eval")
ROWS = [("lost my bag again", "negative"), ("flight at 6", "neutral"), ("great crew", "positive")] * 10


def _artifact(kind, uri, splits=SPLITS):
    artifact = kind()
    artifact.uri = str(uri)
    artifact.split_names = artifact_utils.encode_split_names(list(splits))
    return artifact


def run_gate(tmp_path, rows_of_split):
    """The gate's executor on each split's statistics and TFDV's anomalies against the default schema, written
    where StatisticsGen and ExampleValidator write them."""
    schema = tfdv.load_schema_text(configs.DEFAULT_SCHEMA)
    statistics = _artifact(standard_artifacts.ExampleStatistics, tmp_path / "statistics")
    anomalies = _artifact(standard_artifacts.ExampleAnomalies, tmp_path / "anomalies")
    for split, rows in rows_of_split.items():
        stats = tfdv.generate_statistics_from_dataframe(pd.DataFrame(rows, columns=["text", "label"]))
        for artifact, name, proto in ((statistics, "FeatureStats.pb", stats),
                                      (anomalies, "SchemaDiff.pb", tfdv.validate_statistics(stats, schema))):
            os.makedirs(os.path.join(artifact.uri, f"Split-{split}"), exist_ok=True)
            with open(os.path.join(artifact.uri, f"Split-{split}", name), "wb") as f:
                f.write(proto.SerializeToString())
    schema_artifact = standard_artifacts.Schema()
    schema_artifact.uri = os.path.dirname(configs.DEFAULT_SCHEMA)
    anomalies_gate.AnomaliesGate.EXECUTOR_SPEC.executor_class().Do(
        {"anomalies": [anomalies], "statistics": [statistics], "schema": [schema_artifact]}, {},
        {"label_column": "label"})


def test_a_clean_drop_goes_on(tmp_path):
    run_gate(tmp_path, dict.fromkeys(SPLITS, ROWS))


@pytest.mark.parametrize("rows_of_split, message", [
    ({split: [row for row in ROWS if row[1] != "neutral"] for split in SPLITS},
     "the data does not match the schema: split 'train', feature 'label': no example of class 'neutral' | split "
     "'eval', feature 'label': no example of class 'neutral'. Fix those rows, or if the change is intended, "
     "regenerate the schema (make schema)"),
    ({"train": [(None if i % 5 == 0 else text, label) for i, (text, label) in enumerate(ROWS)], "eval": ROWS},
     "the data does not match the schema: split 'train', feature 'text': "),
    ({"train": ROWS + [("meh", "angry")], "eval": ROWS},
     "the data does not match the schema: split 'train', feature 'label': "),
], ids=["a class missing", "texts missing", "a label outside the domain"])
def test_a_broken_drop_is_stopped_with_one_line_naming_split_and_feature(tmp_path, rows_of_split, message):
    with pytest.raises(DataAnomaliesError) as error:
        run_gate(tmp_path, rows_of_split)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
