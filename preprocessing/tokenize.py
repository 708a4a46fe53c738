"""BERT WordPiece tokenization in TensorFlow ops, token-for-token equal to the checkpoint's own tokenizer.

TF Text's BertTokenizer normalizes differently from the Hugging Face tokenizer a checkpoint ships with
(it case-folds with NFKC, keeps control characters, splits on a different punctuation set), so the ids it
produces disagree on about 2% of tweets. Instead of re-implementing the Hugging Face rules from their
description, we *read them off the reference tokenizer*: every Unicode code point is run once through its
normalizer and pre-tokenizer, and the result is compiled into a table that the graph applies per
character. What the table encodes is then exactly what the reference does, for this checkpoint's settings
(cased or uncased, accents, Chinese characters), whatever Unicode version its Rust code was built with.

Special tokens written literally in the text ("[SEP]") are matched on the raw text, as the reference
does: each is swapped for a private-use sentinel code point that the table maps back to the token as a
word of its own (sentinels already in the text are deleted first, as the reference deletes them).

The graph then splits on spaces and runs TF Text's WordPiece with the checkpoint's vocab.txt as an asset.
Only core TensorFlow ops and TF Text's `WordpieceTokenizeWithOffsets` are used, both of which stock
TensorFlow Serving links.

Known limit: the reference applies NFD to the whole string, which reorders adjacent combining marks by
their combining class; the table maps characters one at a time. Marks that are removed (Mn) do not matter,
so this differs only for adjacent spacing combining marks (Mc) with different non-zero classes, a handful
of musical-notation code points.
"""
import functools
import json
import os
import re
from typing import Dict, List, NamedTuple, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from contracts.errors import UnsupportedCheckpointError
from tasks import long_text as windows

# What the reference normalizer + pre-tokenizer does to one code point.
DELETE, IDENTITY, ISOLATE, SPACE, EXPLICIT = range(5)
_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)  # never decoded from valid UTF-8
_SENTINEL_BASE = 0x10FF00  # private use: the reference deletes these, so no text can mean them


class CharTable(NamedTuple):
    """Run-length encoded per-code-point behaviour of a reference tokenizer."""

    range_starts: np.ndarray  # int32, sorted; range i covers [starts[i], starts[i+1])
    range_kinds: np.ndarray  # int32, one of DELETE..EXPLICIT
    explicit: Dict[int, str]  # code point -> replacement, for EXPLICIT code points


class WordPieceSpec(NamedTuple):
    vocab_file: str
    unk_token: str
    suffix_indicator: str
    max_chars_per_word: int
    special_tokens: Tuple[str, ...]  # matched on the raw text; i-th is swapped for _SENTINEL_BASE + i
    cls_id: int
    sep_id: int
    pad_id: int
    char_table: CharTable


class UnsupportedTokenizerError(UnsupportedCheckpointError):
    """The checkpoint's tokenizer is not a BERT WordPiece tokenizer."""


def _classify_output_char(pre_tokenizer, char: str) -> int:
    pieces = [p for p, _ in pre_tokenizer.pre_tokenize_str("a" + char + "a")]
    if pieces == ["a", "a"]:
        return SPACE
    if pieces == ["a", char, "a"]:
        return ISOLATE
    return IDENTITY


def _pre_tokenized(normalized: str, pre_tokenizer, cache: Dict[str, int]) -> str:
    """Rewrites a normalized string so that splitting on ' ' gives the reference's words."""
    out = []
    for char in normalized:
        if char not in cache:
            cache[char] = _classify_output_char(pre_tokenizer, char)
        kind = cache[char]
        out.append(" " if kind == SPACE else f" {char} " if kind == ISOLATE else char)
    return "".join(out)


def build_char_table(normalizer, pre_tokenizer, overrides: Dict[int, str]) -> CharTable:
    """Runs every code point through the reference and run-length encodes what happened to it.

    `overrides` maps code points to outputs imposed instead of the reference's (the sentinels).
    """
    starts: List[int] = []
    kinds: List[int] = []
    explicit: Dict[int, str] = {}
    cache: Dict[str, int] = {}
    for code_point in range(_MAX_CODE_POINT + 1):
        if code_point in overrides:
            kind = EXPLICIT
            explicit[code_point] = overrides[code_point]
        elif code_point in _SURROGATES:
            kind = DELETE
        else:
            char = chr(code_point)
            normalized = normalizer.normalize_str(char) if normalizer else char
            out = _pre_tokenized(normalized, pre_tokenizer, cache)
            if out == "":
                kind = DELETE
            elif out == char:
                kind = IDENTITY
            elif out == f" {char} ":
                kind = ISOLATE
            elif out == " ":
                kind = SPACE
            else:
                kind = EXPLICIT
                explicit[code_point] = out
        if not kinds or kinds[-1] != kind:
            starts.append(code_point)
            kinds.append(kind)
    return CharTable(np.array(starts, np.int32), np.array(kinds, np.int32), explicit)


