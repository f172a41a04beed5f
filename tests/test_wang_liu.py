"""Wang & Liu: the four loss variants of the method (the sweep and the explorer:
test_explore_wang_liu.py)."""

import pytest
import torch

import contrastkit as ck
from contrastkit.methods import wang_liu as wl

# ---------------------------------------------------------------------- the method


@pytest.mark.parametrize("loss", wl.LOSSES)
def test_loss_variants_finite_and_differentiable(loss):
    torch.manual_seed(0)
    method = wl.WangLiu(wl.digits_mlp(8), loss=loss, temperature=0.2, k=5)
    x = torch.randn(16, 1, 8, 8)
    value = method.loss((x, torch.zeros(16, dtype=torch.long)))
    assert value.ndim == 0 and torch.isfinite(value)
    value.backward()
    grads = [p.grad for p in method.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert method.embed(x).shape == (16, 8)


def test_objective_matches_library_losses():
    z1, z2 = torch.randn(12, 6), torch.randn(12, 6)
    enc = torch.nn.Identity()
    assert wl.WangLiu(enc, "contrastive", 0.3).objective(z1, z2) == pytest.approx(
        float(ck.nt_xent(z1, z2, 0.3))
    )
    assert wl.WangLiu(enc, "hard", 0.3, k=4).objective(z1, z2) == pytest.approx(
        float(ck.hard_contrastive(z1, z2, 0.3, k=4))
    )
    assert wl.WangLiu(enc, "simple").objective(z1, z2) == pytest.approx(
        float(ck.simple_contrastive(z1, z2, 1.0))
    )
    # default hard selection: the upper 10% of negatives
    assert wl.WangLiu(enc, "hard_simple").objective(z1, z2) == pytest.approx(
        float(ck.simple_contrastive(z1, z2, 1.0, quantile=0.1))
    )


def test_method_validates():
    with pytest.raises(ValueError, match="loss"):
        wl.WangLiu(torch.nn.Identity(), loss="triplet")
    with pytest.raises(ValueError, match="temperature"):
        wl.WangLiu(torch.nn.Identity(), temperature=0.0)
    with pytest.raises(ValueError, match="k and quantile"):
        wl.WangLiu(torch.nn.Identity(), loss="hard", k=3, quantile=0.1)
