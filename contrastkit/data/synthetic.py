"""Small synthetic data with a known structure, for claims that need no images.

* :func:`make_hierarchy` — vectors with a two-level class hierarchy (coarse classes split into
  fine sub-classes) plus a per-sample *style* that views keep and *noise* that views redraw
  (:func:`hierarchy_view`). Used by the ``mugs`` notebook: which granularity does a method keep?
* :func:`make_part_scenes` — grids of "part" codes whose co-occurrence depends on the scene
  class; :func:`random_crop` cuts the student's window, :func:`part_presence` says which part
  types a grid holds. Used by the ``obow`` notebook: can a crop's embedding tell which parts are
  in the scene outside it?

Both are seeded (a CPU generator: the same tensors on any machine) and take a second or less.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "HierarchyData",
    "PartScenes",
    "hierarchy_view",
    "make_hierarchy",
    "make_part_scenes",
    "part_presence",
    "random_crop",
]


def _positive(**values: int) -> None:
    for name, v in values.items():
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


@dataclass
class HierarchyData:
    """Vectors ``x (n, content + style + noise)`` with coarse labels and fine sub-class labels.

    ``fine // n_fine == coarse``; ``keep = content + style`` is how many leading coordinates a
    view keeps (see :func:`hierarchy_view`).
    """

    x: Tensor
    coarse: Tensor
    fine: Tensor
    keep: int


def make_hierarchy(
    n: int,
    *,
    n_coarse: int = 10,
    n_fine: int = 3,
    content: int = 8,
    style: int = 8,
    noise: int = 16,
    offset_scale: float = 0.6,
    within_scale: float = 0.4,
    seed: int = 0,
) -> HierarchyData:
    """Vectors of three parts: class *content*, per-sample *style*, and *noise*.

    content = coarse centre (N(0, I)) + sub-class offset (``offset_scale`` N(0, I)) + within-
    class noise (``within_scale`` N(0, I)); style ~ N(0, I) per sample, unrelated to any label;
    noise ~ N(0, I). The fine label is uniform over ``n_coarse * n_fine`` sub-classes.

    Raises:
        ValueError: a size that is not a positive integer (the message names it).
    """
    _positive(n=n, n_coarse=n_coarse, n_fine=n_fine, content=content, style=style, noise=noise)
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_coarse, content, generator=g)
    offsets = offset_scale * torch.randn(n_coarse, n_fine, content, generator=g)
    fine = torch.randint(0, n_coarse * n_fine, (n,), generator=g)
    coarse = fine // n_fine
    within = within_scale * torch.randn(n, content, generator=g)
    parts = [centres[coarse] + offsets[coarse, fine % n_fine] + within]
    parts += [torch.randn(n, style, generator=g), torch.randn(n, noise, generator=g)]
    return HierarchyData(torch.cat(parts, 1), coarse, fine, keep=content + style)


def hierarchy_view(x: Tensor, keep: int, jitter: float = 0.1) -> Tensor:
    """A random view: the first ``keep`` coordinates survive with a little jitter, the rest
    (the noise) is redrawn, like a background that augmentation replaces."""
    if not 0 < keep <= x.shape[-1]:
        raise ValueError(f"keep must be in (0, {x.shape[-1]}], got {keep}")
    kept = x[:, :keep] + jitter * torch.randn_like(x[:, :keep])
    return torch.cat([kept, torch.randn_like(x[:, keep:])], 1)


@dataclass
class PartScenes:
    """Scenes ``x (n, channels, grid, grid)``, part ids ``ids (n, grid, grid)`` (-1: empty) and
    scene classes ``y``; ``kinds[c]`` are the part types class ``c`` draws from."""

    x: Tensor
    ids: Tensor
    y: Tensor
    codes: Tensor
    kinds: Tensor

    @property
    def n_parts(self) -> int:
        return self.codes.shape[0]


def make_part_scenes(
    n: int,
    *,
    grid: int = 6,
    channels: int = 8,
    n_parts: int = 12,
    n_classes: int = 6,
    parts_per_scene: int = 5,
    parts_per_class: int = 3,
    code_norm: float = 1.5,
    cell_noise: float = 0.3,
    seed: int = 0,
) -> PartScenes:
    """Grids of part codes whose co-occurrence depends on the scene class.

    Each part type has a random code of norm ``code_norm``; class ``c`` owns
    ``parts_per_class`` part types (classes may share some); a scene of class ``c`` places
    ``parts_per_scene`` parts drawn from them in distinct random cells; every cell gets
    ``cell_noise`` Gaussian noise.

    Raises:
        ValueError: a size that is not a positive integer, or more parts than cells.
    """
    _positive(
        n=n,
        grid=grid,
        channels=channels,
        n_parts=n_parts,
        n_classes=n_classes,
        parts_per_scene=parts_per_scene,
        parts_per_class=parts_per_class,
    )
    if parts_per_scene > grid * grid:
        raise ValueError(f"parts_per_scene ({parts_per_scene}) exceeds the {grid * grid} cells")
    if parts_per_class > n_parts:
        raise ValueError(f"parts_per_class ({parts_per_class}) exceeds n_parts ({n_parts})")
    g = torch.Generator().manual_seed(seed)
    codes = code_norm * F.normalize(torch.randn(n_parts, channels, generator=g), dim=1)
    kinds = torch.stack(
        [torch.randperm(n_parts, generator=g)[:parts_per_class] for _ in range(n_classes)]
    )
    y = torch.randint(0, n_classes, (n,), generator=g)
    pick = torch.randint(0, parts_per_class, (n, parts_per_scene), generator=g)
    parts = kinds[y][torch.arange(n)[:, None], pick]  # (n, parts_per_scene) part types
    cells = torch.rand(n, grid * grid, generator=g).argsort(1)[:, :parts_per_scene]
    ids = torch.full((n, grid * grid), -1).scatter_(1, cells, parts)
    x = cell_noise * torch.randn(n, grid * grid, channels, generator=g)
    x[ids >= 0] += codes[ids[ids >= 0]]
    x = x.transpose(1, 2).reshape(n, channels, grid, grid)
    return PartScenes(x, ids.reshape(n, grid, grid), y, codes, kinds)


def random_crop(
    x: Tensor, size: int, generator: torch.Generator | None = None, noise: float = 0.1
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """A random ``size x size`` window of every grid in ``x (n, C, G, G)``, plus noise.

    Returns the windows ``(n, C, size, size)`` and their top-left corners ``(i, j)``.
    """
    n, grid = len(x), x.shape[-1]
    if not 0 < size <= grid:
        raise ValueError(f"size must be in (0, {grid}], got {size}")
    i = torch.randint(0, grid - size + 1, (n,), generator=generator).to(x.device)
    j = torch.randint(0, grid - size + 1, (n,), generator=generator).to(x.device)
    r = torch.arange(size, device=x.device)
    rows, cols = (i[:, None] + r)[:, :, None], (j[:, None] + r)[:, None, :]
    window = x[torch.arange(n, device=x.device)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    window = window + noise * torch.randn(window.shape, generator=generator).to(x.device)
    return window, (i, j)


def part_presence(ids: Tensor, n_parts: int) -> Tensor:
    """``(n, n_parts)`` bool: which part types occur in each grid of part ids."""
    return torch.stack([(ids == p).flatten(1).any(1) for p in range(n_parts)], 1)