def _require(condition: bool, checkpoint_dir: str, what: str) -> None:
    if not condition:
        raise UnsupportedTokenizerError(
            f"{checkpoint_dir}: {what}; only BERT WordPiece tokenizers (BertNormalizer, BertPreTokenizer, "
            "WordPiece) are supported")


@functools.lru_cache(maxsize=4)
def load_wordpiece_spec(checkpoint_dir: str) -> WordPieceSpec:
    """Reads the checkpoint's own tokenizer and compiles it into what the graph needs (cached: ~5 s)."""
    from transformers import BertTokenizerFast  # heavy import, only where a spec is built

    reference = BertTokenizerFast.from_pretrained(checkpoint_dir, local_files_only=True)
    backend = reference.backend_tokenizer
    config = json.loads(backend.to_str())
    model = config["model"]
    _require(model["type"] == "WordPiece", checkpoint_dir, f"its tokenizer model is {model['type']}")
    _require((config.get("pre_tokenizer") or {}).get("type") == "BertPreTokenizer", checkpoint_dir,
             f"its pre-tokenizer is {config.get('pre_tokenizer')}")
    vocab_file = os.path.join(checkpoint_dir, "vocab.txt")
    with tf.io.gfile.GFile(vocab_file) as f:
        vocab = [line.rstrip("\n") for line in f]
    _require(len(vocab) == backend.get_vocab_size(with_added_tokens=False), checkpoint_dir,
             "vocab.txt and the tokenizer's vocabulary differ")
    added = config.get("added_tokens") or []
    _require(all(not (t["normalized"] or t["lstrip"] or t["rstrip"] or t["single_word"]) for t in added),
             checkpoint_dir, "it has added tokens matched with normalization or stripping")
    _require(all(t["content"] in vocab for t in added), checkpoint_dir, "it has added tokens outside vocab.txt")
    # Longest first: the reference matches leftmost-longest.
    special_tokens = tuple(sorted((t["content"] for t in added), key=len, reverse=True))
    sentinels = {_SENTINEL_BASE + i: f" {token} " for i, token in enumerate(special_tokens)}
    return WordPieceSpec(
        vocab_file=vocab_file,
        unk_token=model["unk_token"],
        suffix_indicator=model["continuing_subword_prefix"],
        max_chars_per_word=model["max_input_chars_per_word"],
        special_tokens=special_tokens,
        cls_id=reference.cls_token_id,
        sep_id=reference.sep_token_id,
        pad_id=reference.pad_token_id,
        char_table=_cached_char_table(backend, sentinels),
    )


def _cached_char_table(backend, sentinels: Dict[int, str]) -> CharTable:
    """build_char_table's result, kept on this machine's disk: building it runs all 1.1M code points through
    the reference (~6 s), in every process that tokenizes (each pipeline run, the drift check, the report).
    Keyed by the reference tokenizer's whole configuration, the sentinels, the tokenizers library's version and
    this module's code, so any change builds it again; written whole or not at all."""
    import hashlib
    import tempfile

    import tokenizers

    with open(__file__, "rb") as f:
        code = f.read()
    key = hashlib.sha256(json.dumps([backend.to_str(), sorted(sentinels.items()), tokenizers.__version__]).encode()
                         + code).hexdigest()[:24]
    path = os.path.join(tempfile.gettempdir(), "bert-wordpiece-tables", f"{key}.npz")
    if os.path.exists(path):
        with np.load(path) as stored:
            return CharTable(stored["starts"], stored["kinds"],
                             dict(json.loads(str(stored["explicit"]))))
    table = build_char_table(backend.normalizer, backend.pre_tokenizer, sentinels)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staging = f"{path}.{os.getpid()}.npz"
    np.savez(staging, starts=table.range_starts, kinds=table.range_kinds,
             explicit=json.dumps(sorted(table.explicit.items())))
    os.replace(staging, path)
    return table


