"""BLTO: a backdoor for contrastive pre-training, its trigger learned against a simulated victim.

Reference: Weiyu Sun, Xinyu Zhang, Hao Lu, Yingcong Chen, Ting Wang, Jinghui Chen, Lu Lin,
"Backdoor Contrastive Learning via Bi-level Trigger Optimization", ICLR 2024,
https://arxiv.org/abs/2404.07863.

Why it is in a teaching suite: a defender can only test a defence against attacks that exist.
This module is a small, readable model of the threat (a poisoned pre-training set), so that the
notebook can measure what the attack does at toy scale and what a simple defence removes.

The threat: an attacker slips a few triggered images of a *target* class into the unlabelled
pre-training set (a rate ``rho`` of it, 1% here). The victim pre-trains with SimCLR, then fits a
linear probe on clean labelled data. The attack succeeds when a triggered image of any *other*
class is classified as the target (attack success rate, ASR).

A fixed trigger (a corner patch) binds poorly under contrastive learning: random crops remove
it from many views, colour jitter changes it, and instance discrimination treats the few
poisoned images as individuals. BLTO learns the trigger instead, by simulating the victim:

    x~ = clip(x + eps * tanh(G_psi(x)), 0, 1)                 l_inf budget eps
    inner (surrogate victim, K steps):
        theta <- theta - eta * grad_theta NT-Xent(theta; D_clean + D_poison(psi))
    outer (trigger, M steps):
        psi <- psi + beta * grad_psi E_{x not target, aug}[ cos(f_theta(aug(x~)) - m, mu) ]
    m  = mean feature of augmented images;  mu = normalise(mean target feature - m)

Inner and outer phases alternate (first order: the outer gradient does not flow back through
the inner updates), so the trigger follows the surrogate along its training rather than one
fixed encoder; the outer objective is computed on *augmented* triggered views, so the trigger
has to survive the victim's augmentations.

Scaled down: 16 px ``shapes`` and a 16-32-64 ConvNet instead of ResNet-18 on ImageNet-100 /
CIFAR-10; a hundred surrogate steps; the surrogate is never re-initialised (the paper resets it
periodically); ``G_psi`` is one learned universal pattern instead of an image-to-perturbation
network (see ``TriggerGenerator``); features are *centred* before the cosine (ReLU features all
have cosines near 1); the budget is larger than the paper's 8/255 (our small encoder trained
with hue rotation and grey views barely moves at 8/255 or 16/255). There is no public code, so
the paper's exact outer objective and schedule are not reproduced.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, augment, views
from ..losses import nt_xent
from ..models import SmallConvNet, projection_head
from ..utils import eval_mode
from .base import Example, Method, images

__all__ = [
    "TriggerGenerator",
    "patch_trigger",
    "pattern_trigger",
    "target_alignment_loss",
    "target_direction",
    "poison_dataset",
    "attack_success_rate",
    "blur_filter",
    "target_shift",
    "BLTO",
]


# -- triggers -----------------------------------------------------------------------------------


class TriggerGenerator(nn.Module):
    """``x -> clip(x + eps * tanh(P), 0, 1)``: an l_inf-bounded, learnable, universal trigger.

    The paper's generator maps each image to its own perturbation; here ``G_psi`` is the
    simplest generator, one learned ``(C, H, W)`` pattern ``P`` shared by every image (a
    generator with no input). At toy scale this is what optimises reliably: in a first try, a
    two-convolution generator trained with Adam saturated its ``tanh`` within a few steps and
    its gradient vanished.

    Args:
        eps: the l_inf budget in pixel units of [0, 1] images (8/255 in the paper).
        image_size: side of the (square) images. channels: image channels.
    """

    def __init__(self, eps: float, image_size: int, channels: int = 3) -> None:
        super().__init__()
        if not eps > 0:
            raise ValueError(f"eps must be > 0 (an l_inf budget in [0, 1] pixel units), got {eps}")
        self.eps = float(eps)
        self.pattern = nn.Parameter(torch.zeros(channels, image_size, image_size))  # no trigger yet

    def delta(self, eps: float | None = None) -> Tensor:
        """The perturbation ``eps * tanh(P)`` (before clipping), ``(C, H, W)``."""
        eps = self.eps if eps is None else eps
        return eps * torch.tanh(self.pattern)

    def forward(self, x: Tensor, eps: float | None = None) -> Tensor:
        if x.dim() != 4 or x.shape[1:] != self.pattern.shape:
            raise ValueError(
                f"x must be (N, {', '.join(map(str, self.pattern.shape))}) images, "
                f"got shape {tuple(x.shape)}"
            )
        return (x + self.delta(eps)).clamp(0, 1)


def patch_trigger(x: Tensor, size: int = 4) -> Tensor:
    """The fixed baseline: a black-and-white checkerboard stamped in the bottom-right corner.

    Args:
        x: ``(N, C, H, W)`` images in [0, 1]. size: side of the patch in pixels.
    """
    if x.dim() != 4:
        raise ValueError(f"x must be (N, C, H, W) images, got shape {tuple(x.shape)}")
    if not 1 <= size <= min(x.shape[-2:]):
        raise ValueError(f"size must be in [1, {min(x.shape[-2:])}] pixels, got {size}")
    i = torch.arange(size, device=x.device)
    checker = ((i[:, None] + i[None, :]) % 2).to(x.dtype)  # (size, size) of 0/1
    out = x.clone()
    out[..., -size:, -size:] = checker
    return out


def pattern_trigger(x: Tensor, eps: float, seed: int = 0) -> Tensor:
    """A fixed random full-image pattern ``clip(x + eps * sign(noise))`` with BLTO's budget."""
    if x.dim() != 4:
        raise ValueError(f"x must be (N, C, H, W) images, got shape {tuple(x.shape)}")
    g = torch.Generator().manual_seed(seed)
    sign = torch.randint(0, 2, x.shape[1:], generator=g).to(x) * 2 - 1
    return (x + eps * sign).clamp(0, 1)


