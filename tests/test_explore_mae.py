"""The MAE notebook's explorer: the masked preview is pure and seeded; ``draw`` shows the masked
and reconstructed rows, the hidden-patch error and the probe curve."""

import numpy as np
import torch

from contrastkit.explore import mae as E
from contrastkit.methods.mae import MAE
from contrastkit.models import TinyViT


def _model(ratio=0.75, norm_pix=False):
    torch.manual_seed(0)
    return MAE(TinyViT(16, 4, dim=16, depth=1, heads=2), ratio, 16, 1, 2, norm_pix=norm_pix)


def test_masked_preview_pure_seeded_and_greys_the_hidden_share():
    model, x = _model(), torch.rand(4, 3, 16, 16)
    masked, recon, err = E.masked_preview(model, x, 0.75, seed=1)
    masked2, recon2, err2 = E.masked_preview(model, x, 0.75, seed=1)
    assert masked.shape == recon.shape == x.shape
    assert torch.equal(recon, recon2) and err == err2 and np.isfinite(err)
    assert all(m.training for m in model.modules())  # modes restored
    grey = (masked == 0.5).all(dim=1).float().mean()
    assert 0.7 < float(grey) < 0.8
    # visible patches are copied from the input into the reconstruction
    same = (recon == x).all(dim=1).float().mean()
    assert 0.2 <= float(same) < 0.3
    _, _, err0 = E.masked_preview(model, x, 0.0, seed=1)
    assert np.isfinite(err0)
    _, recon_n, _ = E.masked_preview(_model(norm_pix=True), x, 0.5, seed=1)
    assert recon_n.min() >= 0 and recon_n.max() <= 1


def test_draw_nearest_model_and_probe_panel():
    models, x = {0.25: _model(0.25), 0.75: _model(0.75)}, torch.rand(8, 3, 16, 16)
    fig = E.draw(0.75, models=models, x=x, probe=E.PRECOMPUTED["linear"])
    title = fig.layout.title.text
    assert title.startswith("ratio 0.75") and "MSE" in title and "trained at" not in title
    assert len(fig.data) == 3  # image, curve, highlighted point
    fig = E.draw(0.9, models=models, x=x, probe=None)
    assert "trained at 0.75" in fig.layout.title.text and len(fig.data) == 1
    assert set(E.PRECOMPUTED["linear"]) == {0.25, 0.5, 0.75, 0.9}