class BertGraphTokenizer(tf.Module):
    """Tokenizes a batch of texts into BERT model inputs with TensorFlow ops only.

    A tf.Module, so that a SavedModel holding it restores its tables once at load time and exports
    vocab.txt as an asset (in preprocessing_fn, create it with tft.make_and_track_object).
    """

    def __init__(self, spec: WordPieceSpec):
        super().__init__(name="bert_graph_tokenizer")
        self._spec = spec
        table = spec.char_table
        self._range_starts = tf.constant(table.range_starts)
        self._range_kinds = tf.constant(table.range_kinds)
        # What each code point becomes, as code points: row `kind` for DELETE, IDENTITY, ISOLATE and SPACE
        # (-1 stands for the code point itself), row EXPLICIT + i for the i-th explicit replacement. Working
        # on code points, each text is encoded back to UTF-8 once, not one string per character.
        explicit_points = list(table.explicit)
        rows = [[], [-1], [32, -1, 32], [32]] + [[ord(c) for c in table.explicit[p]] for p in explicit_points]
        self._replacements = tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1)
        self._explicit_row = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(explicit_points, tf.int64),
                tf.constant(list(range(EXPLICIT, EXPLICIT + len(explicit_points))), tf.int64)),
            default_value=DELETE)
        # Words are already split; the byte limit only has to be above any word we let through.
        self._wordpiece = tf_text.WordpieceTokenizer(
            spec.vocab_file, suffix_indicator=spec.suffix_indicator,
            max_bytes_per_word=4 * spec.max_chars_per_word, token_out_type=tf.int64,
            unknown_token=spec.unk_token)

    def _mark_special_tokens(self, texts: tf.Tensor) -> tf.Tensor:
        tokens = self._spec.special_tokens
        if not tokens:
            return texts
        texts = tf.strings.regex_replace(
            texts, f"[\\x{{{_SENTINEL_BASE:X}}}-\\x{{{_SENTINEL_BASE + len(tokens) - 1:X}}}]", "")
        for i, token in enumerate(tokens):
            texts = tf.strings.regex_replace(texts, re.escape(token), chr(_SENTINEL_BASE + i))
        return texts

    def normalize(self, texts: tf.Tensor) -> tf.Tensor:
        """Applies the reference normalizer and marks word boundaries with single spaces."""
        texts = self._mark_special_tokens(texts)
        code_points = tf.strings.unicode_decode(texts, "UTF-8", errors="replace")
        flat = code_points.flat_values
        kind = tf.gather(self._range_kinds,
                         tf.searchsorted(self._range_starts, flat, side="right") - 1)
        explicit_row = tf.cast(self._explicit_row.lookup(tf.cast(flat, tf.int64)), tf.int32)
        row = tf.where(kind == EXPLICIT, explicit_row, kind)
        pieces = tf.gather(self._replacements, row)
        own = tf.repeat(flat, pieces.row_lengths())
        pieces = pieces.with_flat_values(tf.where(pieces.flat_values < 0, own, pieces.flat_values))
        per_text = tf.RaggedTensor.from_row_splits(pieces, code_points.row_splits, validate=False).merge_dims(1, 2)
        return tf.strings.unicode_encode(per_text, "UTF-8")

    def words(self, texts: tf.Tensor) -> tf.RaggedTensor:
        # On the flat words: a tf.where on the ragged tensor would broadcast the [UNK] scalar through ragged
        # shapes, ~1,000 more graph ops to trace, save and load in every Transform, Trainer and server.
        return tf.ragged.map_flat_values(self._unknown_if_too_long, tf.strings.split(self.normalize(texts)))

    def _unknown_if_too_long(self, words: tf.Tensor) -> tf.Tensor:
        too_long = tf.strings.length(words, unit="UTF8_CHAR") > self._spec.max_chars_per_word
        return tf.where(too_long, self._spec.unk_token, words)

    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """Word-piece ids per text, without special tokens: shape [batch, (tokens)]."""
        return self._wordpiece.tokenize(self.words(texts)).merge_dims(-2, -1)

    def encode(self, texts: tf.Tensor, max_seq_length: int) -> Dict[str, tf.Tensor]:
        """[CLS] ids [SEP], truncated to max_seq_length and padded: what the model takes."""
        return self._model_inputs([self.tokenize(texts)[:, : max_seq_length - 2]], max_seq_length)

    def encode_pair(self, texts: tf.Tensor, pairs: tf.Tensor, max_seq_length: int) -> Dict[str, tf.Tensor]:
        """[CLS] a [SEP] b [SEP] with token_type_ids 0 then 1, cut to max_seq_length as the reference cuts
        a pair (truncation="longest_first"), and padded."""
        first, second = self.tokenize(texts), self.tokenize(pairs)
        keep_first, keep_second = longest_first(first.row_lengths(), second.row_lengths(), max_seq_length - 3)
        return self._model_inputs([_head(first, keep_first), _head(second, keep_second)], max_seq_length)

    def encode_windows(self, texts: tf.Tensor, max_seq_length: int,
                       stride: int) -> Tuple[Dict[str, tf.Tensor], tf.Tensor]:
        """A long text as overlapping windows, each [CLS] piece [SEP] and padded, as the reference splits it
        (return_overflowing_tokens=True, stride): windows of max_seq_length - 2 word pieces, each starting
        that many minus `stride` after the one before, until one reaches the text's end. Returns the windows
        ([windows, max_seq_length] each, the texts' in order) and the number of windows of each text."""
        tokens = self.tokenize(texts)
        lengths = tokens.row_lengths()
        counts = windows.count(lengths, max_seq_length, stride)
        text = tf.repeat(tf.range(tf.size(counts, out_type=tf.int64)), counts)
        start = tf.ragged.range(counts).flat_values * windows.step(max_seq_length, stride)
        size = tf.minimum(tf.gather(lengths, text) - start, max_seq_length - 2)
        offsets = tf.repeat(tf.gather(tokens.row_starts(), text) + start, size)
        flat = tf.gather(tokens.flat_values, offsets + tf.ragged.range(size).flat_values)
        pieces = tf.RaggedTensor.from_row_lengths(flat, size, validate=False)
        return self._model_inputs([pieces], max_seq_length), counts

    def _model_inputs(self, segments: List[tf.RaggedTensor], max_seq_length: int) -> Dict[str, tf.Tensor]:
        """[CLS] segment [SEP] (segment [SEP])..., the i-th segment and its [SEP] of token type i, padded.

        Each piece is scattered to its place in the padded tensors: concatenating ragged rows costs ~150
        graph ops per tensor, traced in Transform, saved, loaded and run by every request."""
        rows = segments[0].nrows()
        every_row = tf.range(rows)
        filled = tf.zeros([rows], tf.int64)  # per row: the tokens placed so far
        indices, ids, types = [], [], []

        def place(row, position, values, token_type):
            indices.append(tf.stack([row, position], axis=1))
            ids.append(values)
            types.append(tf.fill(tf.shape(row), tf.constant(token_type, tf.int64)))

        place(every_row, filled, tf.fill([rows], tf.constant(self._spec.cls_id, tf.int64)), 0)
        filled += 1
        for token_type, segment in enumerate(segments):
            row = segment.value_rowids()
            start = tf.gather(filled - segment.row_starts(), row)  # the row's place minus its flat start
            place(row, start + tf.range(tf.size(row, out_type=tf.int64)), segment.flat_values, token_type)
            filled += segment.row_lengths()
            place(every_row, filled, tf.fill([rows], tf.constant(self._spec.sep_id, tf.int64)), token_type)
            filled += 1
        indices, shape = tf.concat(indices, 0), tf.stack([rows, max_seq_length])

        def padded(base, values):
            return tf.ensure_shape(tf.tensor_scatter_nd_update(base, indices, tf.concat(values, 0)),
                                   [None, max_seq_length])

        return {
            "input_ids": padded(tf.fill(shape, tf.constant(self._spec.pad_id, tf.int64)), ids),
            "attention_mask": tf.cast(tf.range(max_seq_length, dtype=tf.int64) < filled[:, None], tf.int64),
            "token_type_ids": padded(tf.zeros(shape, tf.int64), types),
        }


