"""MAE (contrastkit.methods.mae), its tiny ViT and decoder (contrastkit.models) and the 2-D
sine-cosine position codes (contrastkit.blocks).

The loss itself, ``losses.masked_reconstruction_loss``, is checked here against a float64 loop
over a small grid of sizes. Conventions shared with lightly's ``MSELoss`` use in its MAE example
and with the paper's code: the error is averaged over a patch's pixels, then over the *hidden*
patches only; ``norm_pix`` standardises each target patch with its unbiased variance + 1e-6.
"""

import itertools

import pytest
import torch

import contrastkit as ck
from contrastkit.blocks import patchify, random_masking, sincos_positions
from contrastkit.losses import masked_reconstruction_loss
from contrastkit.methods.mae import MAE, fine_tune_accuracy
from contrastkit.models import MAEDecoder, TinyViT


def _reference(pred, target, mask, norm_pix):
    pred, target = pred.double(), target.double()
    total, count = 0.0, 0
    for i in range(pred.shape[0]):
        for p in range(pred.shape[1]):
            if not mask[i, p]:
                continue
            t = target[i, p]
            if norm_pix:
                t = (t - t.mean()) / (t.var() + 1e-6).sqrt()
            total += float(((pred[i, p] - t) ** 2).mean())
            count += 1
    return total / count


@pytest.mark.parametrize(
    "n,p,d,norm_pix", list(itertools.product((1, 3, 8), (4, 9), (3, 12), (False, True)))
)
def test_masked_reconstruction_loss_matches_float64_loop(n, p, d, norm_pix):
    g = torch.Generator().manual_seed(n * 100 + p * 10 + d)
    pred, target = torch.randn(n, p, d, generator=g), torch.randn(n, p, d, generator=g)
    _, mask = random_masking(n, p, 0.5, generator=g)
    got = masked_reconstruction_loss(pred, target, mask, norm_pix=norm_pix)
    assert got.item() == pytest.approx(_reference(pred, target, mask, norm_pix), rel=1e-5)


def test_sincos_positions_shape_distinct_and_checked():
    pos = sincos_positions(4, 16)
    assert pos.shape == (16, 16) and pos.dtype == torch.float32
    assert torch.cdist(pos, pos).fill_diagonal_(1.0).min() > 0.1  # every patch its own code
    # the first half codes the row: patches in one row share it
    assert torch.equal(pos[0, :8], pos[3, :8]) and not torch.equal(pos[0, :8], pos[4, :8])
    with pytest.raises(ValueError, match="dim"):
        sincos_positions(4, 10)
    with pytest.raises(ValueError, match="side"):
        sincos_positions(0, 16)


def test_tiny_vit_tokens_keep_and_pooling():
    torch.manual_seed(0)
    vit = TinyViT(16, 4, dim=32, depth=1, heads=4).eval()
    x = torch.rand(5, 3, 16, 16)
    keep, _ = random_masking(5, 16, 0.75, generator=torch.Generator().manual_seed(0))
    assert vit.tokens(x).shape == (5, 16, 32) and vit.tokens(x, keep).shape == (5, 4, 32)
    assert vit(x).shape == (5, vit.out_dim) and torch.allclose(vit(x), vit.tokens(x).mean(1))
    # the visible tokens see only each other: pixels of hidden patches do not matter
    hidden = torch.ones(5, 16, dtype=torch.bool)
    hidden[torch.arange(5)[:, None], keep] = False
    x2 = ck.blocks.unpatchify(
        torch.where(hidden[..., None], torch.rand(5, 16, 48), patchify(x, 4)), 4
    )
    assert torch.allclose(vit.tokens(x, keep), vit.tokens(x2, keep), atol=1e-6)
    with pytest.raises(ValueError, match="x must be"):
        vit(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match="patch"):
        TinyViT(16, 5)


def test_decoder_puts_visible_tokens_back_in_place():
    torch.manual_seed(0)
    dec = MAEDecoder(16, 8, 48, dim=16, depth=1, heads=2).eval()
    keep, _ = random_masking(3, 16, 0.5, generator=torch.Generator().manual_seed(1))
    h = torch.randn(3, 8, 8)
    out = dec(h, keep)
    assert out.shape == (3, 16, 48)
    # permuting the visible tokens together with their positions changes nothing
    perm = torch.randperm(8)
    assert torch.allclose(dec(h[:, perm], keep[:, perm]), out, atol=1e-5)
    with pytest.raises(ValueError, match="keep"):
        dec(h, keep[:, :4])
    with pytest.raises(ValueError, match="square"):
        MAEDecoder(15, 8, 48)


def test_mae_loss_reports_visible_error_and_checks_arguments():
    ex = MAE.example()
    loss, parts = ex.method.loss(ex.batch)
    assert loss.ndim == 0 and torch.isfinite(loss) and set(parts) == {"mse_visible"}
    with pytest.raises(ValueError, match="mask_ratio"):
        MAE(TinyViT(16, 4, dim=16, heads=2), mask_ratio=1.0)
    with pytest.raises(TypeError, match="vit"):
        MAE(ck.models.SmallConvNet())


def test_mae_trains_loss_goes_down():
    data = ck.make_shapes(256, 16, seed=0)
    torch.manual_seed(0)
    model = MAE(TinyViT(16, 4, dim=32, depth=1, heads=4), mask_ratio=0.75)
    hist = ck.fit(model, data.x, steps=60, batch_size=64, lr=2e-3, progress=False, device="cpu")
    first, last = sum(hist.loss[:5]) / 5, sum(hist.loss[-5:]) / 5
    assert last < 0.8 * first
    assert "mse_visible" in hist.metrics


def test_fine_tune_accuracy_leaves_encoder_and_learns():
    from types import SimpleNamespace

    # an easy labelled task (bright vs dark images), so a few steps must learn it
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (600,), generator=g)
    x = 0.3 + 0.4 * y[:, None, None, None] + 0.1 * torch.rand(600, 3, 16, 16, generator=g)
    train, test = SimpleNamespace(x=x[:400], y=y[:400]), SimpleNamespace(x=x[400:], y=y[400:])
    torch.manual_seed(0)
    vit = TinyViT(16, 4, dim=16, depth=1, heads=2)
    before = {k: v.clone() for k, v in vit.state_dict().items()}
    acc = fine_tune_accuracy(vit, train, test, steps=60, batch_size=64, seed=0)
    assert acc > 0.9
    assert all(torch.equal(before[k], v) for k, v in vit.state_dict().items())
    with pytest.raises(ValueError, match="steps"):
        fine_tune_accuracy(vit, train, test, steps=0)
