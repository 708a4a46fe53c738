"""The graph tokenizer must produce exactly the ids of the checkpoint's own tokenizer."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preprocessing import tokenize

MAX_LEN = 512


@pytest.fixture(scope="module")
def encode(wordpiece_spec):
    tokenizer = tokenize.BertGraphTokenizer(wordpiece_spec)
    return tf.function(lambda texts: tokenizer.encode(texts, MAX_LEN),
                       input_signature=[tf.TensorSpec([None], tf.string)])


def graph_ids(encode, texts):
    out = encode(tf.constant(texts))
    ids, mask = out["input_ids"].numpy(), out["attention_mask"].numpy()
    return [row[: m.sum()].tolist() for row, m in zip(ids, mask)]


def mismatches(encode, reference_tokenizer, texts):
    expected = reference_tokenizer(texts, truncation=True, max_length=MAX_LEN)["input_ids"]
    got = [ids for start in range(0, len(texts), 2048) for ids in graph_ids(encode, texts[start:start + 2048])]
    return [(t, g, e) for t, g, e in zip(texts, got, expected) if g != e]


def test_whole_corpus_has_zero_mismatches(encode, reference_tokenizer, corpus):
    texts = [text for text, _ in corpus]
    assert len(texts) == 38158
    bad = mismatches(encode, reference_tokenizer, texts)
    assert bad == [], f"{len(bad)} mismatches, first: {bad[:3]}"


@pytest.mark.parametrize("text", [
    "hello [SEP] world[CLS]x [sep] [MASK][MASK]",  # special tokens are matched on the raw text
    "\U0010FF00 sentinel code points are deleted like other private-use characters \U0010FF01[UNK]",
    "İstanbul ǅ ß ﬁ ① Ａ Œ ŉ",  # NFKC case folding (TF Text) and lowercasing (reference) differ here
    "ctrl\x00\x01\x7f\x81 zero\u200bwidth\ufeff tab\tnl\nnbsp\xa0end",
    "中文字符 and 日本語 かな, 한국어",
    "x" * 100 + " " + "y" * 101 + " " + "é" * 101,  # word length is counted in characters, not bytes
    "", "   \t\n ",
])
def test_edge_cases(encode, reference_tokenizer, text):
    assert mismatches(encode, reference_tokenizer, [text]) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40), min_size=1,
                max_size=32))
def test_random_unicode_matches_reference(encode, reference_tokenizer, texts):
    assert mismatches(encode, reference_tokenizer, texts) == []


def test_truncates_to_max_seq_length_like_reference(wordpiece_spec, reference_tokenizer, corpus):
    texts = [text for text, _ in corpus[:500]] + ["word " * 300]
    out = tokenize.BertGraphTokenizer(wordpiece_spec).encode(tf.constant(texts), 24)
    expected = reference_tokenizer(texts, truncation=True, max_length=24, padding="max_length")
    np.testing.assert_array_equal(out["input_ids"].numpy(), np.array(expected["input_ids"]))
    np.testing.assert_array_equal(out["attention_mask"].numpy(), np.array(expected["attention_mask"]))
    np.testing.assert_array_equal(out["token_type_ids"].numpy(), np.array(expected["token_type_ids"]))


def test_rejects_a_non_wordpiece_tokenizer(tmp_path, checkpoint_dir):
    import json
    import shutil

    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(f"{checkpoint_dir}/{name}", tmp_path / name)
    tokenizer = json.load(open(f"{checkpoint_dir}/tokenizer.json"))
    tokenizer["pre_tokenizer"] = {"type": "Whitespace"}
    json.dump(tokenizer, open(tmp_path / "tokenizer.json", "w"))
    with pytest.raises(tokenize.UnsupportedTokenizerError, match="pre-tokenizer"):
        tokenize.load_wordpiece_spec(str(tmp_path))


# Sentence pairs: the corpus texts paired with one another, as made here (the corpus has no pairs).
@pytest.fixture(scope="module")
def encode_pair(wordpiece_spec):
    """encode_pair(texts, pairs, max_length), traced once per max_length (a trace takes seconds)."""
    tokenizer = tokenize.BertGraphTokenizer(wordpiece_spec)
    traced = {}

    def encode(texts, pairs, max_length):
        if max_length not in traced:
            traced[max_length] = tf.function(lambda a, b: tokenizer.encode_pair(a, b, max_length),
                                             input_signature=[tf.TensorSpec([None], tf.string)] * 2)
        return traced[max_length](texts, pairs)
    return encode


def pair_mismatches(encode_pair, reference_tokenizer, texts, pairs, max_length):
    expected = reference_tokenizer(texts, pairs, truncation="longest_first", max_length=max_length,
                                   padding="max_length")
    got = encode_pair(tf.constant(texts), tf.constant(pairs), max_length)
    return [(texts[i], pairs[i], name) for name in ("input_ids", "token_type_ids", "attention_mask")
            for i in np.flatnonzero((got[name].numpy() != np.array(expected[name])).any(axis=1))]


def test_corpus_pairs_match_the_reference(encode_pair, reference_tokenizer, corpus):
    texts = [text for text, _ in corpus[:3000]]
    pairs = texts[1:] + texts[:1]  # each text with the next: lengths on both sides of every cut
    # at 48: 581 pairs fit whole, 2419 are cut (1757 of them both to half)
    assert pair_mismatches(encode_pair, reference_tokenizer, texts, pairs, 48) == []


PAIR_LENGTHS = [3, 4, 9, 48]  # 3: the special tokens only; 4, 9: budgets 1 and 6


@pytest.mark.parametrize("text, pair", [
    ("a short first", ""), ("", "an empty first"), ("", ""),
    ("long " * 300, "short pair"), ("short first", "long " * 300), ("long " * 300, "longer " * 301),
    ("four words here now", "four more words here"), ("five words are here now", "four more words here"),
    ("[SEP] inside [CLS]", "x [SEP]"),
])
@pytest.mark.parametrize("max_length", PAIR_LENGTHS)
def test_pair_edge_cases_match_the_reference(encode_pair, reference_tokenizer, text, pair, max_length):
    assert pair_mismatches(encode_pair, reference_tokenizer, [text], [pair], max_length) == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=16),
       st.sampled_from(PAIR_LENGTHS))
def test_pair_cuts_of_any_lengths_match_the_reference(encode_pair, reference_tokenizer, lengths, max_length):
    texts = [" ".join(["a"] * first) for first, _ in lengths]
    pairs = [" ".join(["b"] * second) for _, second in lengths]
    assert pair_mismatches(encode_pair, reference_tokenizer, texts, pairs, max_length) == []