def longest_first(first: tf.Tensor, second: tf.Tensor, budget: int) -> Tuple[tf.Tensor, tf.Tensor]:
    """How many tokens of each text of a pair to keep, given their lengths and the tokens left beside the
    special ones: Hugging Face tokenizers' "longest_first" rule. A pair that fits is kept whole; otherwise
    the shorter text is kept whole when it takes at most half, the longer one cut to what is left; else both
    are cut to half, the longer (the second on a tie) taking the odd token."""
    budget = tf.cast(budget, first.dtype)
    swap = first > second
    short = tf.minimum(first, second)
    long_keep = tf.where(short > budget, short, tf.maximum(short, budget - short))
    halves = short + long_keep > budget
    short_keep = tf.where(halves, budget // 2, short)
    long_keep = tf.where(halves, budget // 2 + budget % 2, long_keep)
    fits = first + second <= budget
    keep_first = tf.where(fits, first, tf.where(swap, long_keep, short_keep))
    keep_second = tf.where(fits, second, tf.where(swap, short_keep, long_keep))
    return tf.minimum(keep_first, first), tf.minimum(keep_second, second)


def _head(ids: tf.RaggedTensor, keep: tf.Tensor) -> tf.RaggedTensor:
    """Each row's first keep[i] ids (computed on the flat ids: ragged broadcasting is many more graph ops)."""
    lengths = ids.row_lengths()
    position = tf.ragged.range(lengths).flat_values
    kept = tf.boolean_mask(ids.flat_values, position < tf.repeat(keep, lengths))
    return tf.RaggedTensor.from_row_lengths(kept, tf.minimum(lengths, keep), validate=False)
