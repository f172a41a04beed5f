"""Mugs: instance, local-group and group discrimination trained together (multi-granular SSL).

Reference: Pan Zhou, Yichen Zhou, Chenyang Si, Weihao Yu, Teck Khim Ng, Shuicheng Yan,
"Mugs: A Multi-Granular Self-Supervised Learning Framework", arXiv 2022,
https://arxiv.org/abs/2203.14415 (code: https://github.com/sail-sg/mugs).

Downstream tasks need features at several granularities, so one encoder ``f`` (student) and its
EMA copy (teacher, marked ``~``) are trained with three losses on two views ``v1, v2``:

    h = f(v1)   ~h = ~f(v2)                          backbone features of the two views
    IDS  instance:     q = g_i(h),  k = ~g_i(~h)
                       L_i  = InfoNCE(q, k; negatives = queue of past k; t_i)
    LGDS local group:  nb(a) = the n nearest teacher features of a in a memory of past ~h
                       q = g_lg(h, nb(h)),  k = ~g_lg(~h, nb(~h))   (attention over [self; nb])
                       L_lg = InfoNCE(q, k; negatives = queue of past k; t_lg)
    GDS  group:        p = softmax(P(g_g(h)) / t_s),   t = softmax((~P(~g_g(~h)) - c) / t_t)
                       L_g  = cross-entropy(t, p)      (DINO: centre c is an EMA of teacher
                                                        logits, t_t < t_s sharpens)
    loss = w_i L_i + w_lg L_lg + w_g L_g              (both directions v1 <-> v2)

``P`` are learnable prototypes on the unit sphere (``contrastkit.prototypes.Prototypes``).
Instance discrimination separates every image from every other; the local group pulls an image
towards the neighbourhood it sits in; the group loss clusters the whole set. With ``weights=
(1, 0, 0)`` the model is exactly MoCo-style instance discrimination (the notebook's baseline).

Scaled down: a 16-32-64-128 ConvNet instead of ViT-S/B; two views, no multi-crop (local crops
of a 16-px image carry too little to be worth their cost on 2 CPU cores); queues of a few
thousand instead of 65,536; one attention layer (not a transformer stack) for the local-group
aggregation; 64-256 prototypes instead of 65,536; fixed teacher temperature instead of a
warm-up; Adam instead of AdamW with schedules; a few hundred steps. The notebook trains it on
vectors with a known coarse/fine hierarchy (MLP encoder): on 16-px ``shapes`` the fine
sub-classes are 1-2 px details that no method learned within a quick-mode budget.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..blocks import MomentumEncoder, Queue
from ..losses import centred_distillation, info_nce
from ..models import projection_head
from ..prototypes import Prototypes
from .base import Example, Method, images


def group_targets(teacher_scores: Tensor, center: Tensor, temperature: float) -> Tensor:
    """The group loss's targets: the teacher's scores, centred and sharpened (DINO).

    ``softmax((scores - center) / temperature)`` per row. Subtracting the running mean ``center``
    keeps one prototype from winning every sample (collapse to one group); a low temperature
    keeps the targets from going uniform (collapse to no group). Pure: the notebook's slider
    calls it.

    Args:
        teacher_scores: ``(N, K)`` cosines to the prototypes. center: ``(K,)``.
        temperature: ``> 0``; 0.04-0.07 in the paper.

    Returns:
        ``(N, K)`` rows that sum to 1.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return F.softmax((teacher_scores - center) / temperature, dim=1)


class LocalGroupAggregator(nn.Module):
    """A sample's local-group feature: one attention layer over ``[self; neighbours]``.

    ``h (N, E)`` and ``neighbours (N, n, E)`` (``n`` may be 0) -> ``(N, out_dim)``. The sample
    is the query; keys and values are the sample and its neighbours (Mugs' relation block).
    """

    def __init__(self, in_dim: int, out_dim: int = 64, width: int = 64, heads: int = 2) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, width)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.head = projection_head(width, out_dim=out_dim)

    def forward(self, h: Tensor, neighbours: Tensor) -> Tensor:
        tokens = self.embed(torch.cat([h[:, None], neighbours], 1))  # (N, 1 + n, width)
        own = tokens[:, :1]  # (N, 1, width)
        mixed, _ = self.attention(own, tokens, tokens, need_weights=False)  # (N, 1, width)
        return self.head((own + mixed)[:, 0])  # (N, out_dim)


