"""The shipped linear sentiment model and its online correction, batch-native (numpy/scipy).

:class:`LinearSentiment` is the prior: weights trained offline on public labelled tweets
(pipeline/tools/sentiment_train.py), shipped as ``pipeline/data/sentiment_model.npz`` (float16,
compressed), scored as one sparse-dense product per batch.

:class:`OnlineLinear` is what a worker runs: the prior's weights moved by ops corrections (the
feedback topic) with AdaGrad on the softmax log-loss, one labelled post at a time. Only the
weights a correction touched differ from the prior, so a snapshot is those rows (with their
AdaGrad sums): small, and loading it is constant work whatever the length of the feedback
history, so a restarted worker does not relearn it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.models.sentiment_features import (
    CHAR_COLUMNS,
    N_FEATURES,
    Features,
    featurize,
)

N_CLASSES = 3


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


class LinearSentiment:
    """Logits = features @ weights + bias (already scaled to calibrated log-odds)."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray, version: str) -> None:
        if weights.shape != (N_FEATURES, N_CLASSES):
            raise ValueError(f"weights shape {weights.shape} != {(N_FEATURES, N_CLASSES)}")
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.version = version

    @classmethod
    def load(cls, path: Path) -> LinearSentiment:
        with np.load(path) as data:
            return cls(data["weights"], data["bias"], str(data["version"]))

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            weights=self.weights.astype(np.float16),
            bias=self.bias,
            version=np.array(self.version),
        )

    def logits(self, features: Features) -> np.ndarray:
        out: np.ndarray = features.dot(self.weights) + self.bias
        return out

    def proba_many(self, texts: Sequence[str]) -> np.ndarray:
        return softmax(self.logits(featurize(texts)))


class OnlineLinear:
    """The prior plus an online correction (AdaGrad, softmax log-loss), in place."""

    def __init__(self, prior: LinearSentiment, learning_rate: float = 0.1) -> None:
        self.prior = prior
        self.learning_rate = learning_rate
        self.weights = prior.weights.copy()
        self.bias = prior.bias.copy()
        self._g2 = np.zeros_like(self.weights)
        self._g2_bias = np.zeros_like(self.bias)
        self._touched = np.zeros(N_FEATURES, dtype=bool)
        self.learned = np.zeros(N_CLASSES, dtype=np.int64)

    @property
    def n_learned(self) -> int:
        return int(self.learned.sum())

    def logits(self, features: Features) -> np.ndarray:
        out: np.ndarray = features.dot(self.weights) + self.bias
        return out

    def learn_many(self, features: Features, labels: Sequence[int]) -> None:
        """One AdaGrad step per row, in order (each row sees the steps before it). Only the word
        and lexicon weights move: a post's ~300 character n-grams would make every correction
        touch (and every snapshot carry) ten times more rows for little gain."""
        for i, label in enumerate(labels):
            cols, values = features.row(i)
            learnable = (cols < CHAR_COLUMNS.start) | (cols >= CHAR_COLUMNS.stop)
            # A repeated n-gram is one column with its count (the product adds repeats up).
            cols, inverse = np.unique(cols[learnable], return_inverse=True)
            values = np.bincount(inverse, values[learnable]).astype(np.float32)
            z = values @ self.weights[cols] + self.bias
            p = softmax(z[None, :])[0]
            p[label] -= 1.0  # gradient of the log-loss w.r.t. the logits
            grad = np.outer(values, p).astype(np.float32)
            self._g2[cols] += grad * grad
            self.weights[cols] -= self.learning_rate * grad / np.sqrt(self._g2[cols] + 1e-8)
            self._g2_bias += p * p
            self.bias -= self.learning_rate * p / np.sqrt(self._g2_bias + 1e-8)
            self._touched[cols] = True
            self.learned[label] += 1

    def snapshot(self, meta: str = "") -> bytes:
        """The correction as compressed npz bytes: the touched rows' weights (as they are, not
        as moves from the prior, so a restore is exact) and AdaGrad sums, the bias, the label
        counts, and ``meta`` (the caller's, e.g. the feedback offsets learned up to)."""
        rows = np.flatnonzero(self._touched)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            prior=np.array(self.prior.version),
            meta=np.array(meta),
            rows=rows.astype(np.int32),
            weights=self.weights[rows],
            g2=self._g2[rows],
            bias=self.bias,
            g2_bias=self._g2_bias,
            learned=self.learned,
        )
        return buffer.getvalue()

    def restore(self, snapshot: bytes) -> str:
        """Back to the prior, then the snapshot's correction on top; returns its ``meta``."""
        with np.load(io.BytesIO(snapshot)) as data:
            if str(data["prior"]) != self.prior.version:
                raise ValueError(
                    f"snapshot is for prior {data['prior']}, this model is {self.prior.version}"
                )
            rows = data["rows"].astype(np.int64)
            self.weights = self.prior.weights.copy()
            self.weights[rows] = data["weights"]
            self._g2 = np.zeros_like(self.weights)
            self._g2[rows] = data["g2"]
            self._touched = np.zeros(N_FEATURES, dtype=bool)
            self._touched[rows] = True
            self.bias = data["bias"].astype(np.float32)
            self._g2_bias = data["g2_bias"].astype(np.float32)
            self.learned = data["learned"].astype(np.int64)
            return str(data["meta"])
