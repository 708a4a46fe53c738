"""The report's pictures: matplotlib figures as PNG data URIs, so the page needs nothing from the network."""
import base64
import io
from typing import Dict, List, Sequence

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402

_SIZE = (6.4, 3.2)


def _data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def token_lengths(lengths_by_split: Dict[str, Sequence[int]], edges: List[int], max_seq_length: int) -> str:
    figure, axes = plt.subplots(figsize=_SIZE)
    for split, lengths in lengths_by_split.items():
        clipped = [min(length, edges[-1] - 1) for length in lengths]  # the last bin holds the longer ones
        axes.hist(clipped, bins=edges, alpha=0.6, density=True, label=split)
    axes.axvline(max_seq_length, color="crimson", linestyle="--", label=f"max_seq_length {max_seq_length}")
    axes.set_xlabel("word pieces per text ([CLS] and [SEP] included)")
    axes.set_ylabel("share of texts")
    axes.legend()
    return _data_uri(figure)


def label_distribution(counts_by_split: Dict[str, Dict[str, int]]) -> str:
    labels = sorted({label for counts in counts_by_split.values() for label in counts})
    figure, axes = plt.subplots(figsize=_SIZE)
    width = 0.8 / max(len(counts_by_split), 1)
    for i, (split, counts) in enumerate(counts_by_split.items()):
        total = sum(counts.values()) or 1
        axes.bar([j + i * width for j in range(len(labels))], [counts.get(label, 0) / total for label in labels],
                 width=width, label=split)
    axes.set_xticks([j + width * (len(counts_by_split) - 1) / 2 for j in range(len(labels))], labels)
    axes.set_ylabel("share of the split")
    axes.legend()
    return _data_uri(figure)


def training_curves(curves: Dict[str, List[List[float]]], steps_per_epoch: int) -> str:
    """Loss and accuracy per logged step (train) and per epoch end (validation)."""
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(9.6, 3.2))
    for metric, axes in (("loss", loss_axes), ("accuracy", accuracy_axes)):
        for tag, style, label, scale in ((f"train/batch_{metric}", "-", "train (per logged step)", 1),
                                         (f"validation/epoch_{metric}", "o", "validation slice (epoch end)",
                                          steps_per_epoch)):
            points = curves.get(tag, [])
            if points:
                axes.plot([(step + (scale > 1)) * scale for step, _ in points], [v for _, v in points], style,
                          label=label)
        axes.set_xlabel("step")
        axes.set_title(metric)
        axes.legend()
    return _data_uri(figure)


def confusion_matrix(matrix: List[List[int]], class_names: List[str]) -> str:
    figure, axes = plt.subplots(figsize=(1.6 + 1.1 * len(class_names), 1.2 + 1.0 * len(class_names)))
    axes.imshow(matrix, cmap="Blues")
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axes.text(j, i, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
    axes.set_xticks(range(len(class_names)), class_names, rotation=30, ha="right")
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    return _data_uri(figure)
