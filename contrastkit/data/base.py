"""The one container every image dataset in contrastkit returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor


@dataclass
class ImageData:
    """A small image dataset held as tensors (on any device).

    Attributes:
        x: images, ``(N, C, H, W)`` float32 in ``[0, 1]``.
        y: class labels, ``(N,)`` int64.
        classes: class names, ``len(classes) == y.max() + 1``.
        factors: ground-truth generative factors, each ``(N, ...)`` (empty for real data).
        name: the dataset's name, e.g. ``"shapes"``.
    """

    x: Tensor
    y: Tensor
    classes: list[str]
    factors: dict[str, Tensor] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if self.x.ndim != 4:
            raise ValueError(f"x must be (N, C, H, W), got shape {tuple(self.x.shape)}")
        if self.y.ndim != 1 or self.y.shape[0] != self.x.shape[0]:
            raise ValueError(
                f"y must be (N,) with N={self.x.shape[0]} matching x, got {tuple(self.y.shape)}"
            )

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to(self, device: torch.device | str) -> ImageData:
        """The same data on ``device`` (factors move too)."""
        return replace(
            self,
            x=self.x.to(device),
            y=self.y.to(device),
            factors={k: v.to(device) for k, v in self.factors.items()},
        )

    def subset(self, index: Tensor | slice) -> ImageData:
        """Rows ``index`` of every tensor."""
        return replace(
            self,
            x=self.x[index],
            y=self.y[index],
            factors={k: v[index] for k, v in self.factors.items()},
        )

    def split(self, n_test: int, seed: int = 0) -> tuple[ImageData, ImageData]:
        """A seeded random (train, test) split with ``n_test`` test images."""
        if not 0 < n_test < len(self):
            raise ValueError(f"n_test must be in (0, {len(self)}), got {n_test}")
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(self), generator=g).to(self.x.device)
        return self.subset(perm[n_test:]), self.subset(perm[:n_test])