class MugsTower(nn.Module):
    """The network that is trained (student) and copied by EMA (teacher): an encoder and three
    heads, one per granularity."""

    def __init__(self, encoder: nn.Module, dim: int = 64, n_prototypes: int = 64) -> None:
        super().__init__()
        self.encoder = encoder
        e = encoder.out_dim
        self.instance_head = projection_head(e, out_dim=dim)
        self.local_group_head = LocalGroupAggregator(e, out_dim=dim)
        self.group_head = projection_head(e, out_dim=dim)
        self.prototypes = Prototypes(dim, n_prototypes)  # cosines in [-1, 1]

    def heads(self, h: Tensor, neighbours: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Instance embedding, local-group embedding and group scores (cosines to prototypes)."""
        inst = self.instance_head(h)  # (N, dim)
        group = self.local_group_head(F.normalize(h, dim=1), neighbours)  # (N, dim)
        scores = self.prototypes(self.group_head(h))  # (N, K)
        return inst, group, scores


class Mugs(Method):
    """Multi-granular self-supervision: instance + local-group + group discrimination.

    Args:
        encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        dim: size of the instance and local-group embeddings and of the prototype space.
        n_prototypes: K, the number of group prototypes (65,536 in the paper).
        n_neighbours: neighbours aggregated into a local group (8 in the paper's default).
        queue_size: negatives queued for the instance and local-group InfoNCE, and the size of
            the memory of teacher features searched for neighbours.
        momentum: the teacher's EMA momentum (0.996 in the paper; lower for short runs).
        instance_temperature, local_group_temperature: InfoNCE temperatures (0.2 in the paper).
        student_temperature, teacher_temperature: the group loss's softmax temperatures
            (0.1 and 0.04-0.07 in the paper).
        center_momentum: EMA momentum of the teacher-logit centre (0.9).
        weights: ``(w_i, w_lg, w_g)``; ``(1, 0, 0)`` is instance discrimination alone.
        augment: an ``AugmentConfig`` or preset name for image views, or a callable
            ``x -> view`` (one random view per call) for other data, e.g. vectors.

    Example:
        >>> model = Mugs(SmallConvNet(), n_prototypes=64)
        >>> hist = ck.fit(model, shapes.x, steps=300, batch_size=128)

    ``loss`` also returns the three losses (``instance``, ``local_group``, ``group``), which
    ``fit`` logs. The notebook trains it on vectors with a known coarse/fine hierarchy and a
    callable augmentation (``input_kind = "vectors"``); image batches work the same way.
    """

    input_kind = "vectors"

    def __init__(
        self,
        encoder: nn.Module,
        dim: int = 64,
        n_prototypes: int = 64,
        n_neighbours: int = 4,
        queue_size: int = 2048,
        momentum: float = 0.99,
        instance_temperature: float = 0.2,
        local_group_temperature: float = 0.2,
        student_temperature: float = 0.1,
        teacher_temperature: float = 0.05,
        center_momentum: float = 0.9,
        weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        augment: AugmentConfig | str | Callable[[Tensor], Tensor] = "simclr",
    ) -> None:
        super().__init__()
        if len(weights) != 3 or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(
                f"weights must be three non-negative numbers, not all 0, got {weights}"
            )
        if n_neighbours < 0:
            raise ValueError(f"n_neighbours must be >= 0, got {n_neighbours}")
        for name, t in [
            ("instance_temperature", instance_temperature),
            ("local_group_temperature", local_group_temperature),
            ("student_temperature", student_temperature),
            ("teacher_temperature", teacher_temperature),
        ]:
            if not t > 0:
                raise ValueError(f"{name} must be > 0, got {t!r}")
        if not 0.0 <= center_momentum < 1.0:
            raise ValueError(f"center_momentum must be in [0, 1), got {center_momentum!r}")
        self.student = MugsTower(encoder, dim, n_prototypes)
        self.teacher = MomentumEncoder(self.student, momentum)
        self.instance_queue = Queue(queue_size, dim)
        self.local_group_queue = Queue(queue_size, dim)
        self.memory = Queue(queue_size, encoder.out_dim)  # teacher features, for neighbours
        self.register_buffer("center", torch.zeros(n_prototypes))
        self.n_neighbours = n_neighbours
        self.temperatures = (instance_temperature, local_group_temperature)
        self.student_temperature = student_temperature
        self.teacher_temperature = teacher_temperature
        self.center_momentum = center_momentum
        self.weights = tuple(float(w) for w in weights)
        self.augment = augment
        self._pending: dict[str, Tensor] = {}

    @property
    def encoder(self) -> nn.Module:
        return self.student.encoder

    def neighbours(self, h_teacher: Tensor) -> Tensor:
        """``(N, n, E)``: the ``n`` memory entries nearest (cosine) to each teacher feature."""
        memory = self.memory.get()  # (M, E), unit rows
        n = min(self.n_neighbours, len(memory))
        if n == 0:
            return h_teacher.new_zeros(len(h_teacher), 0, h_teacher.shape[1])
        sim = F.normalize(h_teacher, dim=1) @ memory.T  # (N, M)
        return memory[sim.topk(n, dim=1).indices]  # (N, n, E)

    def group_loss(self, student_scores: Tensor, teacher_scores: Tensor) -> Tensor:
        """DINO's cross-entropy from the centred, sharpened teacher to the student."""
        return centred_distillation(
            student_scores,
            teacher_scores,
            self.center,
            self.student_temperature,
            self.teacher_temperature,
        )

    def loss(self, batch: Tensor | tuple) -> tuple[Tensor, dict[str, float]]:
        x = images(batch)  # (N, C, H, W) or (N, D)
        if callable(self.augment):
            v = torch.cat([self.augment(x), self.augment(x)])  # (2N, ...): [v1; v2]
        else:
            v = torch.cat(views(x, 2, self.augment))  # (2N, C, H, W): [v1; v2]
        n = len(x)
        swap = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(x.device)  # partner view
        with torch.no_grad():
            th = self.teacher.target.encoder(v)  # (2N, E)
            nb = self.neighbours(th)  # (2N, n, E), from the teacher: stable neighbourhoods
            t_inst, t_group, t_scores = self.teacher.target.heads(th, nb)
        h = self.student.encoder(v)  # (2N, E)
        s_inst, s_group, s_scores = self.student.heads(h, nb)
        w_i, w_lg, w_g = self.weights
        neg_i, neg_lg = self.instance_queue.get(), self.local_group_queue.get()
        l_i = info_nce(s_inst, t_inst[swap], neg_i if len(neg_i) else None, self.temperatures[0])
        l_lg = (
            info_nce(s_group, t_group[swap], neg_lg if len(neg_lg) else None, self.temperatures[1])
            if w_lg > 0
            else s_inst.new_zeros(())
        )
        l_g = self.group_loss(s_scores, t_scores[swap]) if w_g > 0 else s_inst.new_zeros(())
        parts = {
            "instance": float(l_i.detach()),
            "local_group": float(l_lg.detach()),
            "group": float(l_g.detach()),
        }
        self._pending = {"inst": t_inst, "group": t_group, "feat": th, "scores": t_scores}
        return w_i * l_i + w_lg * l_lg + w_g * l_g, parts

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        """EMA teacher; queue this step's teacher keys and features; move the centre."""
        self.teacher.update(self.student)
        if not self._pending:
            return
        p = self._pending
        self.instance_queue.push(p["inst"])
        self.local_group_queue.push(p["group"])
        self.memory.push(p["feat"])
        m = self.center_momentum
        self.center.mul_(m).add_(p["scores"].mean(0), alpha=1 - m)
        self._pending = {}

    def embed(self, x: Tensor) -> Tensor:
        """The representation used downstream: the student encoder's output, before any head."""
        return self.student.encoder(x)

    @torch.no_grad()
    def assign(self, x: Tensor) -> Tensor:
        """Each image's group: the index of its nearest prototype, ``(N,)``."""
        return self.student.prototypes(self.student.group_head(self.embed(x))).argmax(1)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import MLP

        torch.manual_seed(seed)
        x = torch.randn(8, 12, generator=torch.Generator().manual_seed(seed))
        model = cls(MLP(12, (16,), 8), dim=8, n_prototypes=6, queue_size=32, augment=_jitter)
        return Example(model, x, x)


def _jitter(x: Tensor) -> Tensor:
    """A view of feature vectors for ``Mugs.example``: Gaussian noise (std 0.1)."""
    return x + 0.1 * torch.randn_like(x)


METHOD = Mugs
