"""`make schema` reads the CSV as the pipeline's ExampleGen does, so the schema it writes matches the
examples the pipeline will validate against it."""
import subprocess
import sys

import pytest
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from contracts.errors import InputError
from pipeline import configs, schema_tool
from tasks import TaskSettings

# A byte-order mark, CRLF, a quoted line break, a blank line, an integer column: TFDV's own CSV reader
# would get the first column's name, the row count and the types wrong.
DATA = (b'\xef\xbb\xbfid,text,label\r\n1,good,pos\r\n2,"two\nlines",neg\n\n3,"say ""hi""",neu\n'
        b'4,fine,pos\n')


def test_schema_pins_text_presence_the_label_domain_and_csv_types(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(DATA)
    schema = schema_tool.curated_schema(str(path), TaskSettings())
    assert sorted(tfdv.get_domain(schema, "label").value) == ["neg", "neu", "pos"]
    text = tfdv.get_feature(schema, "text")
    assert text.presence.min_fraction == 1.0 and not text.HasField("domain")
    assert tfdv.get_feature(schema, "id").type == schema_pb2.INT  # as CsvExampleGen types the column
    stats = tfdv.generate_statistics_from_dataframe(schema_tool.read_examples(str(path), TaskSettings()))
    assert stats.datasets[0].num_examples == 4


def test_bad_csv_is_refused_with_one_line(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("text,label\nok,pos\n,neg\n")
    result = subprocess.run([sys.executable, "-m", "pipeline.schema_tool", "--data", str(path), "--out",
                             str(tmp_path / "schema.pbtxt")], cwd=configs.PROJECT_DIR, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {path}, line 3: empty text in column 'text': fill it or drop the row")
    assert not (tmp_path / "schema.pbtxt").exists()


def test_numbered_labels_are_a_domain_of_class_names_and_spaces_around_a_label_are_dropped(tmp_path):
    """Star ratings: every label a number, some written with a space. CsvExampleGen reads the label column as
    text (components/csv_example_gen.py), so the schema's label is a string domain of the five classes."""
    path = tmp_path / "reviews.csv"
    path.write_text("review,stars\n" + "".join(f"review {i},{' ' if i % 3 == 0 else ''}{i % 5 + 1}\n"
                                               for i in range(40)))
    schema = schema_tool.curated_schema(str(path), TaskSettings(text_column="review", label_column="stars"))
    assert tfdv.get_feature(schema, "stars").type == schema_pb2.BYTES
    assert sorted(tfdv.get_domain(schema, "stars").value) == ["1", "2", "3", "4", "5"]


def test_data_of_one_class_gets_no_schema(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("text,label\nok,pos\nfine,pos\n")
    with pytest.raises(InputError, match="every row has the label 'pos' in column 'label': a classifier needs"):
        schema_tool.curated_schema(str(path), TaskSettings())
