"""MAE: hide most of an image's patches, encode the rest, and reconstruct the hidden pixels.

Reference: Kaiming He, Xinlei Chen, Saining Xie, Yanghao Li, Piotr Dollar, Ross Girshick,
"Masked Autoencoders Are Scalable Vision Learners", CVPR 2022, https://arxiv.org/abs/2111.06377.

    p = patchify(x)                              (N, P, C p p): the image as P patches
    keep, mask = random_masking(P, ratio)        a random 1 - ratio of the patches stay visible
    h = Enc(p[keep] + pos[keep])                 the encoder sees only the visible patches
    p_hat = Dec(h at keep, mask token elsewhere) a light decoder fills in every position
    loss = mean over hidden patches of ||p_hat - p||^2     (pixels standardised per patch
                                                            when norm_pix)

No second view, no augmentation and no negatives: the task is made hard by hiding most of the
image (75% in the paper, far more than BERT's 15% of words, because neighbouring patches are
redundant). The decoder is thrown away; ``embed`` is the encoder on *all* patches, mean-pooled.
The paper evaluates it two ways: a frozen linear probe, where MAE trails contrastive methods,
and end-to-end fine-tuning, where it leads (:func:`fine_tune_accuracy`).

Scaled down: a 3-block, width-64 ViT on 16x16 (or 32x32) images cut into 4x4 patches (16 or
64 tokens) instead of ViT-L/16 on 224x224 ImageNet; a 1-block, width-32 decoder instead of
8 x 512; Adam for a few hundred steps instead of AdamW for 800-1600 epochs; no augmentation at
all (the paper uses random resized crops). The target is raw pixels by default
(``norm_pix=False``): see the notebook for what per-patch standardisation does at this scale.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import random_masking
from ..data.base import ImageData
from ..losses import masked_reconstruction_loss
from ..models import MAEDecoder, TinyViT
from ..utils import eval_mode
from .base import Example, Method, images

__all__ = ["MAE", "fine_tune_accuracy"]


class MAE(Method):
    """A tiny ViT encoder pre-trained by masked reconstruction with a light decoder.

    Args:
        vit: the encoder, a :class:`~contrastkit.models.TinyViT` (its ``tokens(x, keep)`` encodes
            only the visible patches).
        mask_ratio: the hidden share of the patches, in ``[0, 1)`` (0.75 in the paper).
        decoder_dim, decoder_depth, decoder_heads: the :class:`~contrastkit.models.MAEDecoder`.
        norm_pix: reconstruct each patch standardised to zero mean and unit variance (the
            paper's best setting on ImageNet) instead of its raw pixels.

    ``loss`` also reports ``{"mse_visible"}``: the error on the patches the encoder *did* see
    (not trained; logged to show the decoder copies them back almost for free).

    Example:
        >>> mae = MAE(TinyViT(image_size=16, patch=4), mask_ratio=0.75)
        >>> hist = ck.fit(mae, shapes.x, steps=300, batch_size=256, lr=1e-3)
        >>> z = ck.embed(mae, shapes.x)                 # (N, 64): all patches, mean-pooled
    """

    input_kind = "images"

    def __init__(
        self,
        vit: TinyViT,
        mask_ratio: float = 0.75,
        decoder_dim: int = 32,
        decoder_depth: int = 1,
        decoder_heads: int = 4,
        norm_pix: bool = False,
    ) -> None:
        super().__init__()
        if not 0 <= mask_ratio < 1:
            raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio!r}")
        for attr in ("tokens", "patches", "n_patches", "patch_dim", "out_dim"):
            if not hasattr(vit, attr):
                raise TypeError(f"vit must be a TinyViT-like encoder with .{attr}")
        self.encoder = vit
        self.decoder = MAEDecoder(
            vit.n_patches, vit.out_dim, vit.patch_dim, decoder_dim, decoder_depth, decoder_heads
        )
        self.mask_ratio = mask_ratio
        self.norm_pix = norm_pix

    def reconstruct(self, x: Tensor, keep: Tensor) -> Tensor:
        """Predicted patches ``(N, P, C p p)`` of ``x`` from its visible patches ``keep (N, K)``.

        With ``norm_pix`` the prediction is in standardised units (see ``explore.mae`` for
        mapping it back to pixels with the true patch's mean and spread).
        """
        return self.decoder(self.encoder.tokens(x, keep), keep)

    def loss(self, batch: Tensor | tuple) -> tuple[Tensor, dict[str, float]]:
        x = images(batch)  # (N, C, S, S)
        target = self.encoder.patches(x)  # (N, P, C p p)
        n, p = target.shape[:2]
        keep, mask = random_masking(n, p, self.mask_ratio, device=x.device)  # (N, K), (N, P)
        pred = self.reconstruct(x, keep)  # (N, P, C p p)
        loss = masked_reconstruction_loss(pred, target, mask, norm_pix=self.norm_pix)
        visible = float(masked_reconstruction_loss(pred.detach(), target, ~mask, self.norm_pix))
        return loss, {"mse_visible": visible}

    def embed(self, x: Tensor) -> Tensor:
        """The encoder on every patch (no masking), mean-pooled: ``(N, dim)``."""
        return self.encoder(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        torch.manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
        vit = TinyViT(image_size=16, patch=4, dim=16, depth=1, heads=2)
        return Example(cls(vit, decoder_dim=16, decoder_heads=2), x, x)


def fine_tune_accuracy(
    encoder: nn.Module,
    train: ImageData,
    test: ImageData,
    *,
    steps: int = 200,
    batch_size: int = 128,
    lr: float = 5e-4,
    head_lr: float = 5e-3,
    seed: int = 0,
) -> float:
    """Test accuracy after end-to-end fine-tuning: a linear head on ``encoder``, both trained.

    The paper's second protocol (its Table 1 against linear probing): every weight of the
    pre-trained encoder moves, with a lower learning rate than the new head. The encoder is
    deep-copied, so the pre-trained one is left as it was.

    Args:
        encoder: a module mapping images to ``(N, out_dim)`` features (``out_dim`` attribute).
        train, test: labelled :class:`~contrastkit.data.base.ImageData` on one device.
        steps, batch_size: Adam steps on random labelled batches.
        lr, head_lr: learning rates of the encoder and of the linear head.
        seed: the batches' and the head's seed.

    Returns:
        The fraction of ``test`` classified correctly.

    Raises:
        ValueError: ``steps < 1`` or ``batch_size`` outside ``[1, len(train)]`` (named).
    """
    import copy

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 1 <= batch_size <= len(train.y):
        raise ValueError(f"batch_size must be in [1, {len(train.y)}], got {batch_size}")
    gen = torch.Generator().manual_seed(seed)
    net = copy.deepcopy(encoder)
    dev = next(net.parameters()).device
    n_classes = int(max(train.y.max(), test.y.max())) + 1
    torch.manual_seed(seed)
    head = nn.Linear(net.out_dim, n_classes).to(dev)
    opt = torch.optim.Adam(
        [{"params": net.parameters(), "lr": lr}, {"params": head.parameters(), "lr": head_lr}]
    )
    net.train()
    x, y = train.x.to(dev), train.y.to(dev)
    for _ in range(steps):
        idx = torch.randint(len(y), (batch_size,), generator=gen).to(dev)
        loss = F.cross_entropy(head(net(x[idx])), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad(), eval_mode(net):
        pred = torch.cat([head(net(b.to(dev))).argmax(1).cpu() for b in test.x.split(1024)])
    return float((pred == test.y.cpu()).float().mean())


METHOD = MAE
