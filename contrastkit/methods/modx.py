"""Mod-X: continual CLIP training that distils the old model's whole similarity matrix.

Reference: Zixuan Ni, Longhui Wei, Siliang Tang, Yueting Zhuang, Qi Tian, "Continual
Vision-Language Representation Learning with Off-Diagonal Information", ICML 2023,
https://arxiv.org/abs/2305.07437 (code: github.com/ZixuanNi/Mod-X).

A CLIP model trained on a stream of domains, one after the other, forgets the old ones. The
paper traces the forgetting to "spatial disorder": the geometry of the old samples' embeddings
is rotated within each modality and the image and text spaces drift apart. Mod-X keeps a frozen
copy of the model from the end of the previous phase and, on every current batch, distils its
full image-text similarity matrix, off-diagonal entries included:

    a, b = image and text embeddings of the batch (current model), a_old, b_old (frozen old model)
    S = norm(a) norm(b)^T / t_d,  S_old = norm(a_old) norm(b_old)^T / t_d      (N, N)
    distil = (mean_i KL(softmax(S_old_i) || softmax(S_i)) + same over columns) / 2
             rows / columns the old model gets wrong are skipped ("cognition align")
    loss = clip_loss(a, b, t) + alpha * distil          (losses.similarity_distillation)

The baseline is plain sequential fine-tuning: the same model, stream and budget, ``alpha = 0``.

Scaled down: an MLP image tower and a bag-of-words text tower (``clip.TextEncoder``) trained
from scratch instead of a COCO-pretrained ResNet-50 CLIP; 4 domains of generated captioned
shapes (``make_multimodal(n_domains=4)``: background, contrast and caption templates change)
instead of Flickr30K / COCO / ECommerce-T2I phases; a few hundred steps per phase. The paper's
code distils at temperature 1 on raw cosines with a sum over rows and alpha = 20; here the
softmaxes use ``t_d`` (0.1 by default) and a mean over rows with alpha around 1, the same
objective on a scale that does not need a large alpha.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor

from ..losses import clip_loss, similarity_distillation
from ..metrics import recall_at_k
from ..utils import eval_mode
from .base import Example, Method
from .clip import CLIP, TextEncoder


class ModX(Method):
    """A CLIP model trained phase by phase, distilling the previous phase's similarity matrix.

    Args:
        clip: the two-tower model (:class:`contrastkit.methods.clip.CLIP`) being trained.
        alpha: weight of the distillation term (0: plain fine-tuning, the baseline).
        distill_temperature: ``t_d`` of the two softmaxes in the distillation.
        filter_wrong: skip the rows the old model retrieves wrongly ("cognition align").

    Call :meth:`new_phase` before training on each new domain: it freezes a copy of the model
    as the teacher of that phase (the first phase has no teacher, so it is plain CLIP).

    Example:
        >>> model = ModX(CLIP(MLP(768, (256,), 64), TextEncoder(len(VOCAB), 64)), alpha=1.0)
        >>> for d in range(4):
        ...     model.new_phase()
        ...     fit(model, stream.for_domain(d).tensors(), steps=200)
    """

    input_kind = "image_text"

    def __init__(
        self,
        clip: CLIP,
        alpha: float = 1.0,
        distill_temperature: float = 0.1,
        filter_wrong: bool = True,
    ) -> None:
        super().__init__()
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        if not distill_temperature > 0:
            raise ValueError(f"distill_temperature must be > 0, got {distill_temperature}")
        self.clip = clip
        self.alpha = alpha
        self.distill_temperature = distill_temperature
        self.filter_wrong = filter_wrong
        self.old: CLIP | None = None  # the frozen teacher of the current phase
        self.phase = -1

    def new_phase(self) -> None:
        """Start a new domain: the current model, frozen, becomes the teacher (from phase 1)."""
        self.phase += 1
        if self.phase == 0 or self.alpha == 0:
            return
        self.old = copy.deepcopy(self.clip).eval()
        for p in self.old.parameters():
            p.requires_grad_(False)

    def _project(self, model: CLIP, x: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
        return model.image_proj(model.image_encoder(x)), model.text_proj(model.text_encoder(tokens))

    def loss(self, batch: Sequence[Tensor]) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError("ModX needs (images, tokens) batches: fit(model, (x, tokens))")
        x, tokens = batch[0], batch[1]  # (N, C, H, W), (N, L)
        a, b = self._project(self.clip, x, tokens)  # (N, E) each; the losses normalise
        loss = clip_loss(a, b, self.clip.temperature)
        if self.old is not None and self.alpha > 0:
            self.old.eval()  # fit() puts every submodule in train mode; the teacher stays frozen
            with torch.no_grad():
                a_old, b_old = self._project(self.old, x, tokens)
            loss = loss + self.alpha * similarity_distillation(
                a, b, a_old, b_old, self.distill_temperature, self.filter_wrong
            )
        return loss

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        self.clip.after_step(step)

    def embed(self, x: Tensor) -> Tensor:
        return self.clip.embed(x)

    def similarity(self, x: Tensor, tokens: Tensor) -> Tensor:
        """``(N, B)`` image-text cosines of the current model (eval mode)."""
        return self.clip.similarity(x, tokens)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        """A model in its second phase (a frozen teacher from the first), and a toy batch."""
        from ..models import MLP

        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        x = torch.rand(8, 3, 8, 8, generator=g)
        tokens = torch.randint(1, 30, (8, 6), generator=g)
        model = cls(CLIP(MLP(3 * 8 * 8, (32,), 16), TextEncoder(30, 16), embed_dim=8))
        model.new_phase()
        model.new_phase()
        return Example(model, (x, tokens), x)


# ---------------------------------------------------------------------------------------------
# Forgetting and spatial disorder: pure functions the notebook and the tests call
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def encode_pairs(clip: CLIP, x: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
    """``(N, E)`` unit image and text embeddings of the pairs, in eval mode, on the CPU."""
    dev = clip.log_scale.device
    with eval_mode(clip):
        a, b = clip.encode_image(x.to(dev)).cpu(), clip.encode_text(tokens.to(dev)).cpu()
    return a, b


def spatial_disorder(
    before: tuple[Tensor, Tensor], after: tuple[Tensor, Tensor]
) -> dict[str, float]:
    """How the geometry of the same samples changed between two models (the paper's measures).

    Args:
        before, after: ``(image, text)`` unit embeddings ``(N, E)`` of the same pairs, from the
            model before and after further training (the spaces themselves may differ).

    Returns:
        ``{"intra_rotation": mean angle change in degrees between the image-image cosines of
        every pair of samples (how far the old geometry was rotated within a modality),
        "inter_deviation": drop of the mean matched image-text cosine}``.
    """
    (ia, ta), (ib, tb) = before, after
    if ia.shape != ib.shape or ta.shape[0] != ia.shape[0]:
        raise ValueError("before and after must embed the same N pairs")
    off = ~torch.eye(ia.shape[0], dtype=torch.bool)
    ang_a = torch.rad2deg(torch.acos((ia @ ia.T).clamp(-1, 1)))[off]
    ang_b = torch.rad2deg(torch.acos((ib @ ib.T).clamp(-1, 1)))[off]
    return {
        "intra_rotation": float((ang_a - ang_b).abs().mean()),
        "inter_deviation": float((ia * ta).sum(1).mean() - (ib * tb).sum(1).mean()),
    }


def r1_matrix(models: Sequence[CLIP], tests: Sequence[tuple[Tensor, Tensor]]) -> Tensor:
    """``(P, D)`` text -> image R@1 of the model after each phase ``p`` on each domain's test
    pairs ``d``: the phase x domain picture of forgetting."""
    out = torch.zeros(len(models), len(tests))
    for p, m in enumerate(models):
        for d, (x, tok) in enumerate(tests):
            a, b = encode_pairs(m, x, tok)
            out[p, d] = recall_at_k(b @ a.T)  # captions (rows) query the images
    return out


def class_incremental_stream(data, n_domains: int | None = None) -> list:
    """Split a ``make_multimodal(..., n_domains=D)`` set into a stream with new content per phase.

    Domain ``d`` keeps only its rows whose shape class is in the ``d``-th of ``D`` consecutive
    groups of classes (10 classes, 4 domains: 0-2, 3-5, 6-7, 8-9), so each phase brings a new
    style (the generator's ``DOMAIN_STYLES`` and caption templates) *and* new objects, as the
    paper's phases bring new datasets. Built from the generator's outputs only.

    Returns:
        A list of ``D`` :class:`MultimodalData`, one per phase.
    """
    d = int(data.domain.max()) + 1 if n_domains is None else n_domains
    groups = torch.arange(len(data.classes)).tensor_split(d)
    return [
        data.subset(((data.domain == k) & torch.isin(data.y, groups[k])).nonzero().flatten())
        for k in range(d)
    ]


METHOD = ModX
