"""The errors every gate raises: each one's message is the one line a user sees (what, where, what to do).
The CLI recognizes them by type (pipeline/cli.py), wherever the runner wrapped them."""


class PipelineError(Exception):
    """A gate refused; str(error) is the line to show."""


class InputError(PipelineError, ValueError):
    """Bad user input, found before the run: a data file, the schema, the checkpoint or a flag."""


class UnsupportedCheckpointError(InputError):
    """The checkpoint is not a BERT encoder and WordPiece tokenizer this pipeline trains and exports."""


class DataAnomaliesError(PipelineError, ValueError):
    """The examples do not match the curated schema (or a class has no examples)."""


class DataDriftError(PipelineError, ValueError):
    """The newest span's distribution moved beyond a threshold from the span before it."""


class UnservableModelError(PipelineError, RuntimeError):
    """The model needs ops stock TF Serving does not have."""


def every_kind():
    """Every PipelineError class, most specific first."""
    found, pending = [], [PipelineError]
    while pending:
        kind = pending.pop()
        found.append(kind)
        pending.extend(kind.__subclasses__())
    return sorted(found, key=lambda kind: -len(kind.__mro__))
