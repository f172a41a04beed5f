"""``shapes``: procedural coloured shapes on textured backgrounds, the suite's main image set.

Why it exists: on real-but-easy data (``digits``) raw pixels already score ~0.98 with kNN, so
nothing can show that self-supervision helps. Here the class is a *shape* while most pixels are
spent on nuisances, so raw pixels do badly and an encoder trained to ignore those nuisances does
clearly better.

Ground truth (every image is rendered from factors recorded in ``ImageData.factors``):

* **Class** ``y``: the silhouette of the object, one of ``SHAPE_NAMES`` (10 shapes picked to stay
  distinguishable at 16 x 16 px). ``n_classes < 10`` uses the first ``n_classes`` shapes.
* **Nuisances**, independent of the class and of each other:

  - ``colour`` (N, 3): the object's RGB colour; the background's colours are drawn around it
    so that the object always differs from every background pixel by ``contrast / 2`` or more
    in each channel (same sign in all channels, so a grayscale view still shows the shape);
  - ``position`` (N, 2): the object's centre (x, y) in ``[-1, 1]`` image coordinates;
  - ``scale`` (N,): the object's radius as a fraction of half the image side;
  - ``rotation`` (N,): radians in ``[0, 2*pi)``;
  - ``background`` (N,): the background type, an index into ``BACKGROUND_NAMES`` (plain
    colour, or stripes / checks / blobs with random colours, frequency, angle and phase).

* ``fine_grained=True`` gives each shape 3 sub-classes (``VARIANT_NAMES``: a hole cut out, a
  notch cut from the edge, or a dot of another colour inside); ``factors["subclass"]`` is the
  global id ``3 * y + variant``, for coarse-versus-fine experiments.
* ``n_objects > 1`` places the objects in distinct cells of a grid; ``y`` is the class of the
  largest one (drawn last, so never occluded), the per-object nuisances above describe that
  object, and ``factors["multi_hot"]`` (N, n_classes) / ``factors["object_class"]``
  (N, n_objects) record every object.

What augmentation should make a model invariant to: colour (colour jitter, grayscale), position
and scale (random resized crop), background texture (nothing removes it; the model must learn
to look past it, which is the point), orientation of the mirror image (horizontal flip; every
shape class is closed under mirroring). Rotation is *not* in the standard SimCLR recipe: a kNN
over many training images covers it.

Calibration (``/tmp`` probe, 2 CPU cores, 9,000 training + 1,000 held-out images, kNN k=20 on
cosine similarity, SimCLR with a 16-32-64-128 ConvNet, batch 256, Adam 2e-3, temperature 0.5):
see the table in ``CALIBRATION`` below; the defaults are the values that gave the large, seed-
stable gap between raw pixels and SimCLR within the 20 s quick-mode budget.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from contrastkit.data.base import ImageData

SHAPE_NAMES: list[str] = [
    "disk",
    "square",
    "triangle",
    "ring",
    "cross",
    "star",
    "ell",
    "diamond",
    "half_moon",
    "bar",
]
VARIANT_NAMES: list[str] = ["hole", "notch", "dot"]
BACKGROUND_NAMES: list[str] = ["plain", "stripes", "checks", "blobs"]

DEFAULT_CONTRAST = 0.5
# Object radius as a fraction of half the image side. Large shapes keep the silhouette legible
# at 16 px (a radius of 0.45 is 3.6 px there); the spread gives crops something to undo.
SCALE_RANGE = (0.45, 0.8)
TEXTURE_AMPLITUDE = 0.3
TEXTURE_FREQ = (1.5, 4.0)
TEXTURE_KINDS = (1, 2, 3)
TEXTURE_ANGLES = None
INSIDE = 0.9
# Images rendered at once: bounds memory at about CHUNK * H * W * 40 bytes of temporaries.
CHUNK = 2048


# ---------------------------------------------------------------------------------------------
# Signed distances. Each takes coordinates (u, v) in the object's own frame (the object fills
# roughly the unit disk) and returns the signed distance to the outline: negative inside. Only
# the value near the outline matters (it becomes an anti-aliased edge), so some are the cheap
# "max of half-planes" kind rather than exact Euclidean distances.
# ---------------------------------------------------------------------------------------------


def _circle(u: Tensor, v: Tensor, cx: float, cy: float, r: float) -> Tensor:
    return torch.hypot(u - cx, v - cy) - r


def _box(u: Tensor, v: Tensor, cx: float, cy: float, hx: float, hy: float) -> Tensor:
    qx, qy = (u - cx).abs() - hx, (v - cy).abs() - hy
    outside = torch.hypot(qx.clamp(min=0), qy.clamp(min=0))
    return outside + torch.maximum(qx, qy).clamp(max=0)


def _polygon(u: Tensor, v: Tensor, sides: int, apothem: float, phase: float) -> Tensor:
    """A regular polygon as the intersection of half-planes (edge normals every 2*pi/sides)."""
    d = None
    for i in range(sides):
        a = phase + 2 * math.pi * i / sides
        e = u * math.cos(a) + v * math.sin(a) - apothem
        d = e if d is None else torch.maximum(d, e)
    return d


def _star(u: Tensor, v: Tensor, points: int = 5, inner: float = 0.45) -> Tensor:
    # Polar outline r = f(angle) that zig-zags between the tips (1) and the valleys (inner).
    r, a = torch.hypot(u, v), torch.atan2(u, v)  # angle 0 points up, so a tip points up
    sector = 2 * math.pi / points
    t = ((a / sector) % 1.0 - 0.5).abs() * 2  # 1 at a tip, 0 in a valley
    return (r - (inner + (1 - inner) * t)) * 0.6  # 0.6: the slope of f makes r - f too steep


def _sdf(k: int, u: Tensor, v: Tensor) -> Tensor:
    """Signed distance to shape class ``k`` (an index into ``SHAPE_NAMES``)."""
    if k == 0:  # disk
        return _circle(u, v, 0, 0, 1.0)
    if k == 1:  # square (half-side 0.8: same visual weight as the disk)
        return _box(u, v, 0, 0, 0.8, 0.8)
    if k == 2:  # equilateral triangle pointing up, circumradius 1.15
        return _polygon(u, v, 3, 0.575, -math.pi / 2)
    if k == 3:  # ring, band between radii 0.44 and 1.0 (thick enough to survive 16 px)
        return (torch.hypot(u, v) - 0.72).abs() - 0.28
    if k == 4:  # plus-shaped cross
        return torch.minimum(_box(u, v, 0, 0, 0.95, 0.3), _box(u, v, 0, 0, 0.3, 0.95))
    if k == 5:  # five-pointed star
        return _star(u, v)
    if k == 6:  # "L" with equal arms: symmetric about its diagonal, so its mirror is a rotation
        return torch.minimum(
            _box(u, v, -0.55, 0.05, 0.25, 0.85), _box(u, v, 0.05, -0.55, 0.85, 0.25)
        )
    if k == 7:  # diamond: a rhombus elongated so that it is not just a rotated square
        a, b = 0.6, 1.0
        return (u.abs() / a + v.abs() / b - 1) * (a * b / math.hypot(a, b))
    if k == 8:  # half moon: a disk minus an offset disk, shifted right so that it is centred
        u = u - 0.2
        return torch.maximum(_circle(u, v, 0, 0, 1.0), -_circle(u, v, 0.5, 0, 0.8))
    if k == 9:  # bar: a capsule (stadium) 2 long and 0.6 wide
        return torch.hypot(u - u.clamp(-0.7, 0.7), v) - 0.3
    raise ValueError(f"unknown shape class {k}")


# Fine-grained features per class, in the object frame: (hole x, y, r), (notch x, y, r) and
# (dot x, y, r). A hole sits inside the body, a notch is a bite centred on the outline, a dot is
# drawn in another colour where the hole would be (the ring's dot sits in its centre).
_FEATURES: list[tuple[tuple[float, float, float], ...]] = [
    ((0.0, 0.0, 0.4), (0.0, 1.0, 0.45), (0.0, 0.0, 0.4)),  # disk
    ((0.0, 0.0, 0.4), (0.0, 0.8, 0.45), (0.0, 0.0, 0.4)),  # square
    ((0.0, 0.0, 0.27), (0.0, -0.575, 0.35), (0.0, 0.0, 0.27)),  # triangle
    ((0.0, 0.72, 0.36), (0.0, -1.0, 0.35), (0.0, 0.0, 0.3)),  # ring: hole breaks the band
    ((0.0, 0.0, 0.28), (0.95, 0.0, 0.4), (0.0, 0.0, 0.28)),  # cross
    ((0.0, 0.0, 0.25), (0.0, 1.0, 0.45), (0.0, 0.0, 0.25)),  # star: notch blunts a tip
    ((-0.55, -0.55, 0.2), (-0.55, 0.9, 0.35), (-0.55, -0.55, 0.2)),  # ell
    ((0.0, 0.0, 0.27), (0.0, 1.0, 0.45), (0.0, 0.0, 0.27)),  # diamond
    ((-0.45, 0.0, 0.25), (-0.8, 0.0, 0.35), (-0.45, 0.0, 0.25)),  # half moon
    ((0.0, 0.0, 0.22), (1.0, 0.0, 0.4), (0.0, 0.0, 0.22)),  # bar
]


# ---------------------------------------------------------------------------------------------
# Rendering (all batched: one call handles a chunk of images, loops only over classes/objects)
# ---------------------------------------------------------------------------------------------


def _grid(size: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Pixel-centre coordinates in [-1, 1]; y points up so that 'up' in a shape is up."""
    t = (torch.arange(size, device=device, dtype=torch.float32) * 2 + 1) / size - 1
    gy, gx = torch.meshgrid(-t, t, indexing="ij")
    return gx, gy  # each (H, W)


