"""MoCo v2: negatives from a queue of past keys, encoded by a slowly moving copy of the network.

References: Xinlei Chen, Haoqi Fan, Ross Girshick, Kaiming He, "Improved Baselines with Momentum
Contrastive Learning" (MoCo v2), 2020, https://arxiv.org/abs/2003.04297; Kaiming He, Haoqi Fan,
Yuxin Wu, Saining Xie, Ross Girshick, "Momentum Contrast for Unsupervised Visual Representation
Learning" (MoCo v1), CVPR 2020, https://arxiv.org/abs/1911.05722.

    v1, v2 = aug(x), aug(x)                   two views of every image
    q = g(f(v1))                              query: encoder + projector (trained)
    k = g_k(f_k(v2))                          key: the momentum copy (no gradient)
    loss = InfoNCE(q, k; negatives = queue; t)     pick k among {k} + K queued keys
    after the step:  theta_k <- m theta_k + (1 - m) theta_q;   queue <- push(k), drop oldest

The number of negatives K is decoupled from the batch size: a batch of 32 can be contrasted
against thousands of keys from earlier batches. The momentum keeps those old keys consistent
with the current ones (a fast-changing key encoder would make the queue stale).

Scaled down: a 16-32-64-128 ConvNet instead of ResNet-50, batch 32 to a few hundred instead of
256, a queue of hundreds to a few thousand instead of 65,536, momentum 0.99 instead of 0.999
(a few hundred steps, not 200 epochs: the key encoder must keep up), Adam instead of SGD.
Shuffling BN is replaced by a single-device equivalent (``key_splits``): the key batch is
shuffled and encoded in sub-batches, so a key's BN statistics never come from the exact set of
images that produced its query's statistics, which would let the model match pairs by batch
statistics instead of content.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..blocks import MomentumEncoder, Queue
from ..distributed import gather_with_grad
from ..losses import info_nce
from .base import Example, TwoViewMethod, images


class MoCo(TwoViewMethod):
    """Query encoder + projector trained by InfoNCE against a momentum key encoder and a queue.

    Args:
        encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        proj_dim: output size of the projection head (MoCo v2's MLP head; 128 in the paper).
        queue_size: K, the number of queued negatives (65,536 in the paper). 0 switches the
            queue off: the other keys of the batch are the negatives (the in-batch ablation,
            SimCLR-style negatives with everything else kept).
        momentum: m of the key encoder's EMA (0.999 in the paper; lower for short runs).
        temperature: InfoNCE's t (0.2 in MoCo v2).
        augment: an ``AugmentConfig`` or preset name for the views.
        symmetric: also use view 2 as the query and view 1 as the key (both directions' keys
            enter the queue). Off in MoCo v2; it doubles the training signal per image.
        key_splits: the key batch is shuffled and encoded in this many sub-batches (the
            single-device stand-in for MoCo's shuffling BN). 1 switches it off.

    Unlike its siblings, the two views go through different networks (the query path and the
    momentum key encoder), so MoCo writes ``loss`` itself; ``TwoViewMethod`` gives it the
    encoder, the projector, the augmentation and ``embed``.

    Example:
        >>> model = MoCo(SmallConvNet(), queue_size=1024, momentum=0.99)
        >>> hist = ck.fit(model, shapes.x, steps=500, batch_size=32)
    """

    def __init__(
        self,
        encoder: nn.Module,
        proj_dim: int = 64,
        queue_size: int = 1024,
        momentum: float = 0.99,
        temperature: float = 0.2,
        augment: AugmentConfig | str = "simclr",
        symmetric: bool = False,
        key_splits: int = 2,
    ) -> None:
        if key_splits < 1:
            raise ValueError(f"key_splits must be >= 1, got {key_splits}")
        if queue_size < 0:
            raise ValueError(f"queue_size must be >= 0 (0: in-batch negatives), got {queue_size}")
        super().__init__(encoder, proj_dim, augment)
        self.key_encoder = MomentumEncoder(self.online, momentum)  # a copy; never trained
        self.queue = Queue(queue_size, proj_dim) if queue_size else None
        self.temperature = temperature
        self.symmetric = symmetric
        self.key_splits = key_splits
        self._keys: Tensor | None = None  # this step's keys, queued by after_step

    @property
    def online(self) -> nn.Sequential:
        """The trained path, encoder then projector (what the key encoder tracks)."""
        return nn.Sequential(self.encoder, self.projector)

    @torch.no_grad()
    def keys(self, v: Tensor) -> Tensor:
        """Keys of a batch of views from the momentum encoder, ``(N, proj_dim)``, no gradient."""
        n = len(v)
        splits = min(self.key_splits, n // 2) if self.training else 1
        if splits <= 1:
            return self.key_encoder(v)
        perm = torch.randperm(n, device=v.device)
        k = torch.cat([self.key_encoder(part) for part in v[perm].chunk(splits)])
        return k[torch.argsort(perm)]  # back to the batch order

    def loss(self, batch: Tensor | tuple) -> Tensor:
        x = images(batch)  # (N, C, H, W)
        v1, v2 = views(x, 2, self.augment)
        # (M, D), M <= K: keys of earlier batches; with no queue, or an empty one (the first
        # step), None makes info_nce use the other keys of this batch instead
        negatives = None if self.queue is None else self.queue.get()
        negatives = negatives if negatives is not None and len(negatives) else None
        if self.symmetric:
            q = self.projector(self.encoder(torch.cat([v1, v2])))  # (2N, D)
            k = self.keys(torch.cat([v2, v1]))  # (2N, D): the partner view of each query
        else:
            q = self.projector(self.encoder(v1))  # (N, D)
            k = self.keys(v2)  # (N, D)
        self._keys = k
        return info_nce(q, k, negatives, self.temperature)

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        """Move the key encoder towards the query encoder, then enqueue this step's keys."""
        self.key_encoder.update(self.online)
        if self._keys is not None and self.queue is not None:
            # under torchrun every rank queues the keys of the global batch (same queue everywhere)
            self.queue.push(gather_with_grad(self._keys))
        self._keys = None

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import SmallConvNet

        torch.manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
        return Example(cls(SmallConvNet(widths=(8, 16)), proj_dim=16, queue_size=32), x, x)


def key_consistency(snapshots: Sequence[Tensor], lag: int) -> float:
    """How much a key written ``lag`` snapshots ago still agrees with today's key of the same input.

    The queue is only useful if its old keys are comparable with the current ones. Given the
    outputs of one network for the same fixed inputs, snapshotted at regular steps, this is the
    mean cosine similarity between every snapshot and the one ``lag`` snapshots before it (1: the
    keys did not move; about 0: an old key says nothing about today's).

    Args:
        snapshots: in step order, each ``(M, D)``: the network's outputs for the same M inputs.
        lag: distance in snapshots, >= 1.

    Returns:
        The mean over all pairs ``(t - lag, t)`` and over the M inputs.

    Raises:
        ValueError: for a lag below 1 or not shorter than the number of snapshots, or snapshots
            of different shapes.
    """
    if lag < 1 or lag >= len(snapshots):
        raise ValueError(f"lag must be in 1..{len(snapshots) - 1} (snapshots - 1), got {lag}")
    shapes = {tuple(z.shape) for z in snapshots}
    if len(shapes) != 1:
        raise ValueError(f"snapshots must all have one (M, D) shape, got {sorted(shapes)}")
    z = F.normalize(torch.stack([torch.as_tensor(s).float() for s in snapshots]), dim=-1)
    return float((z[lag:] * z[:-lag]).sum(-1).mean())


METHOD = MoCo
