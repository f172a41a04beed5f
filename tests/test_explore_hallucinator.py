"""The Hallucinator explorer: fixed pairs, the ratio explorer's state and its figure."""

import numpy as np
import pytest
import torch

from contrastkit.explore import hallucinator as ex
from contrastkit.methods import hallucinator as hl


def test_explorer_state_shapes_fixed_basis_and_cosines():
    torch.manual_seed(0)
    gen = hl.PositiveGenerator(6, max_ratio=0.1)
    gen.train()
    q, k = torch.randn(10, 6), torch.randn(10, 6)
    s0 = ex.explorer_state(gen, q, k, 0.0)
    assert gen.training  # mode restored
    assert all(s0[name].shape == (10, 2) for name in ("q", "k", "g", "h"))
    assert np.allclose(s0["g"], s0["q"], atol=1e-6)  # lam = 0: no extrapolation
    s1 = ex.explorer_state(gen, q, k, 0.5, basis=s0["basis"])
    assert np.allclose(s1["q"], s0["q"]) and np.allclose(s1["k"], s0["k"])  # same basis
    # extrapolating away from the key lowers the cosine to it
    assert s1["cos"]["cos_gk"] < s0["cos"]["cos_gk"] == pytest.approx(s0["cos"]["cos_qk"])
    with torch.no_grad():
        gen.eval()
        want = hl.hardness(q, k, gen(q, k, 0.5))
    assert s1["cos"]["cos_hk"] == pytest.approx(want["cos_hk"])
    with pytest.raises(ValueError, match="lam"):
        ex.explorer_state(gen, q, k, -1.0)


def test_fixed_pairs_keep_the_random_stream_and_the_modes():
    example = hl.Hallucinator.example()
    model, x = example.method, example.inputs
    model.train()
    torch.manual_seed(5)
    q, k, h = ex.fixed_pairs(model, x, seed=0)
    after = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(1))  # the caller's stream is untouched
    assert model.training and model.generator.training
    q2, _, _ = ex.fixed_pairs(model, x, seed=0)
    assert torch.equal(q, q2) and q.shape == k.shape == h.shape == (2 * len(x), 16)


def test_draw_has_four_traces_and_the_cosines():
    torch.manual_seed(0)
    gen = hl.PositiveGenerator(6)
    q, k = torch.randn(10, 6), torch.randn(10, 6)
    basis = ex.explorer_state(gen, q, k, 0.1)["basis"]
    fig = ex.draw(gen, q, k, basis, 0.3)
    assert [t.name for t in fig.data] == ["key k", "query q", "extrapolation g", "hallucination h"]
    assert fig.layout.title.text.startswith("lambda=0.30")