def _render_background(p: dict[str, Tensor], size: int) -> Tensor:
    """``(M, 3, H, W)`` backgrounds: colour ``bg_a`` blended towards ``bg_b`` by a pattern."""
    gx, gy = _grid(size, p["bg_a"].device)
    kind = p["bg_kind"]
    ang, freq, phase = p["bg_angle"][:, None, None], p["bg_freq"][:, None, None], p["bg_phase"]
    # Rotated coordinates, so that stripes and checks come at any angle.
    s = gx * torch.cos(ang) + gy * torch.sin(ang)
    t = -gx * torch.sin(ang) + gy * torch.cos(ang)
    # Frequencies are in cycles per image side, so 16 px and 32 px images look alike.
    stripes = 0.5 + 0.5 * torch.sin(math.pi * freq * s + phase[:, 0, None, None])
    product = torch.sin(math.pi * freq * s + phase[:, 0, None, None]) * torch.sin(
        math.pi * freq * t + phase[:, 1, None, None]
    )
    checks = 0.5 + 0.5 * torch.tanh(4 * product)  # soft edges: hard ones alias at 16 px
    blobs = F.interpolate(p["bg_noise"], size=(size, size), mode="bicubic", align_corners=False)
    blobs = blobs[:, 0].clamp(0, 1)
    pattern = torch.zeros_like(stripes)  # kind 0 (plain) keeps the zero pattern
    pattern = torch.where((kind == 1)[:, None, None], stripes, pattern)
    pattern = torch.where((kind == 2)[:, None, None], checks, pattern)
    pattern = torch.where((kind == 3)[:, None, None], blobs, pattern)
    a, b = p["bg_a"][:, :, None, None], p["bg_b"][:, :, None, None]
    return a + (b - a) * pattern[:, None]


