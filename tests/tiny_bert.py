"""A tiny BERT checkpoint built here (2 layers, hidden 32), saved as transformers saves one, for the tests that
need the real loader and model code on something small enough to be exact and fast."""
import tf_keras

VOCAB, LENGTH = 64, 12


def tiny_checkpoint(directory, dropout: float = 0.0, **config) -> str:
    from transformers import BertConfig, TFBertModel

    settings = {"vocab_size": VOCAB, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                "intermediate_size": 64, "max_position_embeddings": LENGTH, "hidden_dropout_prob": dropout,
                "attention_probs_dropout_prob": dropout, **config}
    tf_keras.utils.set_random_seed(0)
    encoder = TFBertModel(BertConfig(**settings))
    encoder(encoder.dummy_inputs)
    encoder.save_pretrained(str(directory))
    return str(directory)


def training_settings(**overrides):
    """The Trainer's settings of the default configuration, with these fields replaced."""
    import dataclasses

    from pipeline import configs

    return dataclasses.replace(configs.PipelineConfig().trainer_settings(), **overrides)


def random_inputs(size: int, length: int = LENGTH, vocab: int = VOCAB, seed: int = 0, pairs: bool = False):
    """Model inputs of `size` token-id sequences of varied lengths (3 to `length`), padded to `length`; pairs:
    each sequence's second part of token type 1, as a sentence pair's second text and its [SEP]."""
    import numpy as np

    from contracts import features

    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, length + 1, size)
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int64)
    second = np.arange(length)[None, :] >= rng.integers(1, lengths)[:, None] if pairs else 0
    return {features.INPUT_IDS: rng.integers(1, vocab, (size, length)) * mask, features.ATTENTION_MASK: mask,
            features.TOKEN_TYPE_IDS: (mask * second).astype(np.int64)}
