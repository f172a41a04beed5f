"""The IFND explorer's readout: a pure function of the trusted share and k."""

import torch
import torch.nn.functional as F

from contrastkit.explore import ifnd as ex


def test_readout_reports_precision_and_is_pure():
    g = torch.Generator().manual_seed(0)
    centres = F.normalize(torch.randn(3, 8, generator=g), dim=1) * 5
    z = torch.cat([c + 0.3 * torch.randn(20, 8, generator=g) for c in centres])
    y = torch.arange(3).repeat_interleave(20)
    text = ex.readout(z, y, 1.0, 3)
    assert text == ex.readout(z, y, 1.0, 3)
    assert "trust 100% of samples, k=3: precision 1.00" in text and "recall 1.000" in text