def _object_alpha(
    cls: Tensor, variant: Tensor, pos: Tensor, scale: Tensor, rot: Tensor, size: int
) -> tuple[Tensor, Tensor]:
    """Anti-aliased coverage ``(M, H, W)`` of one object per image, and of its inner dot."""
    gx, gy = _grid(size, pos.device)
    # Into the object frame: translate, rotate by -rot, divide by the scale.
    dx, dy = gx - pos[:, 0, None, None], gy - pos[:, 1, None, None]
    c, s = torch.cos(rot)[:, None, None], torch.sin(rot)[:, None, None]
    sc = scale[:, None, None]
    u, v = (c * dx + s * dy) / sc, (-s * dx + c * dy) / sc
    dist = torch.full_like(u, 1e3)
    dot = torch.full_like(u, 1e3)
    for k in range(len(SHAPE_NAMES)):
        idx = (cls == k).nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        uk, vk, var = u[idx], v[idx], variant[idx, None, None]
        d = _sdf(k, uk, vk)
        (hx, hy, hr), (nx, ny, nr), (ox, oy, orad) = _FEATURES[k]
        # Variant -1 means "no feature" (not fine-grained). Cutting = max(d, -feature).
        d = torch.where(var == 0, torch.maximum(d, -_circle(uk, vk, hx, hy, hr)), d)
        d = torch.where(var == 1, torch.maximum(d, -_circle(uk, vk, nx, ny, nr)), d)
        dist[idx] = d
        dot[idx] = torch.where(var == 2, _circle(uk, vk, ox, oy, orad), 1e3)
    # One pixel is 2 / size image units, i.e. 2 / (size * scale) object units; a linear ramp one
    # pixel wide around the outline is cheap anti-aliasing, which keeps small shapes legible.
    pixel = 2.0 / (size * sc)
    return (0.5 - dist / pixel).clamp(0, 1), (0.5 - dot / pixel).clamp(0, 1)


