"""Every registered method keeps the written contract (contrastkit/methods/base.py).

For each entry of ``REGISTRY``: ``example()`` builds a small instance and a toy batch of its
declared input kind; one ``fit`` step gives a finite loss whose gradients reach the parameters
``embed`` uses; ``embed`` returns one row per input; neither ``embed`` nor training leaves a
submodule in another train/eval mode than the one it had.
"""

from __future__ import annotations

import pytest
import torch

from contrastkit import fit
from contrastkit.evaluation import embed as ck_embed
from contrastkit.methods import INPUT_KINDS, REGISTRY, Example, Method


def _modes(module: torch.nn.Module) -> dict[str, bool]:
    return {name: m.training for name, m in module.named_modules()}


def _rows(x) -> int:
    return (x[0] if isinstance(x, (tuple, list)) else x).shape[0]


@pytest.fixture(params=sorted(REGISTRY), ids=str)
def example(request) -> tuple[str, Example]:
    cls = REGISTRY[request.param]
    assert issubclass(cls, Method), f"{cls.__name__} must subclass methods.base.Method"
    assert cls.input_kind in INPUT_KINDS
    torch.manual_seed(0)
    ex = cls.example()
    assert isinstance(ex, Example) and isinstance(ex.method, cls)
    return request.param, ex


def test_one_fit_step_is_finite_and_reaches_what_embed_uses(example):
    name, (method, batch, inputs) = example
    hist = fit(method, batch, steps=1, batch_size=_rows(batch), progress=False, device="cpu")
    assert len(hist.loss) == 1 and torch.isfinite(torch.tensor(hist.loss[0])), name
    for values in hist.metrics.values():
        assert all(isinstance(v, float) for v in values)
    # the parameters embed depends on, and whether the training step gave them a gradient
    params = [p for p in method.parameters() if p.requires_grad]
    method.eval()
    out = method.embed(inputs)
    used = torch.autograd.grad(out.float().sum(), params, allow_unused=True)
    reached = [
        p.grad is not None and bool(p.grad.abs().sum() > 0)
        for p, g in zip(params, used)
        if g is not None
    ]
    assert reached, f"{name}: embed uses no trainable parameter"
    assert any(reached), f"{name}: no gradient of the loss reaches the parameters embed uses"


def test_embed_shape_and_modes_are_kept(example):
    name, (method, _, inputs) = example
    for training in (True, False):
        method.train(training)
        before = _modes(method)
        with torch.no_grad():
            z = method.embed(inputs)
        assert _modes(method) == before, f"{name}.embed changed a module's train/eval mode"
        assert z.ndim == 2 and z.shape[0] == _rows(inputs), f"{name}: embed shape {z.shape}"
        assert torch.isfinite(z).all()
        zz = ck_embed(method, inputs) if isinstance(inputs, torch.Tensor) else None
        assert _modes(method) == before, f"{name}: ck.embed changed a module's mode"
        if zz is not None:
            assert zz.shape == z.shape
