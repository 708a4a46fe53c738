"""BatchScoring: the pipeline's step after the Pusher (--score-data): the run's data drop scored with the model
it just blessed and pushed, by the Beam transform `make score` runs (serving/batch_scoring.py), on the
pipeline's Beam (its --beam-runner / --beam-workers: Dataflow on Vertex AI). When the run pushed nothing,
it scores nothing: the output artifact stays empty, with `scored` 0.

The scores land in the output artifact's directory (shards, then _SUCCESS), so every run's scores are kept,
with their lineage to the model and the data in ML Metadata.
"""
import apache_beam as beam
from absl import logging
from tfx.dsl.component.experimental.annotations import BeamComponentParameter, InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts

from contracts import raw_csv
from contracts.text_columns import TextColumns
from serving import batch_scoring, predict


@component(use_beam=True)
def BatchScoring(pushed_model: InputArtifact[standard_artifacts.PushedModel],
                 scores: OutputArtifact[standard_artifacts.InferenceResult],
                 data: Parameter[str], data_fingerprint: Parameter[str], text_column: Parameter[str],
                 text_pair_column: Parameter[str], batch_size: Parameter[int],
                 beam_pipeline: BeamComponentParameter[beam.Pipeline] = None) -> None:
    """data: a CSV file, a directory or a {SPAN} pattern (its newest span), read by the pipeline's rules;
    data_fingerprint: contracts/raw_csv.py's fingerprint of it when the pipeline was built, so that a new
    drop is scored even when the model (and so the Pusher's output) is the cached one."""
    if not pushed_model.get_int_custom_property("pushed"):
        logging.info("Nothing pushed in this run: nothing scored.")
        scores.set_int_custom_property("scored", 0)
        return
    model_dir = pushed_model.get_string_custom_property("pushed_destination")
    columns = TextColumns(text_column, text_pair_column)
    rows = raw_csv.check_data(data, columns)
    scoring = batch_scoring.Scoring(files=raw_csv.csv_files(data), model_dir=model_dir, text_columns=columns,
                                    class_names=predict.class_names(model_dir), batch_size=batch_size)
    summary = batch_scoring.run(scoring, scores.uri, rows, beam_pipeline)
    scores.set_int_custom_property("scored", summary.rows)
    scores.set_string_custom_property("model_version", scoring.model_version)
    logging.info("Scored %d rows of %s with %s in %.1f s.", summary.rows, data, model_dir, summary.seconds)