def _render(p: dict[str, Tensor], size: int) -> Tensor:
    img = _render_background(p, size)
    for j in range(p["cls"].shape[1]):  # objects in drawing order (smallest first)
        alpha, dot = _object_alpha(
            p["cls"][:, j],
            p["variant"][:, j],
            p["pos"][:, j],
            p["scale"][:, j],
            p["rot"][:, j],
            size,
        )
        img = img + (p["colour"][:, j, :, None, None] - img) * alpha[:, None]
        img = img + (p["dot_colour"][:, j, :, None, None] - img) * dot[:, None]
    return img.clamp(0, 1)


# ---------------------------------------------------------------------------------------------
# Sampling the factors
# ---------------------------------------------------------------------------------------------


def _sample_colours(n: int, n_objects: int, contrast: float, textured: Tensor, g) -> dict:
    """Object and background colours: a per-channel gap that grows with ``contrast``.

    Per image, a polarity says whether the objects are lighter or darker than the background
    (the same in every channel, so the gap survives a grayscale view); per channel the gap is
    ``contrast * U(0.5, 1)``. The texture's second colour differs from the first by
    ``(1 - contrast) * TEXTURE_AMPLITUDE * U(0.5, 1)`` per channel, in a random direction.
    """
    gap = contrast * (0.5 + 0.5 * torch.rand(n, 3, generator=g))  # (n, 3)
    dark = (1 - gap) * torch.rand(n, 3, generator=g)
    light = dark + gap
    lighter = (torch.rand(n, generator=g) < 0.5)[:, None]  # object polarity
    bg_a = torch.where(lighter, dark, light)
    # Objects (several per image share the background but not the colour): each channel
    # anywhere on the object's side of the gap.
    span = torch.where(lighter, 1 - light, dark)[:, None]  # (n, 1, 3)
    step = span * torch.rand(n, n_objects, 3, generator=g)
    obj = torch.where(lighter[:, None], light[:, None] + step, dark[:, None] - step)
    amp = (1 - contrast) * TEXTURE_AMPLITUDE * (0.5 + 0.5 * torch.rand(n, 3, generator=g))
    sign = torch.where(torch.rand(n, 3, generator=g) < 0.5, -1.0, 1.0)
    bg_b = (bg_a + sign * amp * textured[:, None]).clamp(0, 1)
    # The inner dot (fine-grained "dot" variant) sits half-way back towards the background: it
    # reads as a mark on the object, distinct from a hole that shows the background itself.
    dot = (obj + bg_a[:, None]) / 2
    return {"colour": obj, "dot_colour": dot, "bg_a": bg_a, "bg_b": bg_b}


