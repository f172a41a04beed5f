"""The cMIM notebook's explorer: what a linear probe reads from each part of a trained model.

``draw(models, train, test, model, read)`` reads features from the code, the decoder's hidden
layer or both (``contrastkit.methods.cmim.readout``), fits a linear probe on them and draws the
test features' top two principal components, coloured by class.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import torch

from ..methods.cmim import readout
from ..metrics import linear_probe_accuracy

__all__ = ["READ", "draw"]

#: The read-outs offered: label -> parts of :func:`readout`.
READ = {"code": ("code",), "decoder layer": ("decoder",), "both (informative)": ("code", "decoder")}


def draw(models: dict, train: Any, test: Any, model: str, read: str) -> go.Figure:
    """The probe accuracy and a 2-D PCA of ``read`` features of the model named ``model``.

    Args:
        models: ``{(name, batch size): CMIM}``. train, test: labelled images (``.x``, ``.y``).
        model: ``"<name>, batch <b>"``. read: a key of :data:`READ`.
    """
    name, b = model.split(", batch ")
    m = models[(name, int(b))]
    parts = READ[read]
    f_train, f_test = readout(m, train.x, parts).cpu(), readout(m, test.x, parts).cpu()
    acc = linear_probe_accuracy(f_train, train.y, f_test, test.y)
    f = (f_test - f_test.mean(0)) / f_test.std(0).clamp_min(1e-6)
    pc = f @ torch.linalg.svd(f, full_matrices=False).Vh[:2].T  # (N, 2)
    yt = test.y.cpu()
    fig = go.Figure()
    for c in range(int(yt.max()) + 1):
        fig.add_scatter(x=pc[yt == c, 0].numpy(), y=pc[yt == c, 1].numpy(), mode="markers",
                        name=str(c), marker={"size": 5})  # fmt: skip
    return fig.update_layout(
        height=420, xaxis_title="PC 1", yaxis_title="PC 2",
        title=f"{model}, {read}: {f.shape[1]} features, probe {acc:.3f}",
    )  # fmt: skip
