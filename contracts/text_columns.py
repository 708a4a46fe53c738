"""The raw columns a model reads its texts from, and the serving_default input each one feeds: one text
(input `text`), or a sentence pair (`text` and `text_pair`), which the graph tokenizer encodes as
[CLS] text [SEP] text_pair [SEP] (preprocessing/tokenize.py). The input check, Transform, the exported
model, the BlessingGate, the warm-up requests, batch scoring and the report all go through this mapping.
"""
import dataclasses
from typing import Any, Dict, Mapping, Tuple

from contracts import names


@dataclasses.dataclass(frozen=True)
class TextColumns:
    text: str = "text"
    pair: str = ""  # empty: one text per row

    @property
    def columns(self) -> Tuple[str, ...]:
        return (self.text, self.pair) if self.pair else (self.text,)

    @property
    def inputs(self) -> Tuple[str, ...]:
        """serving_default's inputs, in the order of columns."""
        return (names.TEXT_INPUT, names.TEXT_PAIR_INPUT)[: len(self.columns)]

    def feed(self, values: Mapping[str, Any]) -> Dict[str, Any]:
        """serving_default's keyword arguments from {column: values}."""
        return {name: values[column] for name, column in zip(self.inputs, self.columns)}
