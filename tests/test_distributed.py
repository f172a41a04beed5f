"""Global losses and fit's data parallelism, for real: two gloo processes on the CPU.

Each check compares what two ranks compute on their halves of a batch with what one process
computes on the whole batch: the loss (mean over ranks), the gradients w.r.t. the embeddings
(the all-reduced gradient is world_size times the single-process one; averaging parameter
gradients over ranks cancels that factor), and the parameters after a training step of fit.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from contrastkit import distributed
from contrastkit.losses import clip_loss, nt_xent

WORLD = 2
N, D = 5, 7  # rows per rank, embedding size


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _global_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(WORLD * N, D, generator=g, dtype=torch.float64),
        torch.randn(WORLD * N, D, generator=g, dtype=torch.float64),
    )


class _Pairs(nn.Module):
    """A tiny method without BatchNorm or randomness: views are the rows and a fixed map."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
        self.seen: list[torch.Tensor] = []

    def pair_loss(self, x: torch.Tensor, loss_fn) -> torch.Tensor:
        return loss_fn(self.net(x), self.net(0.5 * x.flip(1) + 0.1), 0.5)

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        self.seen.append(batch.detach().clone())
        return self.pair_loss(batch, distributed.global_nt_xent)


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    assert distributed.init_from_env("cpu") == torch.device("cpu")
    assert dist.get_backend() == "gloo"
    out: dict = {"rank": distributed.rank(), "world": distributed.world_size()}
    rows = slice(rank * N, (rank + 1) * N)

    # 1. embeddings: the global losses and their gradients
    for name, fn in (
        ("nt_xent", distributed.global_nt_xent),
        ("clip", distributed.global_clip_loss),
    ):
        a, b = _global_batch(1)
        za, zb = a[rows].clone().requires_grad_(), b[rows].clone().requires_grad_()
        loss = fn(za, zb, 0.3)
        loss.backward()
        out[name] = (loss.detach(), za.grad, zb.grad)
        out[name + "_mean"] = distributed.all_reduce_mean(loss)

    # 2. gather_with_grad alone: rank-major order, gradient = sum over ranks of our slice's
    x = torch.full((2, 3), float(rank + 1), dtype=torch.float64, requires_grad=True)
    gathered = distributed.gather_with_grad(x)
    (gathered * torch.arange(1.0, 5.0, dtype=torch.float64)[:, None]).sum().backward()
    out["gathered"], out["gather_grad"] = gathered.detach(), x.grad

    # 3. fit: one SGD step on a tiny model, gradients averaged over ranks
    import contrastkit as ck

    method = _Pairs()
    data = torch.randn(64, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    hist = ck.fit(method, data, steps=1, batch_size=6, lr=0.1, optimizer="sgd", progress=False)
    out["fit"] = {
        "batch": method.seen[0],
        "params": [p.detach().clone() for p in method.parameters()],
        "loss": hist.loss[0],
        "images": hist.images,
    }
    torch.save(out, os.path.join(out_dir, f"rank{rank}.pt"))
    distributed.cleanup()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), str(out_dir)), nprocs=WORLD, join=True)
    return [torch.load(out_dir / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


def test_ranks_and_world_size(ranks):
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["world"] == WORLD for r in ranks)
    assert not distributed.is_distributed() and distributed.world_size() == 1


@pytest.mark.parametrize("name, single", [("nt_xent", nt_xent), ("clip", clip_loss)])
def test_global_loss_and_gradients_match_one_process(ranks, name, single):
    a, b = _global_batch(1)
    a.requires_grad_(), b.requires_grad_()
    loss = single(a, b, 0.3)
    loss.backward()
    # the mean over ranks of each rank's loss is the loss of the whole batch
    for r in ranks:
        torch.testing.assert_close(r[name + "_mean"], loss.detach(), atol=1e-10, rtol=0)
    mean_of_ranks = sum(r[name][0] for r in ranks) / WORLD
    torch.testing.assert_close(mean_of_ranks, loss.detach(), atol=1e-10, rtol=0)
    # each rank's gradient is WORLD x the single-process one on its rows (averaging cancels it)
    for rank, r in enumerate(ranks):
        rows = slice(rank * N, (rank + 1) * N)
        torch.testing.assert_close(r[name][1] / WORLD, a.grad[rows], atol=1e-10, rtol=0)
        torch.testing.assert_close(r[name][2] / WORLD, b.grad[rows], atol=1e-10, rtol=0)


def test_gather_with_grad_order_and_backward(ranks):
    expected = torch.tensor([1.0, 1.0, 2.0, 2.0], dtype=torch.float64)[:, None].expand(4, 3)
    for rank, r in enumerate(ranks):
        torch.testing.assert_close(r["gathered"], expected)
        # d/dx of sum_r' sum(w * gathered): rows 2r, 2r+1 weigh 2r+1, 2r+2, summed over 2 ranks
        weights = torch.tensor([2 * rank + 1.0, 2 * rank + 2.0], dtype=torch.float64)
        torch.testing.assert_close(r["gather_grad"], WORLD * weights[:, None].expand(2, 3))


def test_fit_step_equals_one_process_on_the_global_batch(ranks):
    batches = [r["fit"]["batch"] for r in ranks]
    assert not torch.equal(batches[0], batches[1]), "each rank must draw its own batch"
    method = _Pairs()  # the same initial weights as on the ranks
    opt = torch.optim.SGD(method.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-6)
    loss = method.pair_loss(torch.cat(batches), nt_xent)
    loss.backward()
    opt.step()
    assert ranks[0]["fit"]["loss"] == pytest.approx(float(loss.detach()), abs=1e-10)
    assert ranks[0]["fit"]["images"] == WORLD * 6
    for r in ranks:  # both ranks hold the same weights, equal to one process's after one step
        for got, want in zip(r["fit"]["params"], method.parameters(), strict=True):
            torch.testing.assert_close(got, want.detach(), atol=1e-10, rtol=0)


def test_single_process_falls_back_to_local_losses():
    a, b = _global_batch(3)
    assert torch.equal(distributed.global_nt_xent(a, b, 0.5), nt_xent(a, b, 0.5))
    assert torch.equal(distributed.global_clip_loss(a, b, 0.5), clip_loss(a, b, 0.5))
    assert distributed.gather_with_grad(a) is a
    assert distributed.rank() == 0 and distributed.init_from_env("cpu") == torch.device("cpu")