def _sample_factors(
    n: int, n_classes: int, background: str, contrast: float, fine_grained: bool, n_objects: int, g
) -> dict[str, Tensor]:
    cls = torch.randint(0, n_classes, (n, n_objects), generator=g)
    if fine_grained:
        variant = torch.randint(0, len(VARIANT_NAMES), (n, n_objects), generator=g)
    else:
        variant = torch.full((n, n_objects), -1)
    # Several objects go to distinct cells of a cells x cells grid, shrunk to fit the cell.
    cells = math.ceil(math.sqrt(n_objects))
    lo, hi = SCALE_RANGE
    scale = (lo + (hi - lo) * torch.rand(n, n_objects, generator=g)) / cells
    # Draw the largest object last, so the labelled one is never occluded.
    scale, order = scale.sort(dim=1)
    cls, variant = cls.gather(1, order), variant.gather(1, order)
    cell = torch.rand(n, cells * cells, generator=g).argsort(dim=1)[:, :n_objects]
    centre = torch.stack([cell % cells, cell // cells], -1).float()  # (n, n_objects, 2)
    centre = (2 * centre + 1) / cells - 1
    # Jitter inside the cell, keeping ~90% of the radius inside it (corners may touch the edge).
    slack = (1 / cells - INSIDE * scale).clamp(min=0)[..., None]
    pos = centre + slack * (2 * torch.rand(n, n_objects, 2, generator=g) - 1)
    rot = 2 * math.pi * torch.rand(n, n_objects, generator=g)

    if background == "plain":
        kind = torch.zeros(n, dtype=torch.long)
    else:
        kinds = torch.tensor(TEXTURE_KINDS)
        kind = kinds[torch.randint(0, len(kinds), (n,), generator=g)]
    colours = _sample_colours(n, n_objects, contrast, (kind > 0).float(), g)
    return {
        "cls": cls,
        "variant": variant,
        "scale": scale,
        "pos": pos,
        "rot": rot,
        "bg_kind": kind,
        # 1.5-4 cycles per side: coarse enough to survive 16 px, fine enough to look textured.
        "bg_freq": TEXTURE_FREQ[0]
        + (TEXTURE_FREQ[1] - TEXTURE_FREQ[0]) * torch.rand(n, generator=g),
        "bg_angle": (math.pi * torch.rand(n, generator=g))
        if TEXTURE_ANGLES is None
        else (math.pi / TEXTURE_ANGLES)
        * torch.randint(0, TEXTURE_ANGLES, (n,), generator=g).float(),
        "bg_phase": 2 * math.pi * torch.rand(n, 2, generator=g),
        "bg_noise": torch.rand(n, 1, 4, 4, generator=g),
        **colours,
    }


def make_shapes(
    n: int = 10_000,
    image_size: int = 32,
    *,
    seed: int = 0,
    n_classes: int = 10,
    background: str = "texture",
    contrast: float = DEFAULT_CONTRAST,
    fine_grained: bool = False,
    n_objects: int = 1,
    device: torch.device | str = "cpu",
) -> ImageData:
    """Render ``n`` seeded images of coloured shapes on plain or textured backgrounds.

    Args:
        n: number of images.
        image_size: side in pixels (>= 8); 16 for quick notebooks, 32 for full ones.
        seed: the same seed gives the same tensors (on any device: the factors are drawn on
            the CPU, only the rendering runs on ``device``).
        n_classes: how many of ``SHAPE_NAMES`` to use, 2..10.
        background: ``"texture"`` (stripes, checks or blobs) or ``"plain"`` (one colour).
        contrast: in (0, 1]; each channel of the object differs from every background pixel
            by at least ``contrast / 2``. Lower is harder for everything.
        fine_grained: give each shape 3 sub-classes (``factors["subclass"] = 3 * y + variant``).
        n_objects: objects per image; ``y`` is the largest one's class.
        device: where the images are rendered and returned.

    Returns:
        ``ImageData`` with ``x (n, 3, S, S)`` float32 in [0, 1], ``y (n,)`` int64 and the
        factors described in the module docstring.

    Raises:
        ValueError: an argument out of range (the message names it).

    Example:
        >>> data = make_shapes(1000, 16, seed=0)
        >>> data.x.shape, data.classes[int(data.y[0])]
        (torch.Size([1000, 3, 16, 16]), 'star')
    """
    if n <= 0:
        raise ValueError(f"n must be a positive number of images, got {n}")
    if image_size < 8:
        raise ValueError(
            f"image_size must be >= 8 pixels (shapes are illegible below), got {image_size}"
        )
    if not 2 <= n_classes <= len(SHAPE_NAMES):
        raise ValueError(f"n_classes must be in 2..{len(SHAPE_NAMES)}, got {n_classes}")
    if background not in ("plain", "texture"):
        raise ValueError(f"background must be 'plain' or 'texture', got {background!r}")
    if not 0 < contrast <= 1:
        raise ValueError(f"contrast must be in (0, 1], got {contrast}")
    if n_objects < 1:
        raise ValueError(f"n_objects must be >= 1, got {n_objects}")

    g = torch.Generator().manual_seed(seed)
    p = _sample_factors(n, n_classes, background, contrast, fine_grained, n_objects, g)
    device = torch.device(device)
    x = torch.empty(n, 3, image_size, image_size, device=device)
    for start in range(0, n, CHUNK):
        chunk = {k: v[start : start + CHUNK].to(device) for k, v in p.items()}
        x[start : start + CHUNK] = _render(chunk, image_size)

    main = n_objects - 1  # the largest object, drawn last
    y = p["cls"][:, main]
    factors = {
        "colour": p["colour"][:, main],
        "position": p["pos"][:, main],
        "scale": p["scale"][:, main],
        "rotation": p["rot"][:, main],
        "background": p["bg_kind"],
    }
    if fine_grained:
        factors["subclass"] = y * len(VARIANT_NAMES) + p["variant"][:, main]
    if n_objects > 1:
        factors["object_class"] = p["cls"]
        multi_hot = torch.zeros(n, n_classes)
        factors["multi_hot"] = multi_hot.scatter_(1, p["cls"], 1.0)
    return ImageData(
        x=x,
        y=y.to(device),
        classes=SHAPE_NAMES[:n_classes],
        factors={k: v.to(device) for k, v in factors.items()},
        name="shapes",
    )