# -- the outer objective ------------------------------------------------------------------------


def target_alignment_loss(z: Tensor, target: Tensor) -> Tensor:
    """Outer loss: ``-mean_i cos(z_i, target)`` (the attacker minimises it).

    Args:
        z: ``(N, D)`` embeddings of augmented triggered images (normalised inside).
        target: ``(D,)`` the target class's direction (normalised inside).

    Raises:
        ValueError: naming ``z`` or ``target`` when a shape is wrong.
    """
    if z.dim() != 2 or z.shape[0] < 1:
        raise ValueError(f"z must be (N, D) with N >= 1, got shape {tuple(z.shape)}")
    if target.dim() != 1 or target.shape[0] != z.shape[1]:
        raise ValueError(
            f"target must be ({z.shape[1]},) to match z's D, got {tuple(target.shape)}"
        )
    # normalise in float32 at least: bf16 norms of long vectors lose the cosine's last digits
    dtype = torch.promote_types(z.dtype, torch.float32)
    zn = F.normalize(z.to(dtype), dim=1)  # (N, D)
    t = F.normalize(target.to(dtype), dim=0)  # (D,)
    return -(zn @ t).mean()


@torch.no_grad()
def target_direction(
    encoder: nn.Module,
    x_target: Tensor,
    x_all: Tensor,
    config: AugmentConfig | str | None = None,
) -> tuple[Tensor, Tensor]:
    """``mu_target`` and the centre ``m``: mean features of augmented target / all images.

    Features after a ReLU all lie in one orthant, so their raw cosines are all close to 1 and
    say little; the outer loss therefore compares *centred* features, ``f - m``. Returns
    ``(normalise(mu_target - m), m)``.
    """
    m = encoder(augment(x_all, config)).mean(0)  # (D,)
    mu = encoder(augment(x_target, config)).mean(0)  # (D,)
    return F.normalize(mu - m, dim=0), m


# -- the poisoned data and the attack's measures ------------------------------------------------


