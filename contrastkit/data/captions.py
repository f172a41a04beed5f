"""``captioned_shapes``: ``shapes`` images paired with short generated captions (CLIP's data).

Every image is rendered by :func:`~contrastkit.data.shapes.make_shapes`, so its factors are
known, and its caption is written from those factors: which words a caption uses is ground
truth, not annotation. Captions are token-id sequences over a small closed vocabulary.

What a caption says (``describe`` picks the factors, in this order of importance):

* ``shape``: the class name, ``SHAPE_NAMES[y]`` (``half_moon`` is one token, written
  "half moon");
* ``colour``: a basic colour term from ``COLOUR_NAMES``: the hue's name (``HUE_NAMES``), or
  black / grey / white for a colour with little chroma (see ``colour_names``);
* ``position``: ``POSITION_NAMES``, from the object's centre: ``left`` / ``right`` when
  ``|x| > POSITION_THRESHOLD`` and ``top`` / ``bottom`` likewise (y points up), else
  ``centre``;
* ``size``: ``small`` / ``medium`` / ``large``, the object's radius in the lower, middle or
  upper third of ``shapes.SCALE_RANGE``;
* ``background`` (off by default): ``plain`` / ``striped`` / ``checked`` / ``blotchy``.

Each caption picks one of ``TEMPLATES`` at random (paraphrases: different word order and
filler words, same facts), e.g. "a small red star in the top left" or "in the centre there is
a large grey ring". Two kinds of optional noise model a web-scraped caption set:

* ``swap_prob``: each word of a caption is replaced by a random content word with this
  probability (typos, wrong adjectives);
* ``mismatch``: this fraction of images gets another image's caption (``matched`` is False
  there), the way alt-text sometimes describes something else.

Ground truth kept for evaluation: ``attributes[name]`` is the index of the word chosen for
each factor (before noise), e.g. ``COLOUR_NAMES[attributes["colour"][i]]``.

How to extend it (new factors, templates or modalities): add the words to a ``*_NAMES`` list,
a ``{slot}`` (in [brackets] if optional) to ``TEMPLATES``, the factor's word index to
``attributes`` in ``make_captioned_shapes``, and its name to ``FACTORS``; the vocabulary is
built from those lists, so a new word cannot be missing from it.

Example:
    >>> data = make_captioned_shapes(1000, image_size=16, seed=0)
    >>> data.tokens.shape[0], decode(data.tokens[0]) == data.texts[0]
    (1000, True)
    >>> decode(tokenize("a photo of a half-moon"))       # a zero-shot prompt
    'a photo of a half moon'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from . import shapes
from .base import ImageData
from .shapes import SHAPE_NAMES, make_shapes

__all__ = [
    "BACKGROUND_WORDS",
    "COLOUR_NAMES",
    "GREY_NAMES",
    "HUE_NAMES",
    "CaptionedShapes",
    "FACTORS",
    "PAD",
    "POSITION_NAMES",
    "POSITION_PHRASES",
    "SIZE_NAMES",
    "TEMPLATES",
    "UNK",
    "VOCAB",
    "Vocabulary",
    "colour_names",
    "decode",
    "make_captioned_shapes",
    "tokenize",
]

# ---------------------------------------------------------------------------------------------
# The words
# ---------------------------------------------------------------------------------------------

# Basic colour terms. An object whose channels differ by less than GREY_CHROMA (max - min) is
# white, grey or black by its brightness (max channel); any other is named by its hue, the way
# a person names a colour ("blue" covers dark and light blue alike).
GREY_NAMES: list[str] = ["black", "grey", "white"]
HUE_NAMES: list[str] = ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink"]
# Upper edge of each hue's range in degrees (red also takes 345-360).
HUE_EDGES: list[float] = [15, 45, 70, 160, 200, 260, 290, 345]
GREY_CHROMA = 0.2
COLOUR_NAMES: list[str] = HUE_NAMES + GREY_NAMES
# Position words: index 3 * row + column over (top, middle, bottom) x (left, centre, right).
POSITION_NAMES: list[str] = [
    "top left", "top", "top right",
    "left", "centre", "right",
    "bottom left", "bottom", "bottom right",
]  # fmt: skip
POSITION_PHRASES: list[str] = [
    "in the top left", "at the top", "in the top right",
    "on the left", "in the centre", "on the right",
    "in the bottom left", "at the bottom", "in the bottom right",
]  # fmt: skip
POSITION_THRESHOLD = 0.15  # |x| or |y| beyond this (in [-1, 1] image units) is off-centre
SIZE_NAMES: list[str] = ["small", "medium", "large"]
# Indexed by shapes.BACKGROUND_NAMES (plain, stripes, checks, blobs).
BACKGROUND_WORDS: list[str] = ["plain", "striped", "checked", "blotchy"]

# What a caption can describe, the names ``describe`` and ``attributes`` use.
FACTORS = ("shape", "colour", "position", "size", "background")

# Paraphrases of the same facts. Slots: {shape}, {colour}, {size}, {where}, {background}. A
# [bracketed] part disappears, words and all, when its factor is not described; "a" becomes
# "an" before a vowel.
TEMPLATES: list[str] = [
    "a [{size}] [{colour}] {shape} [{where}] [on a {background} background]",
    "a photo of a [{size}] [{colour}] {shape} [{where}] [on a {background} background]",
    "[{where}] there is a [{size}] [{colour}] {shape} [on a {background} background]",
    "a [{colour}] {shape} [{where}] [, {size}] [, on a {background} background]",
    "an image of a {shape} [, {size}] [, {colour}] [, {where}] [, on a {background} background]",
    "the [{colour}] {shape} [{where}] [is {size}] [on a {background} background]",
]

SPECIALS = ["<pad>", "<unk>"]
PAD, UNK = 0, 1


def _template_words() -> list[str]:
    words: list[str] = []
    for t in TEMPLATES:
        for w in re.sub(r"\{\w+\}|[\[\]]", " ", t).split():
            if w not in words:
                words.append(w)
    return words


# ---------------------------------------------------------------------------------------------
# Vocabulary and tokenizer
# ---------------------------------------------------------------------------------------------


class Vocabulary:
    """A closed word list with ``encode`` (text -> ids) and ``decode`` (ids -> text).

    Id 0 is ``<pad>``, id 1 ``<unk>`` (any word not in the list). Text is lower-cased and split
    into words and the punctuation marks ``,`` and ``.``; multi-word names (``half moon``,
    also ``half-moon`` or ``half_moon``) become one token.
    """

    def __init__(self, words: Sequence[str]) -> None:
        self.words: list[str] = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        if len(set(self.words)) != len(self.words):
            raise ValueError("vocabulary words must be unique")
        self.index: dict[str, int] = {w: i for i, w in enumerate(self.words)}
        # "half moon" -> "half_moon": the tokens that contain an underscore, longest first.
        self._phrases = sorted((w for w in self.words if "_" in w), key=len, reverse=True)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def split(self, text: str) -> list[str]:
        """Text -> normalised word strings (the tokens, before lookup)."""
        text = text.lower()
        for phrase in self._phrases:
            spaced = phrase.replace("_", " ")
            text = re.sub(
                rf"\b{re.escape(spaced)}\b|\b{re.escape(phrase.replace('_', '-'))}\b", phrase, text
            )
        return re.findall(r"[a-z0-9_]+|[.,]", text)

    def encode(self, text: str) -> list[int]:
        """Text -> ids (unknown words map to ``<unk>``)."""
        return [self.index.get(w, UNK) for w in self.split(text)]

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """Ids -> text; padding is skipped and ``half_moon`` is written "half moon"."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        words = [self.words[i].replace("_", " ") for i in ids if i != PAD]
        return re.sub(r" ([.,])", r"\1", " ".join(words))

    def content_words(self) -> list[str]:
        """The words that carry a fact (shapes, colours, positions, sizes, backgrounds)."""
        facts = set(SHAPE_NAMES) | set(COLOUR_NAMES) | set(SIZE_NAMES) | set(BACKGROUND_WORDS)
        facts |= {w for p in POSITION_NAMES for w in p.split()}
        return [w for w in self.words if w in facts]


