"""OBoW: a student predicts, from a perturbed crop, the teacher's bag of visual words of the image.

Reference: Spyros Gidaris, Andrei Bursuc, Gilles Puy, Nikos Komodakis, Matthieu Cord, Patrick
Perez, "OBoW: Online Bag-of-Visual-Words Generation for Self-Supervised Learning", CVPR 2021,
https://arxiv.org/abs/2012.11552 (code: https://github.com/valeoai/obow).

    F = ~f(x)                       teacher (EMA of the student) feature map, L local features
    V                               vocabulary: K words, a queue of randomly picked, locally
                                    averaged teacher features (updated online, every step)
    d_lk = ||F_l - V_k||^2          codes  c_l = softmax_k(-inv_delta * d_lk / mean_l min_k d_lk)
    y = normalize_L1(max_l c_l)     the image's bag of visual words (BoW), (K,)
    s = f(crop(x))                  student: global feature of a perturbed crop
    W = gen(V)                      prediction weights generated from the current vocabulary
    p = softmax(kappa * cos(s, W_k))
    loss = cross-entropy(y, p)      = KL(y || p) + const: predict the whole image's words,
                                      including those of parts the crop does not show

The target is a distribution over words, not an instance identity: no negatives are needed,
and to predict the words of the parts a crop misses the student has to reason about what
usually appears together (context).

Scaled down: one feature level (the paper uses two ResNet stages), K = 64 words instead of
8,192, a vocabulary refreshed from the current batch only, one teacher view (the whole image)
and one student crop per image (the paper: 2 x 160 px + 5 x 96 px crops), the vocabulary
stored unit-normalised (``contrastkit.blocks.Queue``), so ``d^2 = 2 - 2 cos``; Adam; a few
hundred steps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, augment
from ..blocks import MomentumEncoder, Queue
from ..models import projection_head
from .base import Example, Method, images

View = Callable[[Tensor], Tensor] | AugmentConfig | str | None


def feature_map(encoder: nn.Module, x: Tensor) -> Tensor:
    """The encoder's spatial feature map ``(N, C, h, w)``, before global pooling.

    Uses ``encoder.features(x)`` when the encoder defines it; otherwise an encoder whose
    ``net`` ends with ``AdaptiveAvgPool2d, Flatten`` (``SmallConvNet``) is cut before them.

    Raises:
        TypeError: for an encoder that offers neither.
    """
    if hasattr(encoder, "features"):
        return encoder.features(x)
    net = getattr(encoder, "net", None)
    if (
        isinstance(net, nn.Sequential)
        and len(net) >= 2
        and isinstance(net[-2], nn.AdaptiveAvgPool2d)
        and isinstance(net[-1], nn.Flatten)
    ):
        return net[:-2](x)
    raise TypeError(
        "encoder must define features(x) -> (N, C, h, w) or be a SmallConvNet-style module whose "
        f"net ends with AdaptiveAvgPool2d + Flatten; got {type(encoder).__name__}"
    )


def soft_assign(
    features: Tensor, vocabulary: Tensor, inv_delta: float, scale: Tensor | float
) -> Tensor:
    """OBoW's soft codes of local features over the vocabulary.

    Args:
        features: ``(N, L, C)`` local features. vocabulary: ``(K, C)`` words.
        inv_delta: sharpness (15 in the paper): larger is closer to hard assignment.
        scale: the typical distance to the nearest word (a positive number): distances are
            divided by it, so ``inv_delta`` does not depend on the feature scale.

    Returns:
        ``(N, L, K)`` codes, each row a distribution over words.
    """
    d2 = torch.cdist(features, vocabulary[None].expand(len(features), -1, -1)).square()  # (N,L,K)
    return F.softmax(-inv_delta * d2 / scale, dim=-1)  # softmax: stable for any inv_delta


def bag_of_words(codes: Tensor) -> Tensor:
    """``(N, L, K)`` codes -> ``(N, K)`` BoW: max over locations, then L1-normalised."""
    bow = codes.amax(dim=1)
    return bow / bow.sum(dim=1, keepdim=True).clamp_min(1e-12)


def perplexity(bow: Tensor) -> float:
    """``exp(entropy)`` of the batch's mean BoW: how many words are in use (K at most)."""
    p = bow.mean(0).clamp_min(1e-12)
    return float(torch.exp(-(p * p.log()).sum()))


def _apply(view: View, x: Tensor) -> Tensor:
    if view is None:
        return x
    if callable(view):
        return view(x)
    return augment(x, view)


