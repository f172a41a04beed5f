"""``contrastkit train METHOD --data NAME``: train a method on images, checkpoint, report kNN.

Which methods it trains comes from the Method contract (:func:`trainable_methods`): those whose
input is image batches and whose first argument is an image encoder.
"""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path

import torch
from torch import nn

from .. import distributed
from ..data.base import ImageData
from ..evaluation import embed
from ..files import atomic_write_text
from ..train import fit

__all__ = ["CLI_KINDS", "cli_train", "trainable_methods"]

N_TEST = 1_000  # held-out images for the final kNN accuracy
DEFAULT_STEPS = 500
DEFAULT_LR = 2e-3  # Adam; the rate the `shapes` defaults were calibrated with (batch 256)
DEFAULT_N_TRAIN = 9_000  # for generated data (`shapes`)
#: Input kinds ``contrastkit train`` can feed: image batches, with labels for those that read them.
CLI_KINDS = ("images", "labelled_images")


def trainable_methods() -> tuple[str, ...]:
    """Methods ``contrastkit train`` builds, read from the Method contract (not from a list).

    A method qualifies when its ``input_kind`` is in :data:`CLI_KINDS` and it is built from an
    image encoder: its first argument is an ``nn.Module`` (``encoder``, or a ``base`` that also
    takes one, as Hallucinator's does). The others need data or parts the command does not make
    (captions, other modalities, pseudo-labels, clients, a size instead of an encoder) and are
    trained in their notebooks.
    """
    from ..methods import REGISTRY

    found = []
    for name in REGISTRY:
        cls = REGISTRY[name]
        first = next(iter(inspect.signature(cls).parameters.values()), None)
        takes_module = first is not None and (
            first.name == "encoder" or "Module" in str(first.annotation)
        )
        if getattr(cls, "input_kind", None) in CLI_KINDS and takes_module:
            found.append(name)
    return tuple(found)


