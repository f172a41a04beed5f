"""Small synthetic data with a known structure, for claims that need no images.

* :func:`make_hierarchy` — vectors with a two-level class hierarchy (coarse classes split into
  fine sub-classes) plus a per-sample *style* that views keep and *noise* that views redraw
  (:func:`hierarchy_view`). Used by the ``mugs`` notebook: which granularity does a method keep?
* :func:`make_part_scenes` — grids of "part" codes whose co-occurrence depends on the scene
  class; :func:`random_crop` cuts the student's window, :func:`part_presence` says which part
  types a grid holds. Used by the ``obow`` notebook: can a crop's embedding tell which parts are
  in the scene outside it?
* :func:`make_volumes` — tiny 3-D volumes of an object drifting along ``z``; the volume class
  is the drift direction, the slices' 2-D class the object's shape. Used by the
  ``joint_image_volume`` notebook: a mean pool of slices cannot tell the direction.
* :func:`make_theme_songs` — toy melodies (pitch tokens) whose form repeats a theme, transposed
  and varied, between filler segments. Used by the ``theme_transformer`` notebook: retrieve the
  theme by clustering, and generate songs that keep it.

All are seeded (a CPU generator: the same tensors on any machine) and take a second or less.
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
    "paste_crop",
    "ThemeSongs",
    "make_theme_songs",
    "Volumes",
    "make_volumes",
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


def paste_crop(maps: Tensor, corners: tuple[Tensor, Tensor], grid: int) -> tuple[Tensor, Tensor]:
    """The inverse of :func:`random_crop`: put crop-frame maps back in the scene's frame.

    Dense methods compare two views pixel by pixel, which needs both in one frame (SlotCon's
    ``invaug``, RoIAlign in the papers). ``maps (n, K, s, s)`` computed on crops with top-left
    ``corners = (i, j)`` go into a zero ``(n, K, grid, grid)`` canvas; ``valid (n, grid, grid)``
    marks the cells the crop covered. Cells covered by two views: ``valid1 & valid2``.
    """
    n, k, size = maps.shape[0], maps.shape[1], maps.shape[-1]
    if maps.ndim != 4 or maps.shape[-2] != size or not 0 < size <= grid:
        raise ValueError(
            f"maps must be (n, K, s, s) with s <= grid={grid}, got {tuple(maps.shape)}"
        )
    i, j = corners
    r = torch.arange(size, device=maps.device)
    rows = (i.to(maps.device)[:, None] + r)[:, :, None]  # (n, s, 1)
    cols = (j.to(maps.device)[:, None] + r)[:, None, :]  # (n, 1, s)
    idx = torch.arange(n, device=maps.device)[:, None, None]
    canvas = maps.new_zeros(n, grid, grid, k)
    canvas = canvas.index_put((idx, rows, cols), maps.permute(0, 2, 3, 1))
    valid = torch.zeros(n, grid, grid, dtype=torch.bool, device=maps.device)
    valid[idx, rows, cols] = True
    return canvas.permute(0, 3, 1, 2), valid


def part_presence(ids: Tensor, n_parts: int) -> Tensor:
    """``(n, n_parts)`` bool: which part types occur in each grid of part ids."""
    return torch.stack([(ids == p).flatten(1).any(1) for p in range(n_parts)], 1)


@dataclass
class ThemeSongs:
    """Toy monophonic "songs" of pitch tokens built from recurring themes (see
    :func:`make_theme_songs`).

    ``tokens (n, n_segments * seg_len)`` pitches in ``[0, n_pitches)``; ``segment_theme (n,
    n_segments)`` the motif id a segment plays (-1: filler); ``shift (n, n_segments)`` its
    transposition; ``theme (n,)`` the song's motif; ``motifs (n_themes, seg_len)`` the motifs at
    their reference pitch; ``form`` which segments play the theme (the same for every song).
    """

    tokens: Tensor
    segment_theme: Tensor
    shift: Tensor
    theme: Tensor
    motifs: Tensor
    form: tuple[int, ...]
    seg_len: int
    n_pitches: int

    @property
    def segments(self) -> Tensor:
        """``(n, n_segments, seg_len)``: the songs cut at segment boundaries."""
        return self.tokens.reshape(len(self.tokens), -1, self.seg_len)

    @property
    def theme_mask(self) -> Tensor:
        """``(n, length)`` bool: the tokens that belong to a theme occurrence."""
        return (self.segment_theme >= 0).repeat_interleave(self.seg_len, 1)


def make_theme_songs(
    n: int,
    *,
    n_themes: int = 8,
    seg_len: int = 8,
    form: str = "ABACA",
    n_pitches: int = 24,
    max_shift: int = 5,
    p_edit: float = 0.5,
    seed: int = 0,
) -> ThemeSongs:
    """Songs whose form repeats a theme, transposed and varied, between filler segments.

    ``n_themes`` motifs of ``seg_len`` pitches (random walks of steps in [-3, 3], kept in the
    middle of the range so every transposition fits). Each song draws one motif; in the ``form``
    (default ``"ABACA"``) every ``"A"`` plays it, the first at a random shift in
    ``[-max_shift, max_shift]``, later ones at a fresh shift and, with probability ``p_edit``
    each, one note moved by +-1 or +-2 (a variation); every other letter is a fresh filler
    segment (a random walk from a random pitch, so it has no motif). Ground truth: which segment
    is a theme occurrence, its motif and its transposition.

    Raises:
        ValueError: a size that is not a positive integer, a ``form`` without "A", or a range
            too small for the motifs and shifts.
    """
    _positive(n=n, n_themes=n_themes, seg_len=seg_len, n_pitches=n_pitches)
    if "A" not in form or not form.isalpha():
        raise ValueError(f"form must be letters with at least one 'A' (the theme), got {form!r}")
    if not 0 <= max_shift or n_pitches < 2 * max_shift + 9:
        raise ValueError(
            f"n_pitches ({n_pitches}) must be >= 2 * max_shift + 9 ({2 * max_shift + 9})"
        )
    if not 0.0 <= p_edit <= 1.0:
        raise ValueError(f"p_edit must be in [0, 1], got {p_edit!r}")
    g = torch.Generator().manual_seed(seed)
    lo, hi = max_shift + 2, n_pitches - max_shift - 3  # a motif stays in [lo, hi]

    def walk(count: int, start: Tensor, low: int, high: int) -> Tensor:
        steps = torch.randint(-3, 4, (count, seg_len - 1), generator=g)
        out = [start]
        for t in range(seg_len - 1):  # reflect at the range's edges
            nxt = out[-1] + steps[:, t]
            nxt = torch.where(nxt < low, 2 * low - nxt, nxt)
            out.append(torch.where(nxt > high, 2 * high - nxt, nxt))
        return torch.stack(out, 1)

    motifs = walk(n_themes, torch.randint(lo, hi + 1, (n_themes,), generator=g), lo, hi)
    theme = torch.randint(0, n_themes, (n,), generator=g)
    k = len(form)
    segs = walk(n * k, torch.randint(0, n_pitches, (n * k,), generator=g), 0, n_pitches - 1)
    segs = segs.reshape(n, k, seg_len)
    shift = torch.randint(-max_shift, max_shift + 1, (n, k), generator=g)
    is_a = torch.tensor([c == "A" for c in form])
    played = motifs[theme][:, None] + shift[..., None]  # (n, k, seg_len)
    # a variation: one note of a later occurrence moved by +-1 or +-2
    first = torch.zeros(k, dtype=torch.bool)
    first[form.index("A")] = True
    edit = (torch.rand(n, k, generator=g) < p_edit) & ~first
    where = torch.randint(0, seg_len, (n, k), generator=g)
    sign = torch.randint(0, 2, (n, k), generator=g) * 2 - 1
    delta = torch.randint(1, 3, (n, k), generator=g) * sign
    bump = F.one_hot(where, seg_len) * (delta * edit)[..., None]
    played = (played + bump).clamp(0, n_pitches - 1)
    tokens = torch.where(is_a[None, :, None], played, segs)
    segment_theme = torch.where(is_a[None], theme[:, None], torch.full((n, k), -1))
    shift = torch.where(is_a[None], shift, torch.zeros_like(shift))
    return ThemeSongs(
        tokens.reshape(n, k * seg_len),
        segment_theme,
        shift,
        theme,
        motifs,
        tuple(i for i, c in enumerate(form) if c == "A"),
        seg_len,
        n_pitches,
    )


@dataclass
class Volumes:
    """Tiny 3-D volumes of one moving object (see :func:`make_volumes`).

    ``x (n, depth, size, size)`` the volumes (slice ``z`` is ``x[:, z]``); ``y (n,)`` the volume
    class, the direction the object drifts along ``z`` (``motions``); ``shape (n,)`` the 2-D
    class of every slice's cross-section (``shapes``); ``centre (n, depth, 2)`` the object's
    (row, column) in each slice.
    """

    x: Tensor
    y: Tensor
    shape: Tensor
    centre: Tensor
    motions: tuple[str, ...] = ("right", "left", "down", "up")
    shapes: tuple[str, ...] = ("disc", "square", "cross")

    def slices(self) -> tuple[Tensor, Tensor]:
        """All slices as 2-D images ``(n * depth, 1, size, size)`` and their shape labels."""
        n, d, s, _ = self.x.shape
        return self.x.reshape(n * d, 1, s, s), self.shape.repeat_interleave(d)


def make_volumes(
    n: int,
    size: int = 12,
    depth: int = 12,
    noise: float = 0.15,
    speed: tuple[float, float] = (0.3, 0.5),
    seed: int = 0,
) -> Volumes:
    """Volumes whose class needs cross-slice structure: an object drifting along ``z``.

    Each volume holds one object (a disc, a square or a cross, radius 2-3 px, brightness
    0.6-1) that moves ``speed`` px per slice in one of four directions (right, left, down, up)
    as ``z`` grows, from a random mid-volume position, over a background of Gaussian ``noise``.
    The volume class ``y`` is the direction; the 2-D class of its slices is the ``shape``.

    Ground truth by construction: the *set* of slices of a volume drifting right is the set of
    one drifting left, read backwards, so any order-blind summary of slice embeddings (a mean
    pool) can tell the axis of motion (horizontal vs vertical) but not its sign: at most ~50%
    on the four classes. Reading the slices in order (a transformer with positions) can reach
    100%.

    Args:
        n: number of volumes. size: slice side in px (8-16). depth: slices per volume.
        noise: std of the background noise. speed: (min, max) drift in px per slice.
        seed: seeds a CPU generator (same volumes on any machine).

    Example:
        >>> vol = make_volumes(600, seed=0)
        >>> vol.x.shape, vol.slices()[0].shape
        (torch.Size([600, 12, 12, 12]), torch.Size([7200, 1, 12, 12]))
    """
    _positive(n=n, size=size, depth=depth)
    if size < 8:
        raise ValueError(f"size must be >= 8 px (room for the object to move), got {size}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    if not 0 <= speed[0] <= speed[1]:
        raise ValueError(f"speed must be (min, max) with 0 <= min <= max, got {speed!r}")
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    shape = torch.randint(0, 3, (n,), generator=g)
    radius = 2.0 + torch.rand(n, generator=g)  # (n,)
    v = speed[0] + (speed[1] - speed[0]) * torch.rand(n, generator=g)
    step = torch.tensor([[0.0, 1.0], [0.0, -1.0], [1.0, 0.0], [-1.0, 0.0]])[y] * v[:, None]
    # mid-volume position drawn so that the whole path stays (mostly) inside the slice
    half = step.abs() * (depth - 1) / 2  # (n, 2)
    lo, hi = radius[:, None] + half - 0.5, size - 0.5 - radius[:, None] - half
    mid = lo + (hi - lo).clamp_min(0) * torch.rand(n, 2, generator=g)
    z = torch.arange(depth, dtype=torch.float32) - (depth - 1) / 2
    centre = mid[:, None] + z[None, :, None] * step[:, None]  # (n, depth, 2)
    grid = torch.arange(size, dtype=torch.float32)
    dr = (grid[None, None, :, None] - centre[..., 0, None, None]).abs()  # (n, depth, size, 1)
    dc = (grid[None, None, None, :] - centre[..., 1, None, None]).abs()  # (n, depth, 1, size)
    r = radius[:, None, None, None]
    disc = (dr.square() + dc.square()).sqrt() - r
    square = torch.maximum(dr, dc) - 0.8 * r
    cross = torch.minimum(  # a horizontal and a vertical bar
        torch.maximum(dr - 0.4 * r, dc - r), torch.maximum(dc - 0.4 * r, dr - r)
    )
    signed = torch.stack([disc, square, cross], 1)[torch.arange(n), shape]  # (n, d, s, s)
    bright = 0.6 + 0.4 * torch.rand(n, 1, 1, 1, generator=g)
    x = bright * torch.sigmoid(-4 * signed)  # soft edges: sub-pixel motion stays visible
    x = x + noise * torch.randn(x.shape, generator=g)
    return Volumes(x, y, shape, centre)
