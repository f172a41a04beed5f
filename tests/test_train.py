"""fit: learns, repeats itself on CPU for a seed, resumes the same run, checkpoints safely."""

import pytest
import torch

import contrastkit as ck
from contrastkit.methods.simclr import SimCLR


def _small():
    ck.seed_everything(0)
    return SimCLR(ck.models.SmallConvNet(1, widths=(8, 16)), proj_dim=16, temperature=0.5)


@pytest.fixture(scope="module")
def digits16():
    return ck.load_digits(image_size=16).x[:512]


def test_loss_goes_down(digits16):
    model = _small()
    hist = ck.fit(model, digits16, steps=60, batch_size=128, lr=3e-3, progress=False)
    first, last = sum(hist.loss[:2]) / 2, sum(hist.loss[-2:]) / 2
    assert last < first - 0.3


def test_deterministic_on_cpu(digits16):
    a, b = _small(), _small()
    ha = ck.fit(a, digits16, steps=15, batch_size=64, progress=False, seed=3)
    hb = ck.fit(b, digits16, steps=15, batch_size=64, progress=False, seed=3)
    assert ha.loss == hb.loss
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_resume_continues_the_same_run(digits16, tmp_path):
    straight = _small()
    ck.fit(straight, digits16, steps=20, batch_size=64, progress=False, seed=1)
    ckpt = tmp_path / "run.pt"
    interrupted = _small()
    ck.fit(
        interrupted,
        digits16,
        steps=20,
        batch_size=64,
        progress=False,
        seed=1,
        checkpoint=ckpt,
        checkpoint_every=5,
        stop_after=12,
    )
    assert torch.load(ckpt, weights_only=True)["step"] == 12
    resumed = _small()  # a fresh process would start from a fresh model
    hist = ck.fit(
        resumed,
        digits16,
        steps=20,
        batch_size=64,
        progress=False,
        seed=1,
        checkpoint=ckpt,
        resume=True,
    )
    for ps, pr in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(ps, pr)
    assert hist.step[-1] == 19


def test_checkpoint_is_written_atomically(digits16, tmp_path, monkeypatch):
    ckpt = tmp_path / "run.pt"
    model = _small()
    ck.fit(model, digits16, steps=4, batch_size=64, progress=False, checkpoint=ckpt)
    good = ckpt.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        ck.fit(_small(), digits16, steps=4, batch_size=64, progress=False, checkpoint=ckpt)
    assert ckpt.read_bytes() == good  # the old checkpoint survives a failed write
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]  # no temp file left behind


def test_eval_fn_and_epochs(digits16):
    model = _small()
    hist = ck.fit(
        model,
        digits16,
        epochs=0.5,
        batch_size=64,
        progress=False,
        eval_every=2,
        eval_fn=lambda m: {"mean": ck.embed(m, digits16[:32]).mean()},
    )
    assert [e["step"] for e in hist.evals] == [2, 4]
    assert hist.samples_per_second > 0


def test_labels_reach_the_method_with_imagedata():
    seen = {}

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def loss(self, batch):
            seen["batch"] = batch
            return self.w.sum() ** 2 + 1

    d = ck.load_digits()
    ck.fit(Probe(), d, steps=1, batch_size=8, progress=False)
    x, y = seen["batch"]
    assert x.shape == (8, 1, 8, 8) and y.shape == (8,)


def test_bad_arguments(digits16):
    model = _small()
    with pytest.raises(ValueError, match="exactly one of steps or epochs"):
        ck.fit(model, digits16, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        ck.fit(model, digits16, steps=1, batch_size=10_000, progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        ck.fit(model, digits16, steps=1, optimizer="lion", progress=False)
    with pytest.raises(ValueError, match="device"):
        ck.get_device("cuda:7") if not torch.cuda.is_available() else ck.get_device("bogus")


def test_evaluate_reports_metrics():
    d = ck.load_digits()
    tr, te = d.split(300)
    out = ck.evaluate(lambda x: x.flatten(1), tr, te, linear=True)
    assert out["knn"] > 0.9 and out["linear"] > 0.9
    assert set(out) == {"knn", "linear", "uniformity", "tolerance"}
