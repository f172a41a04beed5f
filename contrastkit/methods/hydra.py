"""Hydra (SimLAP in its code): any two classes can be a positive pair, inside a learned subspace.

Reference: Jiantao Wu, Sara Atito, Zhenhua Feng, Shentong Mo, Josef Kittler, Muhammad Awais,
"Rethinking Positive Pairs in Contrastive Learning", arXiv 2024,
https://arxiv.org/abs/2410.18200 (code: ``simlap.py`` in erow/vitookit).

    v1, v2 = aug(x), aug(x)                 two views of every image, labels y
    z = g(f(cat[v1, v2]))                   2N projected embeddings, unit-normalised: u
    b = pair(y)                             the class each anchor is paired with: arbitrary
                                            (a shuffle of the batch's labels), distinct (b != a)
                                            or identical (b = a, close to SupCon)
    gate = sigmoid(MLP((E[a] + E[b]) / 2))  a learned label embedding E; gate in (0, 1)^D
    s_ij = (gate_i * u_i) . (gate_i * u_j) / t
    loss = mean_(i, p) [ log(e^{s_ip} + sum_n e^{s_in}) - s_ip ]
                                            p: samples of class b; n: samples of neither a nor b

As in the code, the embeddings are normalised *before* the gate and the gated vectors are not
normalised again: closing dimensions also shrinks the anchor's logits (a softer temperature).

A snake and a lamp have little in common, but something (a shape, a texture): the gate picks
the dimensions where the pair is pulled together, and only there. Every class is pulled towards
many others, each in its own subspace; the paper argues that the embedding then cannot fold into
C - 1 directions as a SupCon embedding does ("dimensional collapse") and that the gates say which
classes share what. Without the gate, pulling arbitrary classes together in the whole space
tangles the classes. The method needs class labels: it is supervised, not self-supervised. At
toy scale (``notebooks/02_negatives_positives/04_hydra.ipynb``) the gate's benefit holds, the
collapse claim does not show: SupCon does not collapse there, and Hydra's effective rank is
about 0.8x SupCon's.

Scaled down: an MLP (digits) or a small ConvNet instead of ResNet-18 / ViT; the gate's label
embedding is 16-d and its MLP 64 wide instead of 512 and 1,024; a projector of 64-d instead of
256-d; two augmented views per image (the code uses one, its batch from a standard supervised
loader) so that the budget matches SimCLR's; the code's online classifier on detached features
is dropped (we read the encoder with a linear probe after training).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..losses import class_pair_nce
from ..models import MLP, projection_head
from ..utils import eval_mode
from .base import Example, Method

PAIRINGS = ("arbitrary", "distinct", "identical")


def pair_labels(
    y: Tensor,
    num_classes: int,
    pairing: str = "arbitrary",
    generator: torch.Generator | None = None,
) -> Tensor:
    """The class each anchor is paired with.

    Args:
        y: ``(N,)`` integer labels in ``[0, num_classes)``.
        pairing: ``"arbitrary"`` (the batch's labels shuffled: mostly other classes when there
            are many), ``"distinct"`` (a uniformly random *other* class) or ``"identical"``
            (the anchor's own class).
        generator: optional ``torch.Generator`` for the random draws (on ``y``'s device).
    """
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")
    if pairing == "identical":
        return y.clone()
    if pairing == "arbitrary":
        return y[torch.randperm(y.shape[0], device=y.device, generator=generator)]
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2 for distinct pairs, got {num_classes}")
    shift = torch.randint(1, num_classes, y.shape, device=y.device, generator=generator)
    return (y + shift) % num_classes


class PairGate(nn.Module):
    """``gate(a, b) = sigmoid(MLP((E[a] + E[b]) / 2))``: which dimensions classes a and b share.

    The code's ``BasicGate`` (fused form): a label embedding ``E``, then ``ReLU -> BN -> Linear
    -> ReLU -> BN -> Linear``. Symmetric in ``a`` and ``b`` by construction.

    Args:
        dim: the gated embedding's size D. num_classes: C. label_dim: size of ``E``'s rows.
        hidden: the MLP's width.
    """

    def __init__(self, dim: int, num_classes: int, label_dim: int = 16, hidden: int = 64) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.label_embedding = nn.Embedding(num_classes, label_dim)
        self.mlp = nn.Sequential(
            nn.ReLU(),
            nn.BatchNorm1d(label_dim),
            nn.Linear(label_dim, hidden),
            nn.ReLU(),
            nn.BatchNorm1d(hidden),
            nn.Linear(hidden, dim),
        )

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        e = (self.label_embedding(a) + self.label_embedding(b)) / 2  # (N, label_dim)
        return self.mlp(e).sigmoid()  # (N, D)


class Hydra(Method):
    """Encoder + projector + pair gate, trained with :func:`class_pair_nce` on two views.

    Args:
        encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        num_classes: number of classes C (the gate embeds each).
        proj_dim: output size of the projection head (the gated space).
        temperature: the loss's ``t``; 0.1 in the paper's code.
        pairing: ``"arbitrary"``, ``"distinct"`` or ``"identical"`` (see :func:`pair_labels`).
        gated: False replaces the gate with ones (the ablation: pairs pulled together in the
            whole space).
        label_dim, gate_hidden: the gate's sizes.
        augment: an ``AugmentConfig`` or preset name for the views.

    The batch is ``(x, y)``: images ``(N, C, H, W)`` and integer labels ``(N,)``.

    Example:
        >>> model = Hydra(SmallConvNet(), num_classes=10, pairing="distinct")
        >>> hist = fit(model, shapes, steps=200)        # shapes: an ImageData
    """

    input_kind = "class_labelled_images"  # (x, y); built with the number of classes

    def __init__(
        self,
        encoder: nn.Module,
        num_classes: int,
        proj_dim: int = 64,
        temperature: float = 0.1,
        pairing: str = "arbitrary",
        gated: bool = True,
        label_dim: int = 16,
        gate_hidden: int = 64,
        augment: AugmentConfig | str = "simclr",
    ) -> None:
        super().__init__()
        if pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")
        self.encoder = encoder
        self.projector = projection_head(encoder.out_dim, out_dim=proj_dim)
        self.gate = PairGate(proj_dim, num_classes, label_dim, gate_hidden) if gated else None
        self.num_classes = num_classes
        self.temperature = temperature
        self.pairing = pairing
        self.augment = augment

    def loss(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError(
                "Hydra needs labelled batches (x, y): pass an ImageData (or a tuple (x, y)) to "
                "fit, not a bare tensor"
            )
        x, y = batch[0], batch[1]  # (N, C, H, W), (N,)
        v1, v2 = views(x, 2, self.augment)
        z = self.projector(self.encoder(torch.cat([v1, v2])))  # (2N, proj_dim)
        b = pair_labels(y, self.num_classes, self.pairing)  # (N,): one partner class per image
        a, b = torch.cat([y, y]), torch.cat([b, b])  # both views of an image share the pair
        gates = self.gate(a, b) if self.gate is not None else None  # (2N, proj_dim)
        return class_pair_nce(z, a, b, gates, self.temperature)

    def embed(self, x: Tensor) -> Tensor:
        """The representation used downstream: the encoder's output, before the projector."""
        return self.encoder(x)

    @torch.no_grad()
    def project(self, x: Tensor) -> Tensor:
        """The unit-normalised projections ``u`` (the space the gates act on), ``(N, proj_dim)``."""
        with eval_mode(self):
            return F.normalize(self.projector(self.encoder(x)), dim=1)

    @torch.no_grad()
    def gate_table(self) -> Tensor:
        """The gate of every class pair, ``(C, C, proj_dim)`` (ones when ``gated=False``)."""
        c, dim = self.num_classes, self.projector[-1].out_features
        device = self.projector[-1].weight.device
        if self.gate is None:
            return torch.ones(c, c, dim, device=device)
        a, b = torch.meshgrid(
            torch.arange(c, device=device), torch.arange(c, device=device), indexing="ij"
        )
        with eval_mode(self.gate):  # BatchNorm's running statistics, not this table's
            return self.gate(a.flatten(), b.flatten()).view(c, c, dim)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        x, y = torch.rand(12, 1, 8, 8, generator=g), torch.arange(12) % 3
        model = cls(MLP(64, (32,), 16), num_classes=3, proj_dim=8, augment="digits")
        return Example(model, (x, y), x)


def gate_overlap(table: Tensor) -> Tensor:
    """``(C, C)`` cosine between two classes' gate profiles: a class graph read from the gates.

    A class's profile is its squared gate averaged over all partner classes,
    ``mean_b g(a, b)^2`` (the weight each dimension gets when ``a`` is compared with anything):
    two classes whose comparisons use the same dimensions get a cosine near 1.
    """
    if table.ndim != 3 or table.shape[0] != table.shape[1]:
        raise ValueError(f"table must have shape (C, C, D), got {tuple(table.shape)}")
    profile = F.normalize(table.square().mean(dim=1), dim=1)  # (C, D)
    return profile @ profile.T


METHOD = Hydra