class OBoW(Method):
    """Student predicts the EMA teacher's bag of visual words of the whole image from a crop.

    Args:
        encoder: a ConvNet with an ``out_dim`` attribute whose feature map ``feature_map``
            can reach (``SmallConvNet``, or any module with ``features(x)``).
        vocab_size: K, the number of visual words (8,192 in the paper).
        inv_delta: sharpness of the soft assignment (15 in the paper).
        momentum: the teacher's EMA momentum (0.99 in the paper).
        kappa: initial inverse temperature of the predictor's cosine logits (learned).
        student_view: what the student sees: a callable ``x -> crop``, an ``AugmentConfig`` or
            a preset name (default ``"strong"``: small random crops, colour jitter).
        teacher_view: what the teacher sees: ``None`` (the image itself, default) or as above.
        distance_momentum: EMA momentum of the mean nearest-word distance used as ``scale``.

    Example:
        >>> model = OBoW(SmallConvNet(), vocab_size=64)
        >>> hist = ck.fit(model, shapes.x, steps=300, batch_size=128)

    ``loss`` also returns the perplexity of the batch's target BoW (how many words are in use),
    which ``fit`` logs. The notebook trains it on part scenes whose student view is a crop
    (``input_kind = "scenes"``); any image batch works the same way.
    """

    input_kind = "scenes"

    def __init__(
        self,
        encoder: nn.Module,
        vocab_size: int = 64,
        inv_delta: float = 15.0,
        momentum: float = 0.99,
        kappa: float = 5.0,
        student_view: View = "strong",
        teacher_view: View = None,
        distance_momentum: float = 0.99,
    ) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
        if not inv_delta > 0:
            raise ValueError(f"inv_delta must be > 0, got {inv_delta!r}")
        if not kappa > 0:
            raise ValueError(f"kappa must be > 0, got {kappa!r}")
        if not 0.0 <= distance_momentum < 1.0:
            raise ValueError(f"distance_momentum must be in [0, 1), got {distance_momentum!r}")
        self.encoder = encoder
        c = encoder.out_dim
        self.teacher = MomentumEncoder(encoder, momentum)
        self.vocabulary = Queue(vocab_size, c)
        # BoWPredictor: the weight of word k is generated from the word itself, so the
        # predictor follows the vocabulary as it changes
        self.generator = projection_head(c, hidden=c, out_dim=c)
        self.log_kappa = nn.Parameter(torch.tensor(float(kappa)).log())
        self.register_buffer("scale", torch.zeros(()))  # EMA of the mean nearest-word d^2
        self.inv_delta = float(inv_delta)
        self.distance_momentum = distance_momentum
        self.student_view = student_view
        self.teacher_view = teacher_view
        self._words: Tensor | None = None

    @torch.no_grad()
    def teacher_features(self, x: Tensor) -> Tensor:
        """The teacher's unit-normalised local features of ``x``, ``(N, L, C)``."""
        fmap = feature_map(self.teacher.target, x)  # (N, C, h, w)
        return F.normalize(fmap.flatten(2).transpose(1, 2), dim=-1)

    @torch.no_grad()
    def teacher_bow(self, x: Tensor) -> Tensor:
        """The teacher's bag of visual words of ``x``, ``(N, K)`` (no state changes)."""
        if int(self.vocabulary.filled) == 0:
            raise RuntimeError("the vocabulary is empty: train at least one step (loss) first")
        local = self.teacher_features(x)
        return bag_of_words(soft_assign(local, self.vocabulary.get(), self.inv_delta, self.scale))

    @torch.no_grad()
    def _update_scale(self, local: Tensor) -> None:
        d2 = torch.cdist(local, self.vocabulary.get()[None].expand(len(local), -1, -1)).square()
        mean_min = d2.amin(-1).mean().clamp_min(1e-6)
        m = self.distance_momentum if float(self.scale) > 0 else 0.0
        self.scale.mul_(m).add_(mean_min, alpha=1 - m)

    def predict(self, x: Tensor) -> Tensor:
        """The student's predicted BoW logits for (crops of) images ``x``, ``(N, K)``."""
        vocab = self.vocabulary.get()
        words = F.normalize(self.generator(vocab), dim=1)  # (K, C)
        s = F.normalize(self.encoder(x), dim=1)  # (N, C)
        return self.log_kappa.exp() * s @ words.T

    def loss(self, batch: Tensor | tuple) -> tuple[Tensor, dict[str, float]]:
        x = images(batch)
        local = self.teacher_features(_apply(self.teacher_view, x))  # (N, L, C)
        if int(self.vocabulary.filled) == 0:  # the very first step: words from this batch
            self.vocabulary.push(self._sample_words(local))
        if self.training or float(self.scale) == 0.0:
            self._update_scale(local)
        vocab = self.vocabulary.get()  # (K, C)
        target = bag_of_words(soft_assign(local, vocab, self.inv_delta, self.scale))  # (N, K)
        logits = self.predict(_apply(self.student_view, x))  # (N, K)
        loss = -(target * F.log_softmax(logits, dim=1)).sum(1).mean()
        self._words = self._sample_words(local)
        return loss, {"perplexity": perplexity(target)}

    @staticmethod
    def _sample_words(local: Tensor) -> Tensor:
        """One random locally averaged teacher feature per image, ``(N, C)``."""
        n, length, c = local.shape
        side = int(round(length**0.5))
        if side * side == length and side > 1:  # square map: 3x3 local averages, as OBoW
            fmap = local.transpose(1, 2).reshape(n, c, side, side)
            pooled = F.avg_pool2d(fmap, 3, stride=1, padding=1, count_include_pad=False)
            local = pooled.flatten(2).transpose(1, 2)
        idx = torch.randint(0, length, (n,), device=local.device)
        return local[torch.arange(n, device=local.device), idx]

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        """EMA teacher; this step's sampled teacher features enter the vocabulary."""
        self.teacher.update(self.encoder)
        if self._words is not None:
            self.vocabulary.push(self._words)
            self._words = None

    def embed(self, x: Tensor) -> Tensor:
        """The representation used downstream: the student encoder's pooled features."""
        return self.encoder(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..data.synthetic import random_crop
        from ..models import SmallConvNet

        torch.manual_seed(seed)
        x = torch.rand(8, 4, 6, 6, generator=torch.Generator().manual_seed(seed))  # 6x6 scenes
        model = cls(
            SmallConvNet(in_channels=4, widths=(8, 16)),
            vocab_size=8,
            student_view=lambda v: random_crop(v, 4)[0],  # a 4x4 window of the scene
        )
        return Example(model, x, x)


METHOD = OBoW
