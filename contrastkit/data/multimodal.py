"""Aligned multimodal tuples with known structure, and the Symile paper's XOR set.

``make_multimodal``: one latent object per row, seen through several modalities. Every row is
a ``shapes`` object (class, colour, position, size, rotation, background: see
:mod:`contrastkit.data.shapes`) and each modality shows part of it:

* ``image`` ``(N, 3, S, S)``: the rendered ``shapes`` image (``make_shapes``, through
  ``make_captioned_shapes``), so ``y`` is the shape class.
* ``text`` ``(N, L)`` int64: the caption of ``captions.make_captioned_shapes`` (shape, colour,
  position, size by default; paraphrase templates; optional word swaps ``swap_prob``).
* ``audio`` ``(N, T)`` float: a tone. Its pitch says the shape class (``AUDIO_CYCLES[y]``
  cycles per clip), its rhythm says the size word (``1 + size`` beats of a sin^2 envelope), its
  phase is random and Gaussian noise (``audio_noise``) is added. It knows nothing of colour or
  position.
* ``table`` ``(N, 8)`` float: tabular attributes, ``TABLE_COLUMNS`` (the RGB colour, the
  position, the radius, sin and cos of the rotation) plus Gaussian noise ``table_noise``. It
  knows nothing of the shape class.
* ``video`` ``(N, F, 3, S, S)``: the same object moving in a straight line over ``F`` frames
  (``VIDEO_SPEED`` image units per frame, direction ``factors["motion"]`` in radians); frame 0
  is exactly the image. The direction is information that only the video has.

So the class is shared by image, text, audio and video; colour and position by image, text,
table and video; the size by all of them. Ground truth is in ``y``, ``attributes`` (the
caption's word indices: ``shape``, ``colour``, ``position``, ``size``, ``background``) and
``factors`` (the continuous ``shapes`` factors plus ``motion``).

Corruptions a real multimodal set has, each recorded:

* ``missing``: each modality except the first is absent from a row with this probability;
  ``mask[i, m]`` is False there and the entry is zeros (all padding for text).
* ``noisy``: this fraction of rows gets every modality except the first from another row (a
  cyclic shift within the chosen rows); ``matched`` is False there.
* ``n_domains``: rows come in ``n_domains`` consecutive blocks (a stream over time); block
  ``d`` is rendered in style ``DOMAIN_STYLES[d % 4]`` (background texture and contrast), its
  captions use one half of the templates or the other, and its audio is detuned by
  ``0.5 * d`` cycles with noise ``audio_noise * (1 + d)``. ``domain`` holds the index.
* ``n_clients``: ``client`` assigns every row to one of ``n_clients`` clients, uniformly at
  random or, with ``client_alpha``, class-skewed (per class, Dirichlet(alpha) shares of the
  clients: small alpha, few classes per client); ``client_modalities`` lists the modalities
  each client holds (the rest are masked), for heterogeneous federated set-ups.

``make_robot_clips``: Voltron's toy "robot" data: two-frame clips of a grey hand
pushing a coloured shape, with the instruction ("push the red square left") as tokens, and the
ground truth (action, shape, colour, the object's position and mask in each frame).

``make_xor``: the higher-order XOR set of the Symile paper (Saporta et al., NeurIPS 2024).
``a, b`` are ``d`` i.i.d. fair bits each; a switch ``s ~ Bernoulli(p)`` per row; ``c = a XOR b``
where ``s = 1`` and ``c = a`` where ``s = 0``. ``b`` is independent of ``a`` and of ``c`` for
every ``p`` (and at ``p = 1`` every pair is independent), yet ``(a, c)`` determine ``b`` when
``s = 1``: the information is only in the joint, so pairwise contrastive losses cannot see it.
The best possible accuracy of predicting ``b`` from ``(a, c)`` is ``p + (1 - p) / 2**d``
(``XORData.bayes_accuracy``); ``xor_information`` gives the exact mutual informations.

Example:
    >>> data = make_multimodal(2000, 16, seed=0, modalities=("image", "text", "audio"))
    >>> image, tokens, audio = data.tensors()          # what fit(model, data.tensors()) takes
    >>> xor = make_xor(10_000, d=5, p=1.0, seed=0)
    >>> a, b, c = xor.tensors()
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor

from . import shapes
from .captions import PAD, TEMPLATES, VOCAB, Vocabulary, make_captioned_shapes

__all__ = [
    "AUDIO_CYCLES",
    "DOMAIN_STYLES",
    "MODALITIES",
    "MultimodalData",
    "RobotClips",
    "TABLE_COLUMNS",
    "XORData",
    "make_multimodal",
    "make_robot_clips",
    "make_xor",
    "xor_information",
]

MODALITIES = ("image", "text", "audio", "table", "video")
# Pitch of each shape class in cycles per clip: 2 apart, so detuning by 0.5 blurs but never
# swaps classes; the highest (22) stays below Nyquist for the default 64 samples.
AUDIO_CYCLES: list[float] = [4.0 + 2.0 * k for k in range(len(shapes.SHAPE_NAMES))]
TABLE_COLUMNS = ("red", "green", "blue", "x", "y", "radius", "sin_rotation", "cos_rotation")
VIDEO_SPEED = 0.15  # image units ([-1, 1] across) per frame
# Style of each domain of a stream (cycled): what changes over time while the facts stay.
DOMAIN_STYLES: list[dict] = [
    {"background": "plain"},
    {"background": "texture"},
    {"background": "texture", "contrast": 0.3},
    {"background": "plain", "contrast": 0.3},
]
_HALF = len(TEMPLATES) // 2


@dataclass
class MultimodalData:
    """Aligned tuples, row by row; see the module docstring for what each modality encodes.

    Attributes:
        inputs: modality name -> ``(N, ...)`` tensor, for the names in ``modalities``.
        modalities: the modality names, in the order ``tensors()`` returns them.
        y: ``(N,)`` int64 shape class. classes: the class names.
        attributes: the caption's ground-truth word indices per factor, each ``(N,)``.
        factors: continuous factors (``colour``, ``position``, ``scale``, ``rotation``,
            ``background``, ``motion``), each ``(N, ...)``.
        mask: ``(N, M)`` bool, False where a modality is missing.
        matched: ``(N,)`` bool, False where the non-first modalities come from another row.
        domain: ``(N,)`` int64 domain (time block). client: ``(N,)`` int64 client id.
        texts: the captions as strings (after swaps and shuffles; "" where text is missing).
        vocab: the caption vocabulary.
    """

    inputs: dict[str, Tensor]
    modalities: tuple[str, ...]
    y: Tensor
    classes: list[str]
    attributes: dict[str, Tensor]
    factors: dict[str, Tensor]
    mask: Tensor
    matched: Tensor
    domain: Tensor
    client: Tensor
    texts: list[str] = field(default_factory=list)
    vocab: Vocabulary = VOCAB

    def __len__(self) -> int:
        return self.y.shape[0]

    def __getitem__(self, name: str) -> Tensor:
        if name not in self.inputs:
            raise KeyError(f"no modality {name!r}; this set has {', '.join(self.modalities)}")
        return self.inputs[name]

    def tensors(self, *names: str) -> tuple[Tensor, ...]:
        """The modalities ``names`` (default: all, in order) as a tuple: what ``fit`` takes."""
        return tuple(self[m] for m in (names or self.modalities))

    def to(self, device: torch.device | str) -> MultimodalData:
        return replace(self, inputs={k: v.to(device) for k, v in self.inputs.items()})

    def subset(self, index: Tensor) -> MultimodalData:
        """Rows ``index`` (a 1-D index tensor) of every field."""
        idx = index.cpu()
        return replace(
            self,
            inputs={k: v[index.to(v.device)] for k, v in self.inputs.items()},
            y=self.y[idx],
            attributes={k: v[idx] for k, v in self.attributes.items()},
            factors={k: v[idx] for k, v in self.factors.items()},
            mask=self.mask[idx],
            matched=self.matched[idx],
            domain=self.domain[idx],
            client=self.client[idx],
            texts=[self.texts[i] for i in idx.tolist()],
        )

    def split(self, n_test: int, seed: int = 0) -> tuple[MultimodalData, MultimodalData]:
        """A seeded random (train, test) split with ``n_test`` test rows."""
        if not 0 < n_test < len(self):
            raise ValueError(f"n_test must be in (0, {len(self)}), got {n_test}")
        perm = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        return self.subset(perm[n_test:]), self.subset(perm[:n_test])

    def for_client(self, k: int) -> MultimodalData:
        """The rows of client ``k``."""
        return self.subset((self.client == k).nonzero().flatten())

    def for_domain(self, d: int) -> MultimodalData:
        """The rows of domain ``d`` (one block of the stream)."""
        return self.subset((self.domain == d).nonzero().flatten())


def _audio(y: Tensor, size: Tensor, length: int, detune: Tensor, noise: Tensor, g) -> Tensor:
    """``(N, length)`` tones: pitch from the class, ``1 + size`` sin^2 beats, random phase."""
    t = torch.arange(length, dtype=torch.float32) / length  # (T,) one clip = 1 time unit
    cycles = torch.tensor(AUDIO_CYCLES)[y] + detune  # (N,)
    phase = 2 * math.pi * torch.rand(len(y), generator=g)
    tone = torch.sin(2 * math.pi * cycles[:, None] * t + phase[:, None])
    envelope = torch.sin(math.pi * (1 + size.float())[:, None] * t) ** 2
    return tone * envelope + noise[:, None] * torch.randn(len(y), length, generator=g)


def _video(
    seed: int, n: int, size: int, frames: int, direction: Tensor, shape_kwargs: dict
) -> Tensor:
    """``(n, frames, 3, S, S)``: ``make_shapes``' scene re-rendered with the object moved.

    The factors are redrawn exactly as ``make_shapes`` draws them (same seed, same arguments);
    a test checks that frame 0 equals ``make_shapes``' image, so the two cannot drift apart.
    """
    bound = inspect.signature(shapes.make_shapes).bind(n, size, seed=seed, **shape_kwargs)
    bound.apply_defaults()
    a = bound.arguments
    g = torch.Generator().manual_seed(seed)
    p = shapes._sample_factors(
        n, a["n_classes"], a["background"], a["contrast"], a["fine_grained"], 1, g
    )
    step = VIDEO_SPEED * torch.stack([direction.cos(), direction.sin()], dim=1)  # (n, 2)
    out = torch.empty(n, frames, 3, size, size)
    for f in range(frames):
        pos = p["pos"][:, 0] + f * step
        pos = torch.where(pos.abs() > 1, pos.sign() * 2 - pos, pos)  # bounce off the edge
        frame = {**p, "pos": pos[:, None]}
        for s in range(0, n, shapes.CHUNK):
            out[s : s + shapes.CHUNK, f] = shapes._render(
                {k: v[s : s + shapes.CHUNK] for k, v in frame.items()}, size
            )
    return out


def _concat_captioned(parts: list) -> dict:
    length = max(p.tokens.shape[1] for p in parts)
    tokens = torch.cat(
        [torch.nn.functional.pad(p.tokens, (0, length - p.tokens.shape[1])) for p in parts]
    )
    return {
        "image": torch.cat([p.x for p in parts]),
        "tokens": tokens,
        "y": torch.cat([p.y for p in parts]),
        "texts": [t for p in parts for t in p.texts],
        "attributes": {k: torch.cat([p.attributes[k] for p in parts]) for k in parts[0].attributes},
        "factors": {
            k: torch.cat([p.images.factors[k] for p in parts]) for k in parts[0].images.factors
        },
        "classes": parts[0].classes,
    }


def _clients(y: Tensor, n_clients: int, alpha: float | None, seed: int) -> Tensor:
    rng = np.random.default_rng(seed + 104_729)
    if alpha is None:
        return torch.from_numpy(rng.integers(0, n_clients, len(y)))
    client = torch.empty(len(y), dtype=torch.long)
    for c in y.unique().tolist():
        rows = (y == c).nonzero().flatten().numpy()
        rng.shuffle(rows)
        share = rng.dirichlet(alpha * np.ones(n_clients))
        cuts = (np.cumsum(share)[:-1] * len(rows)).round().astype(int)
        for k, part in enumerate(np.split(rows, cuts)):
            client[torch.from_numpy(part)] = k
    return client


def make_multimodal(
    n: int = 4000,
    image_size: int = 16,
    *,
    seed: int = 0,
    modalities: Sequence[str] = ("image", "text", "audio"),
    describe: Sequence[str] = ("shape", "colour", "position", "size"),
    swap_prob: float = 0.0,
    audio_length: int = 64,
    audio_noise: float = 0.1,
    table_noise: float = 0.05,
    video_frames: int = 4,
    missing: float = 0.0,
    noisy: float = 0.0,
    n_domains: int = 1,
    n_clients: int = 1,
    client_alpha: float | None = None,
    client_modalities: Sequence[Sequence[str]] | None = None,
    device: torch.device | str = "cpu",
    **shape_kwargs,
) -> MultimodalData:
    """``n`` seeded aligned tuples of ``shapes`` objects seen through several modalities.

    Args:
        n: number of tuples.
        image_size: side of images and video frames in pixels (>= 8).
        seed: the same seed gives the same tensors, masks, domains and clients.
        modalities: which of ``MODALITIES`` to return, in this order; the first one is never
            missing or shuffled (it is the anchor of ``missing`` and ``noisy``).
        describe, swap_prob: what captions say and their word noise (``make_captioned_shapes``).
        audio_length: samples per audio clip (>= 48, so every pitch is below Nyquist).
        audio_noise: standard deviation of the Gaussian noise added to the audio.
        table_noise: standard deviation of the Gaussian noise added to the table.
        video_frames: frames per video (>= 2).
        missing: in [0, 1): probability that each non-first modality is absent from a row.
        noisy: in [0, 1): fraction of rows whose non-first modalities belong to another row.
        n_domains: consecutive blocks of rows rendered in different styles (``DOMAIN_STYLES``).
        n_clients: number of clients rows are assigned to. client_alpha: None for a uniform
            assignment, else the Dirichlet concentration of the class skew (e.g. 0.3).
        client_modalities: one list of modality names per client: what each client holds.
        device: where the tensors are returned.
        **shape_kwargs: passed to ``make_shapes`` (``n_classes``, ``background``, ``contrast``);
            with ``n_domains > 1`` the domain's style overrides ``background`` and ``contrast``.

    Returns:
        A :class:`MultimodalData`.

    Raises:
        ValueError: an unknown or repeated modality, or an argument out of range (named).
    """
    modalities = tuple(modalities)
    unknown = [m for m in modalities if m not in MODALITIES]
    if not modalities or unknown or len(set(modalities)) != len(modalities):
        raise ValueError(f"modalities must be distinct names from {MODALITIES}, got {modalities}")
    if n < 2:
        raise ValueError(f"n must be >= 2 tuples, got {n}")
    if audio_length < 48:
        raise ValueError(f"audio_length must be >= 48 samples, got {audio_length}")
    if video_frames < 2:
        raise ValueError(f"video_frames must be >= 2, got {video_frames}")
    for name, value in (("missing", missing), ("noisy", noisy)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    if not 1 <= n_domains <= n:
        raise ValueError(f"n_domains must be in 1..{n}, got {n_domains}")
    if not 1 <= n_clients <= n:
        raise ValueError(f"n_clients must be in 1..{n}, got {n_clients}")
    if client_alpha is not None and not client_alpha > 0:
        raise ValueError(f"client_alpha must be > 0 (or None), got {client_alpha}")
    if client_modalities is not None and len(client_modalities) != n_clients:
        raise ValueError(
            f"client_modalities must list {n_clients} modality sets (one per client), "
            f"got {len(client_modalities)}"
        )
    if audio_noise < 0 or table_noise < 0:
        raise ValueError("audio_noise and table_noise must be >= 0")

    # Domains: block d has rows [starts[d], starts[d + 1]) and its own render style and seed.
    starts = [round(d * n / n_domains) for d in range(n_domains + 1)]
    parts, videos = [], []
    for d in range(n_domains):
        kwargs = dict(shape_kwargs)
        if n_domains > 1:
            kwargs.update(DOMAIN_STYLES[d % len(DOMAIN_STYLES)])
        templates = None if n_domains == 1 else range(_HALF * (d % 2), _HALF * (d % 2 + 1))
        m, s = starts[d + 1] - starts[d], seed + 1_000_003 * d
        parts.append(
            make_captioned_shapes(
                m, image_size, seed=s, describe=describe, swap_prob=swap_prob,
                templates=templates, **kwargs,
            )
        )  # fmt: skip
        if "video" in modalities:
            g_motion = torch.Generator().manual_seed(s + 31)
            direction = 2 * math.pi * torch.rand(m, generator=g_motion)
            videos.append((direction, _video(s, m, image_size, video_frames, direction, kwargs)))
    cat = _concat_captioned(parts)
    y, attributes, factors = cat["y"].cpu(), cat["attributes"], cat["factors"]
    factors = {k: v.cpu() for k, v in factors.items()}
    domain = torch.cat(
        [torch.full((starts[d + 1] - starts[d],), d, dtype=torch.long) for d in range(n_domains)]
    )

    g = torch.Generator().manual_seed(seed + 7_368_787)
    inputs: dict[str, Tensor] = {}
    for name in modalities:
        if name == "image":
            inputs[name] = cat["image"].cpu()
        elif name == "text":
            inputs[name] = cat["tokens"].cpu()
        elif name == "audio":
            inputs[name] = _audio(
                y, attributes["size"], audio_length, 0.5 * domain.float(),
                audio_noise * (1 + domain.float()), g,
            )  # fmt: skip
        elif name == "table":
            f = factors
            clean = torch.cat(
                [f["colour"], f["position"], f["scale"][:, None],
                 f["rotation"].sin()[:, None], f["rotation"].cos()[:, None]], dim=1,
            )  # fmt: skip
            inputs[name] = clean + table_noise * torch.randn(clean.shape, generator=g)
        elif name == "video":
            inputs[name] = torch.cat([v for _, v in videos])
    if videos:
        factors["motion"] = torch.cat([dr for dr, _ in videos])
    texts = list(cat["texts"])

    # Noisy pairs: a cyclic shift of the non-first modalities within a random subset of rows.
    matched = torch.ones(n, dtype=torch.bool)
    n_bad = int(round(noisy * n))
    if n_bad >= 2:
        bad = torch.randperm(n, generator=g)[:n_bad]
        for name in modalities[1:]:
            inputs[name][bad] = inputs[name][bad.roll(1)]
        if "text" in modalities[1:]:
            for i, j in zip(bad.tolist(), bad.roll(1).tolist(), strict=True):
                texts[i] = cat["texts"][j]
        matched[bad] = False

    client = _clients(y, n_clients, client_alpha, seed)
    mask = torch.ones(n, len(modalities), dtype=torch.bool)
    if missing > 0:
        mask[:, 1:] = torch.rand(n, len(modalities) - 1, generator=g) >= missing
    if client_modalities is not None:
        for k, held in enumerate(client_modalities):
            bad_names = set(held) - set(modalities)
            if bad_names:
                raise ValueError(f"client_modalities[{k}] names unknown {sorted(bad_names)}")
            for j, name in enumerate(modalities):
                if name not in held:
                    mask[client == k, j] = False
    for j, name in enumerate(modalities):
        absent = ~mask[:, j]
        if absent.any():
            inputs[name][absent] = PAD if name == "text" else 0
            if name == "text":
                texts = ["" if a else t for a, t in zip(absent.tolist(), texts, strict=True)]

    return MultimodalData(
        inputs={k: v.to(device) for k, v in inputs.items()},
        modalities=modalities,
        y=y,
        classes=cat["classes"],
        attributes=attributes,
        factors=factors,
        mask=mask,
        matched=matched,
        domain=domain,
        client=client,
        texts=texts,
    )


# ---------------------------------------------------------------------------------------------
# The XOR set (Symile)
# ---------------------------------------------------------------------------------------------


@dataclass
class XORData:
    """Symile's higher-order XOR tuples (see the module docstring).

    Attributes:
        a, b, c: ``(N, d)`` float bits in {0, 1} (plus Gaussian noise if ``noise > 0``).
        switch: ``(N,)`` bool, True where ``c = a XOR b`` (else ``c = a``).
        d: bits per modality. p: the probability of the switch.
    """

    a: Tensor
    b: Tensor
    c: Tensor
    switch: Tensor
    d: int
    p: float

    def __len__(self) -> int:
        return self.a.shape[0]

    def tensors(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(a, b, c)``: what ``fit`` takes for a three-modality method."""
        return self.a, self.b, self.c

    @property
    def bayes_accuracy(self) -> float:
        """The best accuracy of predicting ``b`` from ``(a, c)``: ``p + (1 - p) / 2**d``.

        Where ``c != a`` the switch was on and ``b = a XOR c``; where ``c == a`` the best guess
        is ``b = 0``, right with probability ``2**-d / (1 - p + p 2**-d)`` given ``c == a``.
        """
        return self.p + (1 - self.p) / 2**self.d

    def to(self, device: torch.device | str) -> XORData:
        return replace(self, a=self.a.to(device), b=self.b.to(device), c=self.c.to(device))


