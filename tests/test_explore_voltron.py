"""The Voltron notebook's explorer: the masked preview is pure and seeded; ``draw`` shows four
rows of clips with the three errors."""

import numpy as np
import torch

from contrastkit.data.multimodal import make_robot_clips
from contrastkit.explore import voltron as E
from contrastkit.methods import voltron as vt


def _clips():
    return make_robot_clips(16, 16, seed=0)


def test_masked_preview_pure_and_seeded():
    clips = _clips()
    torch.manual_seed(0)
    model = vt.Voltron(len(clips.vocab), clips.tokens.shape[1], dim=16, heads=2, depth=1)
    video = clips.video[:4]
    masked, recon, err = E.masked_preview(model, video, clips.tokens[:4], 0.5, seed=1)
    masked2, recon2, err2 = E.masked_preview(model, video, clips.tokens[:4], 0.5, seed=1)
    assert masked.shape == recon.shape == video.shape
    assert torch.equal(recon, recon2) and err == err2
    assert all(m.training for m in model.modules())  # the modes are restored
    # half the patches are grey, the other half are the input
    grey = (masked == 0.5).all(dim=2).float().mean()
    assert 0.4 < float(grey) < 0.6
    _, _, err0 = E.masked_preview(model, video, None, 0.0, seed=1)
    assert np.isfinite(err0)


def test_draw_four_rows_and_the_errors():
    clips = _clips()
    torch.manual_seed(0)
    v, n = len(clips.vocab), clips.tokens.shape[1]
    model = vt.Voltron(v, n, dim=16, heads=2, depth=1)
    mae = vt.Voltron(v, n, language=False, dim=16, heads=2, depth=1)
    fig = E.draw(0.75, 1, model=model, mae=mae, video=clips.video, words=clips.tokens)
    title = fig.layout.title.text
    assert title.startswith("ratio 0.75") and "with instruction" in title and "MAE" in title
    assert fig.data[0].z.shape[0] > fig.data[0].z.shape[1] / 3  # 4 rows of 8 frames
