"""Training on several processes (``torchrun``): gather embeddings with gradients, global losses.

A contrastive loss wants many negatives, and with data parallelism each process holds only
its own slice of the batch. The fix (SimCLR trained on 128 TPU cores this way) is to gather
every rank's embeddings, so each anchor is contrasted against the *global* batch, while the
gradient still reaches the rank that computed each embedding.

The factor ``world_size`` (W), worked out once. Let rank r hold N anchors and compute
``L_r``, the mean loss of its own anchors against all ``W * N`` candidates; the single-process
loss on the concatenated batch is the mean over all anchors, ``L = (1/W) sum_r L_r``.
``gather_with_grad``'s backward sums the incoming gradients over ranks (all-reduce) and keeps
this rank's slice, so rank r receives ``sum_r' dL_r'/dz_r = W * dL/dz_r``. Data-parallel
training then *averages* parameter gradients over ranks (``fit`` all-reduces and divides by
W, as DDP does), which cancels the W: the update is exactly the single-process gradient of L.
``tests/test_distributed.py`` checks this on two gloo processes.

Run any command under torchrun, e.g.::

    torchrun --nproc_per_node 2 -m contrastkit train simclr --data shapes --steps 20 --device cpu
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from .losses import clip_loss, nt_xent
from .losses.core import _check_pair
from .utils import check_temperature, get_device

__all__ = [
    "is_distributed",
    "rank",
    "world_size",
    "local_rank",
    "init_from_env",
    "cleanup",
    "gather_with_grad",
    "all_reduce_mean",
    "global_nt_xent",
    "global_clip_loss",
]


def is_distributed() -> bool:
    """True inside an initialised process group with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def local_rank() -> int:
    """This process's index on its machine (torchrun's ``LOCAL_RANK``; 0 otherwise)."""
    return int(os.environ.get("LOCAL_RANK", 0))


def _launched_by_torchrun() -> bool:
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def init_from_env(device: str | torch.device = "auto", timeout_s: float = 600) -> torch.device:
    """Join the process group torchrun describes in the environment; return this rank's device.

    Reads ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` (and ``LOCAL_RANK``).
    The backend is ``nccl`` on CUDA (each rank on ``cuda:LOCAL_RANK``) and ``gloo`` otherwise.
    Without those variables, or when the group already exists, it only resolves ``device``.

    Args:
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...; on CUDA the index becomes the local rank.
        timeout_s: how long collectives wait for a missing rank before failing.

    Returns:
        The device this process should use.
    """
    dev = get_device(device)
    if dev.type == "cuda" and (_launched_by_torchrun() or is_distributed()):
        dev = torch.device("cuda", local_rank())
        torch.cuda.set_device(dev)
    if _launched_by_torchrun() and dist.is_available() and not dist.is_initialized():
        if int(os.environ["WORLD_SIZE"]) > 1:
            dist.init_process_group(
                backend="nccl" if dev.type == "cuda" else "gloo",
                timeout=timedelta(seconds=timeout_s),
            )
    return dev


def cleanup() -> None:
    """Leave the process group (if any); call once at the end of a distributed run."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0; backward all-reduces (sums) the gradient and keeps our slice."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.n = x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)  # (W * N, ...), rank-major

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        # every rank's loss may depend on our rows: sum their gradients (see the module doc)
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.n
        return grad[start : start + ctx.n]


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` from every rank (rank 0's rows first), keeping gradients.

    Args:
        x: ``(N, ...)``, the same shape on every rank.

    Returns:
        ``(world_size * N, ...)``; ``x`` itself when not distributed. In backward, this rank
        receives the sum over ranks of the gradients w.r.t. its rows (so losses computed on
        different ranks all reach it).
    """
    if not is_distributed():
        return x
    return _GatherWithGrad.apply(x)


def all_reduce_mean(x: Tensor) -> Tensor:
    """The mean of ``x`` over ranks (a detached copy; ``x`` itself when not distributed)."""
    if not is_distributed():
        return x
    x = x.detach().clone()
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x / dist.get_world_size()


def global_nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """NT-Xent over the global batch: this rank's anchors against every rank's views.

    Equal to :func:`contrastkit.losses.nt_xent` when not distributed. Under torchrun, rank r's
    ``2N`` anchors (its rows of ``z1`` and ``z2``) are contrasted against all ``2 W N`` views
    (``2 W N - 1`` candidates each), with each anchor's partner at its global index. The value
    is the mean over this rank's anchors; its mean over ranks is the single-process loss on
    the concatenated batch, and after averaging gradients over ranks (``fit`` does), the
    gradient is exactly the single-process one. Costs ``2N x 2WN`` logits per rank.

    Args:
        z1, z2: ``(N, D)`` embeddings of the two views on this rank, N the same on all ranks.
        temperature: ``t > 0``.

    Returns:
        The scalar mean loss of this rank's anchors.
    """
    if not is_distributed():
        return nt_xent(z1, z2, temperature)
    check_temperature(temperature)
    _check_pair(z1, z2, "z1", "z2", min_rows=1)
    n, w, r = z1.shape[0], world_size(), rank()
    q = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, D): our anchors
    k1 = gather_with_grad(q[:n])  # (WN, D): every rank's first views, rank-major
    k2 = gather_with_grad(q[n:])  # (WN, D)
    logits = q @ torch.cat([k1, k2]).T / temperature  # (2N, 2WN)
    mine = torch.arange(n, device=q.device) + r * n  # our rows' global indices among k1
    own = torch.cat([mine, mine + w * n])  # (2N,) each anchor's own column
    partner = torch.cat([mine + w * n, mine])  # (2N,) the other view of the same image
    logits = logits.scatter(1, own[:, None], float("-inf"))
    return F.cross_entropy(logits, partner)


def global_clip_loss(a: Tensor, b: Tensor, temperature: float | Tensor = 0.07) -> Tensor:
    """CLIP's symmetric loss over the global batch (see :func:`global_nt_xent` for the scaling).

    Equal to :func:`contrastkit.losses.clip_loss` when not distributed; otherwise this rank's
    ``a`` rows are matched against every rank's ``b`` and vice versa.
    """
    if not is_distributed():
        return clip_loss(a, b, temperature)
    check_temperature(temperature)
    _check_pair(a, b, "a", "b")
    n, r = a.shape[0], rank()
    an, bn = F.normalize(a, dim=1), F.normalize(b, dim=1)
    all_a, all_b = gather_with_grad(an), gather_with_grad(bn)  # (WN, D) each
    targets = torch.arange(n, device=a.device) + r * n
    loss_ab = F.cross_entropy(an @ all_b.T / temperature, targets)  # (N, WN)
    loss_ba = F.cross_entropy(bn @ all_a.T / temperature, targets)
    return (loss_ab + loss_ba) / 2