VOCAB = Vocabulary(
    list(
        dict.fromkeys(
            _template_words()
            + ["an"]
            + SHAPE_NAMES
            + COLOUR_NAMES
            + [w for p in POSITION_PHRASES for w in p.split()]
            + SIZE_NAMES
            + BACKGROUND_WORDS
        )
    )
)


def tokenize(
    text: str | Sequence[str], length: int | None = None, vocab: Vocabulary = VOCAB
) -> Tensor:
    """Text -> token ids: ``(L,)`` for one string, ``(B, L)`` padded with 0 for a list.

    Args:
        text: a caption or prompt (e.g. "a photo of a star"), or a list of them.
        length: pad (or cut) every sequence to this many tokens; default: the longest.
        vocab: the vocabulary (the module's ``VOCAB`` by default).

    Raises:
        ValueError: an empty list, or a text with no tokens at all.
    """
    single = isinstance(text, str)
    texts = [text] if single else list(text)
    if not texts:
        raise ValueError("text must be a string or a non-empty list of strings")
    ids = [vocab.encode(t) for t in texts]
    for t, i in zip(texts, ids, strict=True):
        if not i:
            raise ValueError(f"text {t!r} has no words to tokenize")
    length = length or max(len(i) for i in ids)
    out = torch.full((len(ids), length), PAD, dtype=torch.long)
    for row, i in enumerate(ids):
        i = i[:length]
        out[row, : len(i)] = torch.tensor(i, dtype=torch.long)
    return out[0] if single else out


