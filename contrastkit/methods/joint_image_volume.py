"""Joint image-volume SSL: 2-D contrastive clustering of slices, 3-D clustering of volumes.

Reference: Duy M. H. Nguyen, Hoang Nguyen, Mai T. N. Truong, Tri Cao, Binh T. Nguyen, Nhat
Ho, Paul Swoboda, Shadi Albarqouni, Pengtao Xie, Daniel Sonntag, "Joint Self-Supervised
Image-Volume Representation Learning with Intra-Inter Contrastive Clustering", AAAI 2023,
https://arxiv.org/abs/2212.01893 (code:
https://github.com/duyhominhnguyen/Self-supervised-Image-Volume-Intra-Inter-Contrastive).

Medical data come as 2-D images and as 3-D volumes; one 2-D encoder ``f`` serves both. A
volume ``V = (v_1 .. v_D)`` is read as a sequence of slice embeddings ``h_d = f(v_d)`` that a
transformer ``T`` (with slice positions) fuses into one volume embedding ``u = T(h)_cls``.
Two augmented views of every volume give three losses:

    2-D (intra-slice) clustering:   L_2D  = SwAV(g(h^1_d), g(h^2_d); prototypes C_2D)
                                    over every slice d of every volume
    3-D (inter-slice) clustering:   L_3D  = SwAV(k(u^1), k(u^2); prototypes C_3D)
    masked slice-embedding          replace a random 25% of the tokens h_d by a learned [MASK],
    prediction (BERT-like):         L_mask = sum_masked ||p(T(h_masked)_d) - sg(h_d)||^2 / #masked

    loss = w_2D L_2D + w_3D L_3D + w_mask L_mask

where SwAV is the swapped prediction of Sinkhorn-equipartitioned codes
(:func:`contrastkit.losses.swav_loss`) and ``sg`` stops the gradient. With ``weights=(1, 0,
0)`` it is 2-D SwAV on slices alone (the paper's 2-D baseline); a volume is then summarised
by the mean of its slice embeddings (:meth:`JointImageVolume.embed_volume_mean`).

Scaled down: a small slice encoder on 12-px slices (the notebook: an MLP 144-256-64, which
keeps where the object is; a globally pooled ConvNet such as ``SmallConvNet(1, (16, 32, 64))``
forgets it) instead of a ResNet-50 on 128-px slices (64 per volume); one transformer layer of
width 64 with standard attention instead of a deformable-attention encoder-decoder (d_model
640, 4 layers); the encoder, transformer and both heads trained jointly from scratch in one run
instead of a frozen 2-D stage followed by a 3-D stage (at toy scale the slice encoder must also
learn what the 3-D task needs: where the object is); 16-32 prototypes instead of 3,000; Adam, a
few hundred steps. Volume views shift the whole volume by up to 2 px, rescale the intensity and
add noise; they never flip or reorder slices (the order carries the volume's class).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..losses import swav_loss
from ..models import projection_head
from ..prototypes import Prototypes
from .base import Example, Method, images


def shift_volumes(
    x: Tensor, max_shift: int = 2, generator: torch.Generator | None = None
) -> Tensor:
    """Translate each volume ``(B, D, S, S)`` by its own random (row, column) offset in
    ``[-max_shift, max_shift]`` px, the same for all of its slices (edges replicated)."""
    b, _, s, _ = x.shape
    off = torch.randint(-max_shift, max_shift + 1, (b, 2), generator=generator).to(x.device)
    r = torch.arange(s, device=x.device)
    rows = (r[None] - off[:, :1]).clamp(0, s - 1)  # (B, S)
    cols = (r[None] - off[:, 1:]).clamp(0, s - 1)
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    di = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return x[bi, di, rows[:, None, :, None], cols[:, None, None, :]]


def volume_view(x: Tensor, max_shift: int = 2, noise: float = 0.1) -> Tensor:
    """One random view of volumes ``(B, D, S, S)``: shift, intensity scale 0.7-1.3, noise."""
    x = shift_volumes(x, max_shift)
    scale = 0.7 + 0.6 * torch.rand(x.shape[0], 1, 1, 1, device=x.device)
    return x * scale + noise * torch.randn_like(x)


def random_token_mask(b: int, d: int, ratio: float, device: torch.device | str = "cpu") -> Tensor:
    """``(B, D)`` bool: exactly ``max(1, round(ratio * D))`` masked slices per volume."""
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must be in (0, 1), got {ratio!r}")
    m = max(1, round(ratio * d))
    ranks = torch.rand(b, d, device=device).argsort(1).argsort(1)
    return ranks < m


class SliceTransformer(nn.Module):
    """Fuses a sequence of slice embeddings ``(B, D, E)`` into a volume embedding.

    Tokens are projected to ``width``, given learned slice-position embeddings, and prefixed
    by a learned [CLS] token; masked slices (``mask (B, D)`` True) are replaced by a learned
    [MASK] token. Returns the [CLS] output ``(B, width)`` and the slice outputs
    ``(B, D, width)``.
    """

    def __init__(self, in_dim: int, depth: int, width: int = 64, heads: int = 2) -> None:
        super().__init__()
        self.depth = depth
        self.tokens = nn.Linear(in_dim, width)
        self.position = nn.Parameter(0.02 * torch.randn(depth + 1, width))
        self.cls = nn.Parameter(torch.zeros(width))
        self.mask_token = nn.Parameter(torch.zeros(width))
        layer = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=2 * width, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)

    def forward(self, h: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        b, d, _ = h.shape
        if d != self.depth:
            raise ValueError(f"h must have {self.depth} slices, got {d}")
        t = self.tokens(h)  # (B, D, W)
        if mask is not None:
            t = torch.where(mask[..., None], self.mask_token.expand_as(t), t)
        t = torch.cat([self.cls.expand(b, 1, -1), t], 1) + self.position  # (B, 1 + D, W)
        out = self.encoder(t)
        return out[:, 0], out[:, 1:]

    def attention(self, h: Tensor) -> Tensor:
        """The layer's attention weights ``(B, 1 + D, 1 + D)`` (head-averaged), [CLS] first."""
        b = h.shape[0]
        t = torch.cat([self.cls.expand(b, 1, -1), self.tokens(h)], 1) + self.position
        layer = self.encoder.layers[0]
        x = layer.norm1(t) if layer.norm_first else t
        _, w = layer.self_attn(x, x, x, need_weights=True, average_attn_weights=True)
        return w


