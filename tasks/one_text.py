"""One text per row (the default): [CLS] text [SEP], cut at max_seq_length; the split hashes the text itself,
so identical texts (retweets) always land in the same split."""
from typing import Dict, List

from tasks.base import InputShape


class OneText(InputShape):
    def encode(self, tokenizer, texts: List) -> Dict:
        (text,) = texts
        return tokenizer.encode(text, self.settings.max_seq_length)