def decode(ids: Sequence[int] | Tensor, vocab: Vocabulary = VOCAB) -> str | list[str]:
    """Token ids -> text: one string for ``(L,)``, a list for ``(B, L)``."""
    if isinstance(ids, Tensor) and ids.ndim == 2:
        return [vocab.decode(row) for row in ids]
    return vocab.decode(ids)


# ---------------------------------------------------------------------------------------------
# From factors to words
# ---------------------------------------------------------------------------------------------


def colour_names(rgb: Tensor) -> Tensor:
    """Index into ``COLOUR_NAMES`` of the colour word for each ``(N, 3)`` RGB row in [0, 1]."""
    rgb = rgb.float().cpu()
    mx, mn = rgb.max(dim=1).values, rgb.min(dim=1).values
    chroma = mx - mn
    r, g, b = rgb.unbind(dim=1)
    # Hue in degrees, the usual piecewise formula of the RGB -> HSV conversion.
    c = chroma.clamp(min=1e-8)
    hue = (
        torch.where(
            mx == r, ((g - b) / c) % 6, torch.where(mx == g, (b - r) / c + 2, (r - g) / c + 4)
        )
        * 60
    )
    hue_word = torch.bucketize(hue, torch.tensor(HUE_EDGES), right=True) % len(HUE_NAMES)
    grey_word = len(HUE_NAMES) + (mx * len(GREY_NAMES)).long().clamp(0, len(GREY_NAMES) - 1)
    return torch.where(chroma < GREY_CHROMA, grey_word, hue_word)


def _position_index(pos: Tensor) -> Tensor:
    x, y = pos[:, 0].cpu(), pos[:, 1].cpu()
    col = torch.where(x < -POSITION_THRESHOLD, 0, torch.where(x > POSITION_THRESHOLD, 2, 1))
    row = torch.where(y > POSITION_THRESHOLD, 0, torch.where(y < -POSITION_THRESHOLD, 2, 1))
    return 3 * row + col


def _size_index(scale: Tensor) -> Tensor:
    lo, hi = shapes.SCALE_RANGE
    third = (scale.cpu() - lo) / (hi - lo) * 3
    return third.floor().long().clamp(0, 2)