class JointImageVolume(Method):
    """One 2-D encoder for slices and volumes: 2-D SwAV + 3-D SwAV + masked slice prediction.

    Batches are volumes ``(B, D, S, S)`` (a Tensor, or the first element of a tuple); ``embed``
    takes 2-D slices ``(N, 1, S, S)``. ``loss`` also returns its three parts (``2d``, ``3d``,
    ``mask``; 0 for a part whose weight is 0), which ``fit`` logs.

    Args:
        encoder: a 2-D encoder of one-channel slices with an ``out_dim`` (e.g.
            ``SmallConvNet(1, (16, 32, 64))``).
        depth: slices per volume ``D``.
        dim: size of the clustering embeddings (2-D and 3-D projection heads).
        width: the slice transformer's width.
        n_prototypes_2d, n_prototypes_3d: SwAV prototypes of the two levels.
        temperature: SwAV's prediction temperature (0.1). eps: Sinkhorn's (0.05).
        mask_ratio: fraction of slices masked for the embedding prediction (0.1 in the code,
            0.25 here; a volume of 12 slices masks 3).
        weights: ``(w_2D, w_3D, w_mask)``; ``(1, 0, 0)`` is the 2-D-only baseline.
        max_shift, noise: the volume views' shift (px) and noise std.

    Example:
        >>> model = JointImageVolume(SmallConvNet(1, (16, 32, 64)), depth=12)
        >>> hist = ck.fit(model, volumes.x, steps=300, batch_size=32)
    """

    input_kind = "volumes"

    def __init__(
        self,
        encoder: nn.Module,
        depth: int,
        dim: int = 32,
        width: int = 64,
        n_prototypes_2d: int = 32,
        n_prototypes_3d: int = 16,
        temperature: float = 0.1,
        eps: float = 0.05,
        mask_ratio: float = 0.25,
        weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        max_shift: int = 2,
        noise: float = 0.1,
    ) -> None:
        super().__init__()
        if len(weights) != 3 or min(weights) < 0 or weights[0] + weights[1] + weights[2] <= 0:
            raise ValueError(f"weights must be three numbers >= 0, not all 0, got {weights!r}")
        if not 0 < mask_ratio < 1:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio!r}")
        self.encoder = encoder
        e = encoder.out_dim
        self.slice_head = projection_head(e, out_dim=dim)  # g
        self.prototypes_2d = Prototypes(dim, n_prototypes_2d)
        self.fuse = SliceTransformer(e, depth, width)  # T
        self.volume_head = projection_head(width, out_dim=dim)  # k
        self.prototypes_3d = Prototypes(dim, n_prototypes_3d)
        self.predictor = nn.Linear(width, e)  # p: masked token -> slice embedding
        self.temperature, self.eps = temperature, eps
        self.mask_ratio, self.weights = mask_ratio, tuple(float(w) for w in weights)
        self.max_shift, self.noise = max_shift, noise

    def slice_embeddings(self, x: Tensor) -> Tensor:
        """Volumes ``(B, D, S, S)`` -> slice embeddings ``(B, D, E)``."""
        b, d, s, _ = x.shape
        return self.encoder(x.reshape(b * d, 1, s, s)).reshape(b, d, -1)

    def masked_prediction_loss(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """MSE of the predicted embeddings of the masked slices against ``sg(h)``, summed over
        dimensions and averaged over masked slices; also returns the predictions ``(M, E)``."""
        _, out = self.fuse(h, mask)
        pred = self.predictor(out[mask])  # (M, E)
        return (pred - h.detach()[mask]).square().sum(1).mean(), pred

    def loss(self, batch: Tensor | tuple) -> tuple[Tensor, dict[str, float]]:
        x = images(batch)
        if x.ndim != 4:
            raise ValueError(f"batch must be volumes (B, D, S, S), got {tuple(x.shape)}")
        b, d = x.shape[:2]
        v1 = volume_view(x, self.max_shift, self.noise)
        v2 = volume_view(x, self.max_shift, self.noise)
        h = self.slice_embeddings(torch.cat([v1, v2]))  # (2B, D, E)
        w2, w3, wm = self.weights
        total = x.new_zeros(())
        parts = {"2d": 0.0, "3d": 0.0, "mask": 0.0}
        if w2 > 0:  # intra: every slice clustered against its twin in the other view
            z = self.slice_head(h.reshape(2 * b * d, -1))
            z1, z2 = z.chunk(2)
            l2 = swav_loss(z1, z2, self.prototypes_2d.weight, self.temperature, self.eps)
            total, parts["2d"] = total + w2 * l2, float(l2.detach())
        if w3 > 0:  # inter: the fused volume embeddings of the two views clustered
            u, _ = self.fuse(h)
            z1, z2 = self.volume_head(u).chunk(2)
            l3 = swav_loss(z1, z2, self.prototypes_3d.weight, self.temperature, self.eps)
            total, parts["3d"] = total + w3 * l3, float(l3.detach())
        if wm > 0:
            mask = random_token_mask(2 * b, d, self.mask_ratio, x.device)
            lm, _ = self.masked_prediction_loss(h, mask)
            total, parts["mask"] = total + wm * lm, float(lm.detach())
        return total, parts

    def after_step(self, step: int) -> None:
        self.prototypes_2d.normalize_()
        self.prototypes_3d.normalize_()

    def embed(self, x: Tensor) -> Tensor:
        """2-D images ``(N, 1, S, S)`` -> encoder features ``(N, E)``."""
        return self.encoder(x)

    def embed_volume(self, x: Tensor) -> Tensor:
        """Volumes ``(B, D, S, S)`` -> the transformer's volume embedding ``(B, width)``."""
        return self.fuse(self.slice_embeddings(x))[0]

    def embed_volume_mean(self, x: Tensor) -> Tensor:
        """Volumes -> the mean of their slice embeddings ``(B, E)`` (order-blind baseline)."""
        return self.slice_embeddings(x).mean(1)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import MLP

        torch.manual_seed(seed)
        x = torch.rand(8, 4, 6, 6, generator=torch.Generator().manual_seed(seed))  # 8 volumes
        model = cls(MLP(36, (16,), 8), depth=4, dim=8, width=16, n_prototypes_2d=4,
                    n_prototypes_3d=3)  # fmt: skip
        return Example(model, x, x[:, :1])  # embed: 2-D slices (N, 1, S, S)


def mean_predictor_mse(h: Tensor) -> float:
    """The masked-prediction floor: MSE (summed over dimensions) of predicting every slice
    embedding ``h (B, D, E)`` by the per-dimension mean over all slices."""
    flat = h.detach().reshape(-1, h.shape[-1])
    return float((flat - flat.mean(0)).square().sum(1).mean())


def prototype_histogram(scores: Tensor) -> Tensor:
    """How many samples each prototype wins (argmax of ``scores (N, K)``), as ``(K,)``
    fractions; pure, for the notebook's assignment histogram."""
    k = scores.shape[1]
    return torch.bincount(scores.argmax(1), minlength=k).float() / max(1, scores.shape[0])


METHOD = JointImageVolume
