"""The IFND notebook's explorer: how precise the detected false negatives are, per trust and k.

``readout(z, truth, fraction, k)`` clusters fixed embeddings ``z`` into ``k`` groups, trusts the
``fraction`` of samples closest to their centroid, and reports the detected pairs' precision and
recall against the true classes (``contrastkit.methods.ifnd.detection_quality``).
"""

from __future__ import annotations

from torch import Tensor

from ..methods.ifnd import detection_quality, pseudo_labels

__all__ = ["readout"]


def readout(z: Tensor, truth: Tensor, fraction: float, k: int, seed: int = 0) -> str:
    """One line of HTML: precision (and chance) and recall when ``fraction`` is trusted at ``k``.

    Args:
        z: ``(N, D)`` embeddings to cluster (e.g. ``IFND.project(x)``, on the CPU).
        truth: ``(N,)`` true classes (only to score the detections).
        fraction: the share of samples whose cluster is trusted, in [0, 1].
        k: clusters. seed: the k-means seed.
    """
    q = detection_quality(pseudo_labels(z, k, fraction, seed=seed), truth)
    return (
        f"trust {fraction:.0%} of samples, k={k}: precision {q['precision']:.2f} "
        f"(chance {q['chance']:.2f}), recall {q['recall']:.3f}"
    )