def _train_test(name: str, n_train: int | None, image_size: int | None, seed: int = 0):
    """The training set and ``N_TEST`` held-out images of a dataset (the data seed is fixed)."""
    from .. import data as datasets

    if name not in datasets.NAMES:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(datasets.NAMES)}")
    if name == "shapes":  # generated: the test set is drawn from a disjoint seed
        train = datasets.load(name, n=n_train or DEFAULT_N_TRAIN, image_size=image_size)
        test = datasets.load(name, train=False, n=N_TEST, image_size=image_size)
        return train, test
    if name == "digits":  # one small set (1,797 images): hold out at most half
        full = datasets.load(name, image_size=image_size)
        train, test = full.split(min(N_TEST, len(full) // 2), seed=seed)
    else:
        train = datasets.load(name, train=True)
        test = datasets.load(name, train=False)
        g = torch.Generator().manual_seed(seed)
        test = test.subset(torch.randperm(len(test), generator=g)[:N_TEST].to(test.x.device))
        if image_size is not None and image_size != train.x.shape[-1]:
            raise ValueError(
                f"{name} comes at {train.x.shape[-1]} px; --image-size {image_size} is not "
                "supported for it (leave it out)"
            )
    if n_train is not None:
        if n_train > len(train):
            raise ValueError(f"--n-train {n_train} is more than {name}'s {len(train)} images")
        train = train.subset(slice(0, n_train))
    return train, test


def _build_method(key: str, in_channels: int, data_name: str, temperature: float | None):
    from .. import methods
    from ..models import SmallConvNet

    cls = methods.get(key)
    accepted = inspect.signature(cls).parameters
    kwargs = {}
    if temperature is not None:
        if "temperature" not in accepted:
            raise ValueError(f"method {key!r} has no temperature; leave out --temperature")
        kwargs["temperature"] = temperature
    if data_name in ("digits", "shapes") and "augment" in accepted:
        # digits: 8 px grey, shifts and pixel dropout, no colour; shapes: colour is a nuisance
        kwargs["augment"] = data_name
    return cls(SmallConvNet(in_channels), **kwargs)


def _augment_name(method: nn.Module) -> str | None:
    """The preset name of a method's augmentation, or None (a custom config or none)."""
    config = getattr(method, "augment", None)
    return config if isinstance(config, str) else None


def _final_metrics(method: nn.Module, train: ImageData, test: ImageData, seed: int) -> dict:
    """kNN accuracy (k=20) of the encoder and of raw pixels; alignment and uniformity."""
    from .. import metrics
    from ..augment import views

    ztr, zte = embed(method, train.x), embed(method, test.x)
    xtr, xte = train.x.flatten(1).cpu(), test.x.flatten(1).cpu()
    ytr, yte = train.y.cpu(), test.y.cpu()
    torch.manual_seed(seed)
    config = getattr(method, "augment", None)
    if not isinstance(config, (str, type(None))) and not hasattr(config, "crop_scale"):
        config = None
    v1, v2 = views(test.x, 2, config)
    z1, z2 = embed(method, v1), embed(method, v2)
    return {
        "knn": metrics.knn_accuracy(ztr, ytr, zte, yte, k=20),
        "knn_raw_pixels": metrics.knn_accuracy(xtr, ytr, xte, yte, k=20),
        "alignment": float(metrics.alignment(z1, z2)),
        "uniformity": float(metrics.uniformity(zte)),
        "alignment_raw_pixels": float(metrics.alignment(v1.flatten(1).cpu(), v2.flatten(1).cpu())),
        "uniformity_raw_pixels": float(metrics.uniformity(xte)),
    }


def cli_train(args: argparse.Namespace) -> int:
    """``contrastkit train METHOD --data NAME ...``: train, checkpoint, report kNN accuracy.

    Builds ``METHOD`` on a :class:`~contrastkit.models.SmallConvNet` (input channels from the
    data), trains it with :func:`fit` (progress bar; ``--out/checkpoint.pt`` written atomically
    every 100 steps and at the end; ``--resume`` continues it), then prints and writes
    ``--out/metrics.json``: kNN accuracy (k=20) on ``N_TEST`` held-out images against raw
    pixels' kNN, alignment and uniformity (both: lower is better). Defaults: 500 steps, batch
    256, Adam lr 2e-3, seed 0, 9,000 generated 32 px training images with the ``"shapes"``
    augmentation preset (``digits`` gets ``"digits"``), out
    ``runs/<method>-<data>-seed<seed>``. Under ``torchrun`` the batch is per rank.

    Raises:
        KeyError: unknown method. ValueError: unknown dataset, a bad combination, or an
        existing checkpoint without ``--resume``.
    """
    from .. import methods
    from ..utils import seed_everything

    methods.get(args.method)  # unknown method: fail before any slow work
    trainable = trainable_methods()
    if args.method not in trainable:
        raise ValueError(
            f"method {args.method!r} is not trained by `contrastkit train` (it needs more than "
            f"an image encoder and image batches); run its notebook: contrastkit notebooks "
            f"--only {args.method}. This command trains: {', '.join(trainable)}"
        )
    seed = 0 if args.seed is None else args.seed
    out = Path(args.out or f"runs/{args.method}-{args.data}-seed{seed}")
    ckpt = out / "checkpoint.pt"
    if ckpt.exists() and not args.resume:
        raise ValueError(f"{ckpt} exists: pass --resume to continue it, or choose another --out")
    train_set, test_set = _train_test(args.data, args.n_train, args.image_size)
    batch_size = args.batch_size or min(256, len(train_set))

    owns_group = not distributed.is_distributed()
    device = distributed.init_from_env(args.device or "auto")
    rank, world = distributed.rank(), distributed.world_size()
    try:
        seed_everything(seed)  # the same initial weights on every rank
        method = _build_method(args.method, train_set.x.shape[1], args.data, args.temperature)
        steps = None if args.epochs else (args.steps or DEFAULT_STEPS)
        lr = args.lr or DEFAULT_LR
        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
            length = f"{args.epochs} epochs" if args.epochs else f"{steps} steps"
            ranks = f" x {world} ranks" if world > 1 else ""
            print(
                f"training {args.method} on {args.data} ({len(train_set):,} images, "
                f"{train_set.x.shape[-1]} px) for {length}, batch {batch_size}{ranks}, "
                f"lr {lr:g}, seed {seed}, {device} -> {out}",
                flush=True,
            )
        hist = fit(
            method,
            train_set,
            steps=steps,
            epochs=args.epochs,
            batch_size=batch_size,
            lr=lr,
            device=device,
            seed=seed,
            checkpoint=ckpt,
            resume=args.resume,
            desc=f"{args.method} on {args.data}",
            channels_last=True,
        )
        if rank != 0:
            return 0
        result = {
            "method": args.method,
            "data": args.data,
            "seed": seed,
            "steps": hist.step[-1] + 1 if hist.step else 0,
            "batch_size": batch_size,
            "world_size": world,
            "lr": lr,
            "temperature": getattr(method, "temperature", None),
            "augment": _augment_name(method),
            "image_size": int(train_set.x.shape[-1]),
            "n_train": len(train_set),
            "n_test": len(test_set),
            **_final_metrics(method, train_set, test_set, seed),
            "final_loss": hist.loss[-1] if hist.loss else None,
            "train_seconds": hist.seconds,
            "images_per_second": hist.samples_per_second,
            "device": str(device),
            "history": {"step": hist.step, "loss": hist.loss},
        }
        atomic_write_text(out / "metrics.json", json.dumps(result, indent=2))
        print(
            f"kNN accuracy (k=20, {len(test_set):,} held-out images): {result['knn']:.3f}   "
            f"raw pixels: {result['knn_raw_pixels']:.3f}\n"
            f"alignment {result['alignment']:.3f} (raw pixels {result['alignment_raw_pixels']:.3f})"
            f"   uniformity {result['uniformity']:.3f} "
            f"(raw pixels {result['uniformity_raw_pixels']:.3f}); lower is better for both\n"
            f"wrote {out / 'metrics.json'} and {ckpt}"
        )
        return 0
    finally:
        if owns_group:
            distributed.cleanup()