def poison_dataset(
    x: Tensor, y: Tensor, target: int, rate: float, trigger, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Replace ``round(rate * N)`` random target-class images by their triggered versions.

    Args:
        x: ``(N, C, H, W)`` the clean pre-training images; y: ``(N,)`` their (hidden) classes.
        target: the attacker's target class. rate: the poisoning rate, a fraction of N.
        trigger: a callable ``images -> triggered images`` (e.g. ``patch_trigger``).
        seed: which target images are picked.

    Returns:
        The poisoned images (a new tensor) and the indices of the poisoned rows.
    """
    if not 0 < rate < 1:
        raise ValueError(f"rate must be in (0, 1), got {rate}")
    candidates = (y == target).nonzero().flatten().cpu()
    k = int(round(rate * x.shape[0]))
    if k < 1 or k > candidates.numel():
        raise ValueError(
            f"rate={rate} asks for {k} poisoned images; the target class has {candidates.numel()}"
        )
    g = torch.Generator().manual_seed(seed)
    idx = candidates[torch.randperm(candidates.numel(), generator=g)[:k]].to(x.device)
    out = x.clone()
    with torch.no_grad():
        out[idx] = trigger(x[idx])
    return out, idx


def attack_success_rate(pred: Tensor, y: Tensor, target: int) -> float:
    """Share of triggered images of the *other* classes predicted as ``target``."""
    if pred.shape != y.shape:
        raise ValueError(
            f"pred and y must have the same shape, got {tuple(pred.shape)}, {tuple(y.shape)}"
        )
    others = y != target
    if not others.any():
        raise ValueError("y has no image outside the target class: the ASR is undefined")
    return float((pred[others] == target).float().mean())


def blur_filter(x: Tensor, sigma: float) -> Tensor:
    """The simple defence: a Gaussian blur of every input before the encoder (``sigma`` in px).

    A full-image trigger of small amplitude lives in high spatial frequencies, which a blur
    removes; the price is some clean accuracy. ``sigma = 0`` returns ``x`` unchanged.
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0 pixels, got {sigma}")
    if sigma == 0:
        return x
    radius = max(1, math.ceil(2 * sigma))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    xp = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    xp = F.conv2d(xp, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # rows
    return F.conv2d(xp, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)  # columns


@torch.no_grad()
def target_shift(
    encoder: nn.Module, x_others: Tensor, x_triggered: Tensor, x_target: Tensor, x_all: Tensor
) -> float:
    """How far a trigger moves images towards the target class, in an encoder's feature space.

    ``mean cos(f(x~) - m, mu) - mean cos(f(x) - m, mu)`` over the non-target images ``x_others``
    and their triggered versions ``x_triggered``, where ``mu`` is the direction of the target
    class's mean feature from the centre ``m`` of ``x_all`` (features L2-normalised first, no
    augmentation). Positive: the trigger pulls towards the target; negative: away from it.
    """
    if x_others.shape != x_triggered.shape:
        raise ValueError(
            f"x_others and x_triggered must have the same shape, got {tuple(x_others.shape)} "
            f"and {tuple(x_triggered.shape)}"
        )

    def feats(x: Tensor) -> Tensor:
        return F.normalize(encoder(x).float(), dim=1)

    def cos(x: Tensor) -> Tensor:
        return (F.normalize(feats(x) - centre, dim=1) @ mu).mean()

    # eval mode: in train mode BatchNorm would re-centre a batch of triggered images on its own
    # statistics and hide a shift that every image shares
    with eval_mode(encoder):
        centre = feats(x_all).mean(0)
        mu = F.normalize(feats(x_target).mean(0) - centre, dim=0)
        return float(cos(x_triggered) - cos(x_others))


# -- the attack as a method: fit() runs the bi-level optimisation -------------------------------


class BLTO(Method):
    """The attacker's bi-level loop: a surrogate SimCLR victim (inner) and the trigger (outer).

    ``ck.fit(attack, train_data, steps=R * inner_steps)`` trains the surrogate on batches in
    which a share ``rate`` of the rows are triggered target-class images (the inner loss, with
    ``fit``'s optimiser over the surrogate); every ``inner_steps`` steps, ``after_step`` (the
    Method contract's hook for a method's second loop) runs ``outer_steps`` steps of the
    method's own Adam optimiser on the generator, which pull augmented triggered images of the
    attacker's ``reference`` set towards the target direction of the current surrogate.

    Args:
        encoder: the surrogate's encoder (same architecture as the victim's, by assumption).
        reference: ``(x, y)`` images the attacker owns (e.g. the data it will poison).
        target: the target class. eps: the trigger's l_inf budget. rate: the poisoning rate.
        inner_steps, outer_steps: the alternation. outer_lr: the generator's Adam step size.
        outer_batch: triggered images per outer step. temperature, augment, proj_dim: SimCLR's.
    """

    input_kind = "class_labelled_images"  # (x, y): the loss finds the target class's rows

    def __init__(
        self,
        encoder: nn.Module,
        reference: tuple[Tensor, Tensor] | None = None,
        target: int = 0,
        eps: float = 8 / 255,
        rate: float = 0.01,
        inner_steps: int = 50,
        outer_steps: int = 10,
        outer_lr: float = 0.05,
        outer_batch: int = 256,
        image_size: int = 16,
        temperature: float = 0.5,
        augment: AugmentConfig | str = "shapes",
        proj_dim: int = 64,
    ) -> None:
        super().__init__()
        if inner_steps < 1 or outer_steps < 0:
            raise ValueError(
                f"inner_steps must be >= 1 and outer_steps >= 0, got {inner_steps}, {outer_steps}"
            )
        if not 0 < rate < 1:
            raise ValueError(f"rate must be in (0, 1), got {rate}")
        self.encoder = encoder
        self.projector = projection_head(encoder.out_dim, out_dim=proj_dim)
        in_channels = reference[0].shape[1] if reference is not None else 3
        self.generator = TriggerGenerator(eps, image_size, in_channels)
        self.target, self.rate, self.temperature, self.augment = target, rate, temperature, augment
        self.inner_steps, self.outer_steps, self.outer_batch = inner_steps, outer_steps, outer_batch
        self.outer_lr = outer_lr
        self._opt: torch.optim.Optimizer | None = None
        self.reference = reference
        self.outer_history: list[float] = []  # mean cos to the target after each outer phase

    def trigger(self, x: Tensor) -> Tensor:
        return self.generator(x)

    def loss(self, batch: Tensor | tuple) -> Tensor:
        """Inner loss: NT-Xent of the surrogate on a batch whose target rows are partly triggered.

        ``round(rate * N)`` of the batch's target-class rows (at least one when there is one)
        are triggered with the current generator (no gradient to it): the victim's data as the
        attacker expects it, at the poisoning rate.
        """
        x = images(batch)  # (N, C, H, W)
        if isinstance(batch, (tuple, list)) and len(batch) > 1:
            rows = (batch[1] == self.target).nonzero().flatten()
            k = min(rows.numel(), max(1, int(round(self.rate * x.shape[0]))))
            if k:
                x = x.clone()
                with torch.no_grad():
                    x[rows[:k]] = self.generator(x[rows[:k]])
        v1, v2 = views(x, 2, self.augment)
        z = self.projector(self.encoder(torch.cat([v1, v2])))  # (2N, proj_dim)
        z1, z2 = z.chunk(2)
        return nt_xent(z1, z2, self.temperature)

    def outer_phase(self) -> float:
        """``outer_steps`` generator updates against the current surrogate (kept fixed).

        Returns the mean cosine of the centred, triggered, augmented views to ``mu_target``.
        """
        if self.reference is None:
            raise ValueError("reference must be given (the attacker's images) for the outer loop")
        x_ref, y_ref = self.reference
        dev = self.generator.pattern.device
        if self._opt is None:
            self._opt = torch.optim.Adam(self.generator.parameters(), lr=self.outer_lr)
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        g = torch.Generator().manual_seed(len(self.outer_history))
        pick = torch.randperm(x_ref.shape[0], generator=g)[:1024]
        xs, ys = x_ref[pick].to(dev), y_ref[pick].to(dev)
        value = 0.0
        with eval_mode(self.encoder):  # BN in eval mode: the trigger must work on the victim
            mu, centre = target_direction(self.encoder, xs[ys == self.target], xs, self.augment)
            others = xs[ys != self.target]
            for _ in range(self.outer_steps):
                xb = others[torch.randint(0, others.shape[0], (self.outer_batch,), device=dev)]
                z = self.encoder(augment(self.generator(xb), self.augment)) - centre  # (B, D)
                loss = target_alignment_loss(z, mu)
                self._opt.zero_grad(set_to_none=True)
                loss.backward()
                self._opt.step()
                value = -float(loss.detach())
        for p in self.encoder.parameters():
            p.requires_grad_(True)
        return value

    def after_step(self, step: int) -> None:
        """The inner-loop hook: every ``inner_steps`` of ``fit``, one outer phase on the trigger.

        ``fit`` has just stepped the surrogate (the inner problem); here the method steps its
        own optimiser, over the generator only, against the surrogate as it now is (first
        order: no gradient flows back through the inner updates). The outer objective after
        the phase is appended to ``outer_history``.
        """
        if (step + 1) % self.inner_steps == 0 and self.outer_steps:
            self.outer_history.append(self.outer_phase())

    def embed(self, x: Tensor) -> Tensor:
        """The surrogate's representation (the attacker's simulated victim)."""
        return self.encoder(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        torch.manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
        y = torch.arange(8) % 2
        model = cls(SmallConvNet(widths=(8, 16)), reference=(x, y), target=0, eps=16 / 255,
                    rate=0.25, inner_steps=1, outer_steps=1, outer_batch=4, proj_dim=8)  # fmt: skip
        return Example(model, (x, y), x)


METHOD = BLTO