def _fill(template: str, slots: dict[str, str | None]) -> str:
    """Fill ``template``; a ``[...]`` part with a slot that is None disappears."""

    def optional(m: re.Match) -> str:
        names = re.findall(r"\{(\w+)\}", m.group(1))
        return "" if any(slots.get(k) is None for k in names) else m.group(1)

    text = re.sub(r"\[([^\]]*)\]", optional, template)
    words = re.sub(r"\{(\w+)\}", lambda m: slots[m.group(1)], text).split()
    for i, w in enumerate(words[:-1]):  # article agreement: "an orange star", "an ell"
        if w in ("a", "an"):
            words[i] = "an" if words[i + 1][0] in "aeiou" else "a"
    return " ".join(words)


# ---------------------------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------------------------


@dataclass
class CaptionedShapes:
    """Images and their captions, row by row.

    Attributes:
        images: the rendered ``ImageData`` (``x``, ``y``, ``classes``, ``factors``).
        tokens: ``(N, L)`` int64 caption token ids, padded with 0.
        texts: the N captions as strings (after noise).
        vocab: the :class:`Vocabulary` of ``tokens``.
        matched: ``(N,)`` bool, False where the caption belongs to another image.
        template: ``(N,)`` int64 index into ``TEMPLATES`` of each caption.
        attributes: ground-truth word indices per factor: ``shape`` (= y), ``colour``
            (``COLOUR_NAMES``), ``position`` (``POSITION_NAMES``), ``size`` (``SIZE_NAMES``),
            ``background`` (``BACKGROUND_WORDS``), each ``(N,)`` int64, for the *image*.
    """

    images: ImageData
    tokens: Tensor
    texts: list[str]
    vocab: Vocabulary
    matched: Tensor
    template: Tensor
    attributes: dict[str, Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def x(self) -> Tensor:
        return self.images.x

    @property
    def y(self) -> Tensor:
        return self.images.y

    @property
    def classes(self) -> list[str]:
        return self.images.classes

    def pairs(self) -> tuple[Tensor, Tensor]:
        """``(x, tokens)``: what ``fit`` takes for a two-modality method like CLIP."""
        return self.images.x, self.tokens.to(self.images.x.device)

    def to(self, device: torch.device | str) -> CaptionedShapes:
        return replace(self, images=self.images.to(device), tokens=self.tokens.to(device))

    def subset(self, index: Tensor) -> CaptionedShapes:
        """Rows ``index`` (a 1-D index tensor) of every field."""
        idx = index.cpu()
        return replace(
            self,
            images=self.images.subset(index.to(self.images.x.device)),
            tokens=self.tokens[index.to(self.tokens.device)],
            texts=[self.texts[i] for i in idx.tolist()],
            matched=self.matched[idx],
            template=self.template[idx],
            attributes={k: v[idx] for k, v in self.attributes.items()},
        )

    def split(self, n_test: int, seed: int = 0) -> tuple[CaptionedShapes, CaptionedShapes]:
        """A seeded random (train, test) split with ``n_test`` test pairs."""
        if not 0 < n_test < len(self):
            raise ValueError(f"n_test must be in (0, {len(self)}), got {n_test}")
        perm = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        return self.subset(perm[n_test:]), self.subset(perm[:n_test])


def make_captioned_shapes(
    n: int = 10_000,
    image_size: int = 32,
    *,
    seed: int = 0,
    describe: Sequence[str] = ("shape", "colour", "position", "size"),
    templates: Sequence[int] | None = None,
    swap_prob: float = 0.0,
    mismatch: float = 0.0,
    length: int | None = None,
    device: torch.device | str = "cpu",
    **shape_kwargs,
) -> CaptionedShapes:
    """Render ``n`` seeded ``shapes`` images and write a caption for each from its factors.

    Args:
        n: number of image-caption pairs.
        image_size: side in pixels (see ``make_shapes``).
        seed: the same seed gives the same images, captions and noise.
        describe: which factors captions mention, from ``FACTORS``; ``"shape"`` is required
            (it is what zero-shot classification asks for).
        templates: indices into ``TEMPLATES`` to draw from (default: all of them).
        swap_prob: in [0, 1): probability that each word is replaced by a random content word.
        mismatch: in [0, 1): fraction of images whose caption is another image's.
        length: pad every caption to this many tokens (default: the longest caption).
        device: where the images and tokens are returned.
        **shape_kwargs: passed to ``make_shapes`` (``n_classes``, ``background``,
            ``contrast``, ``fine_grained``); one object per image.

    Returns:
        A :class:`CaptionedShapes`.

    Raises:
        ValueError: an unknown factor or template, a probability out of range, several objects.

    Example:
        >>> data = make_captioned_shapes(2000, 16, seed=0, mismatch=0.1)
        >>> fit(clip_model, data.pairs(), steps=300)
    """
    unknown = set(describe) - set(FACTORS)
    if unknown:
        raise ValueError(f"describe must name factors from {FACTORS}, got {sorted(unknown)}")
    if "shape" not in describe:
        raise ValueError("describe must include 'shape' (the class every caption names)")
    templates = list(range(len(TEMPLATES))) if templates is None else list(templates)
    if not templates or any(not 0 <= t < len(TEMPLATES) for t in templates):
        raise ValueError(f"templates must be indices in 0..{len(TEMPLATES) - 1}, got {templates}")
    if not 0 <= swap_prob < 1:
        raise ValueError(f"swap_prob must be in [0, 1), got {swap_prob}")
    if not 0 <= mismatch < 1:
        raise ValueError(f"mismatch must be in [0, 1), got {mismatch}")
    if shape_kwargs.get("n_objects", 1) != 1:
        raise ValueError("captions describe one object per image: n_objects must be 1")

    images = make_shapes(n, image_size, seed=seed, device=device, **shape_kwargs)
    f = images.factors
    attributes = {
        "shape": images.y.cpu(),
        "colour": colour_names(f["colour"]),
        "position": _position_index(f["position"]),
        "size": _size_index(f["scale"]),
        "background": f["background"].cpu().long(),
    }
    # A generator of its own (offset seed) so captions never perturb the images' random stream.
    g = torch.Generator().manual_seed(seed + 7919)
    template = torch.tensor(templates)[torch.randint(0, len(templates), (n,), generator=g)]
    say = set(describe)
    texts = []
    for i in range(n):
        slots = {
            "shape": images.classes[int(attributes["shape"][i])].replace("_", " "),
            "colour": COLOUR_NAMES[int(attributes["colour"][i])] if "colour" in say else None,
            "where": POSITION_PHRASES[int(attributes["position"][i])]
            if "position" in say
            else None,
            "size": SIZE_NAMES[int(attributes["size"][i])] if "size" in say else None,
            "background": BACKGROUND_WORDS[int(attributes["background"][i])]
            if "background" in say
            else None,
        }
        texts.append(_fill(TEMPLATES[int(template[i])], slots))

    ids = [VOCAB.encode(t) for t in texts]
    if swap_prob > 0:
        content = torch.tensor([VOCAB.index[w] for w in VOCAB.content_words()])
        for row in ids:
            hit = (torch.rand(len(row), generator=g) < swap_prob).nonzero().flatten().tolist()
            for j in hit:
                row[j] = int(content[torch.randint(0, len(content), (1,), generator=g)])
    matched = torch.ones(n, dtype=torch.bool)
    n_bad = int(round(mismatch * n))
    if n_bad >= 2:
        # A cyclic shift within a random subset: every picked image gets another's caption.
        bad = torch.randperm(n, generator=g)[:n_bad]
        ids_bad = [ids[i] for i in bad.roll(1).tolist()]
        for i, row in zip(bad.tolist(), ids_bad, strict=True):
            ids[i] = row
        matched[bad] = False
    texts = [VOCAB.decode(row) for row in ids]

    length = length or max(len(row) for row in ids)
    tokens = torch.full((n, length), PAD, dtype=torch.long)
    for i, row in enumerate(ids):
        row = row[:length]
        tokens[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return CaptionedShapes(
        images=images,
        tokens=tokens.to(device),
        texts=texts,
        vocab=VOCAB,
        matched=matched,
        template=template,
        attributes=attributes,
    )
