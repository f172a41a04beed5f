"""The cMIM explorer: the read-outs' probe and PCA figure."""

import pytest
import torch

import contrastkit as ck
from contrastkit.explore import cmim as ex
from contrastkit.methods.cmim import CMIM


@pytest.mark.parametrize("read", list(ex.READ))
def test_draw_reads_each_part(read):
    data = ck.load_digits()
    train, test = data.split(100, seed=0)
    torch.manual_seed(0)
    models = {("cMIM", 8): CMIM(64, latent=4, hidden=16)}
    fig = ex.draw(models, train, test, "cMIM, batch 8", read)
    width = {"code": 4, "decoder layer": 16, "both (informative)": 20}[read]
    assert fig.layout.title.text.startswith(f"cMIM, batch 8, {read}: {width} features, probe ")
    assert sum(len(t.x) for t in fig.data) == len(test)
