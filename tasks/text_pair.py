"""A pair of texts per row (--text-pair-column: duplicate questions, entailment, query-document relevance): the
model reads [CLS] text [SEP] text_pair [SEP], the second text of token type 1, cut by the checkpoint
tokenizer's longest_first rule.

The split keeps every text on one side: pairs that share a text, in either position ((A, B) and (B, A), or
(A, B) and (B, C)), form a group, and a group's pairs go to one split, hashed from the group's first text in
sort order. Otherwise a text seen in training would be judged again in eval, and the eval figure would
flatter the model.
"""
from typing import Dict, List

from contracts.errors import InputError
from tasks.base import InputShape


class TextPair(InputShape):
    groups_rows = True

    def validate(self) -> None:
        s = self.settings
        if s.text_pair_column in (s.text_column, s.label_column):
            raise InputError(f"--text-pair-column {s.text_pair_column!r}: name a column other than --text-column "
                             "and --label-column")

    def split_groups(self, rows: List[List[str]]) -> Dict[str, str]:
        return shared_text_groups(rows)

    def encode(self, tokenizer, texts: List) -> Dict:
        text, pair = texts
        return tokenizer.encode_pair(text, pair, self.settings.max_seq_length)


def shared_text_groups(rows: List[List[str]]) -> Dict[str, str]:
    """Every text of the rows -> its group's key: the smallest text connected to it through shared texts
    (union-find, each root the smallest text of its group, so the keys do not depend on the rows' order)."""
    parent: Dict[str, str] = {}

    def root(text: str) -> str:
        while parent.setdefault(text, text) != text:
            parent[text] = parent[parent[text]]
            text = parent[text]
        return text

    for first, *others in rows:
        for other in others:
            a, b = root(first), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {text: root(text) for text in list(parent)}