def make_xor(
    n: int = 10_000,
    d: int = 5,
    p: float = 1.0,
    *,
    seed: int = 0,
    noise: float = 0.0,
    device: torch.device | str = "cpu",
) -> XORData:
    """Symile's XOR set: ``a, b`` fair bits, ``c = a XOR b`` with probability ``p``, else ``a``.

    Args:
        n: number of tuples. d: bits per modality (>= 1). p: switch probability in [0, 1].
        seed: the same seed gives the same tuples.
        noise: standard deviation of Gaussian noise added to every bit (0: the paper's set).
        device: where the tensors are returned.

    Raises:
        ValueError: an argument out of range (named).

    Example:
        >>> xor = make_xor(1000, d=5, p=1.0, seed=0)
        >>> bool(((xor.a + xor.b) % 2 == xor.c).all())
        True
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an int >= 1 (bits per modality), got {d!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 2, (n, d), generator=g)
    b = torch.randint(0, 2, (n, d), generator=g)
    switch = torch.rand(n, generator=g) < p
    c = torch.where(switch[:, None], a ^ b, a)
    a, b, c = (v.float() for v in (a, b, c))
    if noise > 0:
        a, b, c = (v + noise * torch.randn(v.shape, generator=g) for v in (a, b, c))
    return XORData(a.to(device), b.to(device), c.to(device), switch, d, float(p))


def xor_information(d: int, p: float) -> dict[str, float]:
    """Exact mutual informations (bits) of the XOR set, by enumerating its joint law.

    ``P(a, b, c) = 4**-d (p [c = a XOR b] + (1 - p) [c = a])`` over ``2**d`` values each.

    Returns:
        ``{"I(a;b)", "I(a;c)", "I(b;c)", "I(b;a,c)", "TC"}``: the three pairwise informations,
        what ``(a, c)`` together say about ``b``, and the total correlation
        ``H(a) + H(b) + H(c) - H(a, b, c)`` that Symile's loss lower-bounds.

    Raises:
        ValueError: ``d`` outside 1..6 (the table has ``8**d`` cells) or ``p`` outside [0, 1].
    """
    if not isinstance(d, int) or not 1 <= d <= 6:
        raise ValueError(f"d must be an int in 1..6 for exact enumeration, got {d!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    k = 2**d
    idx = torch.arange(k)
    a, b, c = idx[:, None, None], idx[None, :, None], idx[None, None, :]
    joint = (p * (c == (a ^ b)).double() + (1 - p) * (c == a).double()) / k**2  # (k, k, k)

    def h(q: Tensor) -> float:
        q = q[q > 0]
        return float(-(q * q.log2()).sum())

    ha, hb, hc = h(joint.sum((1, 2))), h(joint.sum((0, 2))), h(joint.sum((0, 1)))
    hab, hac, hbc = h(joint.sum(2)), h(joint.sum(1)), h(joint.sum(0))
    habc = h(joint)
    return {
        "I(a;b)": ha + hb - hab,
        "I(a;c)": ha + hc - hac,
        "I(b;c)": hb + hc - hbc,
        "I(b;a,c)": hb + hac - habc,
        "TC": ha + hb + hc - habc,
    }


# ---------------------------------------------------------------------------------------------
# Robot clips (Voltron): two frames of a "hand" pushing an object, with the instruction
# ---------------------------------------------------------------------------------------------

ROBOT_SHAPES = ("square", "triangle", "cross", "star")
ROBOT_COLOURS = {
    "red": (0.9, 0.15, 0.15),
    "green": (0.15, 0.8, 0.2),
    "blue": (0.2, 0.35, 0.95),
    "yellow": (0.95, 0.85, 0.1),
}
ROBOT_ACTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, 1.0), "down": (0.0, -1.0)}
ROBOT_VOCAB = Vocabulary(["push", "the", *ROBOT_SHAPES, *ROBOT_COLOURS, *ROBOT_ACTIONS])
HAND_COLOUR = (0.6, 0.6, 0.6)
HAND_RADIUS = 0.2  # image units ([-1, 1] across)


@dataclass
class RobotClips:
    """Two-frame clips of a grey "hand" pushing an object, each with its instruction.

    Attributes:
        video: ``(N, 2, 3, S, S)`` frames before and after the push.
        tokens: ``(N, 5)`` int64 ids of ``texts`` in ``vocab`` ("push the red square left").
        texts: the instructions. shape, colour, action: ``(N,)`` int64 indices into
            ``ROBOT_SHAPES``, ``ROBOT_COLOURS``, ``ROBOT_ACTIONS``.
        position: ``(N, 2, 2)`` the object's centre ``(x, y)`` in each frame (y points up).
        mask: ``(N, 2, S, S)`` bool, the object's pixels (coverage > 0.5) in each frame.
        vocab: the instruction vocabulary (``ROBOT_VOCAB``).
    """

    video: Tensor
    tokens: Tensor
    texts: list[str]
    shape: Tensor
    colour: Tensor
    action: Tensor
    position: Tensor
    mask: Tensor
    vocab: Vocabulary = field(default=ROBOT_VOCAB, repr=False)

    def __len__(self) -> int:
        return self.video.shape[0]

    def tensors(self) -> tuple[Tensor, Tensor]:
        """``(video, tokens)``: what ``fit`` takes for a video-language method."""
        return self.video, self.tokens


def make_robot_clips(
    n: int = 4000,
    image_size: int = 16,
    *,
    seed: int = 0,
    distance: float = 0.4,
    noise: float = 0.03,
) -> RobotClips:
    """Voltron's toy "robot" data: a hand pushes an object; the instruction names the push.

    Each clip draws an object (one of ``ROBOT_SHAPES`` in one of ``ROBOT_COLOURS``, random size
    and rotation) on a random dark plain background, and a push direction (``ROBOT_ACTIONS``).
    In frame 0 a grey disk (the hand) touches the object on the side opposite the push; in
    frame 1 both have moved ``distance`` image units that way. Gaussian pixel noise ``noise``.
    The instruction is "push the <colour> <shape> <direction>": it names the high-level facts
    (action, object) and says nothing about the position, which only the pixels hold.

    Raises:
        ValueError: ``n < 1``, ``image_size < 8``, ``distance`` outside ``(0, 0.8]``, or
            ``noise < 0`` (named).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    if not 0 < distance <= 0.8:
        raise ValueError(f"distance must be in (0, 0.8], got {distance}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    g = torch.Generator().manual_seed(seed)
    shape = torch.randint(0, len(ROBOT_SHAPES), (n,), generator=g)
    colour = torch.randint(0, len(ROBOT_COLOURS), (n,), generator=g)
    action = torch.randint(0, len(ROBOT_ACTIONS), (n,), generator=g)
    scale = 0.3 + 0.15 * torch.rand(n, generator=g)
    rot = 2 * math.pi * torch.rand(n, generator=g)
    direction = torch.tensor(list(ROBOT_ACTIONS.values()))[action]  # (n, 2)
    # Start anywhere in the box such that the end point stays in it too.
    box = 0.55
    pos0 = box * (2 * torch.rand(n, 2, generator=g) - 1)
    along = -box + (2 * box - distance) * torch.rand(n, generator=g)  # along the push
    axis = direction.abs().argmax(1)  # 0 for left/right, 1 for up/down
    sign = direction.sum(1)
    pos0[torch.arange(n), axis] = sign * along
    position = torch.stack([pos0, pos0 + distance * direction], dim=1)  # (n, 2, 2)
    background = 0.35 * torch.rand(n, 3, generator=g)
    rgb = torch.tensor(list(ROBOT_COLOURS.values()))[colour]  # (n, 3)
    cls = torch.tensor([shapes.SHAPE_NAMES.index(s) for s in ROBOT_SHAPES])[shape]
    disk = torch.full((n,), shapes.SHAPE_NAMES.index("disk"))
    no_variant = torch.full((n,), -1)
    video = torch.empty(n, 2, 3, image_size, image_size)
    mask = torch.empty(n, 2, image_size, image_size, dtype=torch.bool)
    for f in range(2):
        pos = position[:, f]
        hand = pos - (scale + HAND_RADIUS)[:, None] * direction
        hand_alpha, _ = shapes._object_alpha(
            disk, no_variant, hand, torch.full((n,), HAND_RADIUS), rot, image_size
        )
        alpha, _ = shapes._object_alpha(cls, no_variant, pos, scale, rot, image_size)
        img = background[:, :, None, None].expand(n, 3, image_size, image_size)
        img = img + (torch.tensor(HAND_COLOUR)[None, :, None, None] - img) * hand_alpha[:, None]
        img = img + (rgb[:, :, None, None] - img) * alpha[:, None]
        img = img + noise * torch.randn(img.shape, generator=g)
        video[:, f] = img.clamp(0, 1)
        mask[:, f] = alpha > 0.5
    colour_names, action_names = list(ROBOT_COLOURS), list(ROBOT_ACTIONS)
    texts = [
        f"push the {colour_names[c]} {ROBOT_SHAPES[s]} {action_names[a]}"
        for s, c, a in zip(shape.tolist(), colour.tolist(), action.tolist())
    ]
    tokens = torch.tensor([ROBOT_VOCAB.encode(t) for t in texts], dtype=torch.long)
    return RobotClips(video, tokens, texts, shape, colour, action, position, mask)
