"""The Method contract: what every registered method is, and what ``fit`` may ask of it.

A method is an ``nn.Module`` that wires encoders, heads and a loss from ``contrastkit.losses``.
It is written as a subclass of :class:`Method` and registered by ``METHOD = <the class>`` at the
bottom of its module (``contrastkit.methods.REGISTRY`` finds it by the module's name).

    class MyMethod(Method):
        input_kind = "images"                            what a batch is (INPUT_KINDS)

        def loss(self, batch) -> Tensor                  one step's objective, or
                             -> (Tensor, {name: float})  with extra numbers fit logs
        def embed(self, x) -> Tensor                     the representation used downstream
        def after_step(self, step) -> None               optional: after each optimiser step
        @classmethod
        def example(cls, seed=0) -> Example              a small instance, a toy batch and
                                                         inputs for embed

``loss``
    Returns the scalar to minimise for one batch drawn by ``fit`` from the data it was given.
    It may also return ``(loss, metrics)``: a dict of floats (the parts of a composite
    objective, a detection rate, ...) that ``fit`` records in ``History.metrics`` at the steps it
    logs. This is the one way a method reports extra numbers; no ``self.last_*`` attributes.

``embed``
    Maps inputs of the method's input kind (for image methods: images) to the representation
    that probes and figures use. ``fit`` and the evaluation helpers call it inside
    :func:`contrastkit.utils.eval_mode`, so ``embed`` never switches modes itself.

``after_step(step)``
    Called by ``fit`` after every optimiser step: momentum (EMA) updates, queues, prototype
    refreshes, schedules. It is also the hook for a second loop that is part of the method:
    an inner optimisation (BLTO's trigger generator, with its own optimiser) or a round of
    another party's training (CreamFL's clients). Such a method owns that inner optimiser; the
    outer one, over ``parameters()`` that require gradients, is ``fit``'s.

``input_kind``
    One of :data:`INPUT_KINDS`. The contract test builds every method with ``example()`` and
    checks one ``fit`` step; ``contrastkit train`` trains the methods whose kind is ``"images"``
    or ``"labelled_images"`` and whose first argument is an image encoder.

``example(seed=0)``
    An :class:`Example`: a small configuration (a few thousand parameters, CPU, well under a
    second a step), a toy batch of the input kind (a Tensor or a tuple of tensors with equal
    rows, so ``fit(method, batch, ...)`` can draw from it) and inputs for ``embed``, so tests
    and readers can call ``loss`` and ``embed`` at once.

Why a base class and not a ``typing.Protocol``: the class gives the defaults (``after_step``
does nothing, ``input_kind`` is checked when a subclass is defined) and one place to read the
contract; ``fit`` itself only duck-types ``loss``, so a notebook's own small ``nn.Module`` with a
``loss`` method trains too.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from ..augment import AugmentConfig, views
from ..models import projection_head

__all__ = ["INPUT_KINDS", "Example", "Method", "TwoViewMethod", "images"]

#: What a batch is, for each input kind. ``fit`` draws rows of the tensors it is given; the
#: method's ``loss`` receives them as below.
INPUT_KINDS: dict[str, str] = {
    "images": "a Tensor (N, C, H, W), or a tuple whose first entry is it (labels unused)",
    "labelled_images": "(images (N, C, H, W), integer labels (N,)) that the loss reads",
    "pseudo_labelled_images": "(images (N, C, H, W)[, labels (N,), -1 unlabelled], row ids (N,)) "
    "that index pseudo-labels the method was given",
    "clustered_images": "(images (N, C, H, W), pseudo-labels (N,)) that the batch sampler reads",
    "class_labelled_images": "(images (N, C, H, W), labels (N,)) for a method built around the "
    "classes (their number, a target class), which contrastkit train does not configure",
    "gan_images": "a Tensor (N, C, H, W) of real images that the method's generator learns to draw",
    "vectors": "a Tensor (N, D) of feature vectors whose views a callable augmentation makes",
    "image_text": "(images (N, C, H, W), caption token ids (N, L))",
    "modalities": "a tuple of tensors, one per modality, paired row by row",
    "video_text": "(videos (N, T, C, H, W) or frame features, caption token ids (N, L))",
    "audio_text": "(audio (N, S), caption token ids (N, L))",
    "image_volume": "(images (N, C, H, W), volumes (N, D, H, W)) of the same subjects",
    "volumes": "a Tensor (N, D, H, W) of volumes, D one-channel slices each",
    "scenes": "a Tensor (N, C, H, W) of multi-part scenes whose views are crops",
    "labelled_scenes": "(part scenes (N, C, H, W), image-level multi-hot labels (N, K))",
    "sequence": "token ids (N, L) of a symbolic sequence",
    "themed_sequence": "(theme token ids (N, L), sequence token ids (N, T), theme gate (N, T))",
    "federated": "a tuple of tensors of the public set; clients hold their private data",
}

Batch = Tensor | tuple[Tensor, ...]


class Example(NamedTuple):
    """What ``Method.example()`` returns: a small method, a toy batch, inputs for ``embed``."""

    method: Method
    batch: Any  # what fit's data yields: a Tensor or a tuple of tensors with equal rows
    inputs: Any  # what embed takes, e.g. the batch's images


def images(batch: Tensor | tuple | list) -> Tensor:
    """The images of a batch from ``fit``: the tensor itself, or the first of a tuple."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


class Method(nn.Module):
    """Base class of every registered method; see the module docstring for the contract."""

    #: What a batch is; a key of :data:`INPUT_KINDS`.
    input_kind: ClassVar[str] = "images"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.input_kind not in INPUT_KINDS:
            raise TypeError(
                f"{cls.__name__}.input_kind must be one of {', '.join(INPUT_KINDS)}, "
                f"got {cls.input_kind!r}"
            )

    def loss(self, batch: Any) -> Tensor | tuple[Tensor, dict[str, float]]:
        """The objective for one batch (and optionally a dict of floats to log)."""
        raise NotImplementedError(f"{type(self).__name__} must define loss(batch)")

    def embed(self, x: Any) -> Tensor:
        """The representation used downstream."""
        raise NotImplementedError(f"{type(self).__name__} must define embed(x)")

    def after_step(self, step: int) -> None:
        """Called by ``fit`` after every optimiser step; does nothing unless overridden."""

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        """A small instance, a toy batch of its input kind and inputs for ``embed``."""
        raise NotImplementedError(f"{cls.__name__} must define the classmethod example()")


class TwoViewMethod(Method):
    """Encoder + projector + two augmented views of each image: the SimCLR family's wiring.

    Subclasses write the objective on the two projected views in :meth:`pair_loss`; this class
    makes the views, encodes both in one pass and keeps ``embed`` as the encoder's output (the
    representation before the projector, which is the one to keep).

    Args:
        encoder: any module with an ``out_dim`` attribute (e.g. ``SmallConvNet()``).
        proj_dim: output size of the projection head.
        augment: an ``AugmentConfig`` or preset name for the views.
    """

    input_kind = "images"

    def __init__(
        self,
        encoder: nn.Module,
        proj_dim: int = 64,
        augment: AugmentConfig | str = "simclr",
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = projection_head(encoder.out_dim, out_dim=proj_dim)
        self.augment = augment

    def two_views(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Project two augmented views of the batch's images: ``(z1, z2)``, each (N, proj_dim)."""
        v1, v2 = views(images(batch), 2, self.augment)
        # one forward pass over both views: half the kernel launches, shared BN statistics
        z = self.projector(self.encoder(torch.cat([v1, v2])))
        return z.chunk(2)

    def pair_loss(self, z1: Tensor, z2: Tensor) -> Tensor | tuple[Tensor, dict[str, float]]:
        """The objective on two projected views (N, D) of the same N images."""
        raise NotImplementedError(f"{type(self).__name__} must define pair_loss(z1, z2)")

    def loss(self, batch: Batch) -> Tensor | tuple[Tensor, dict[str, float]]:
        return self.pair_loss(*self.two_views(batch))

    def embed(self, x: Tensor) -> Tensor:
        """The encoder's output, before the projector."""
        return self.encoder(x)

    @classmethod
    def example(cls, seed: int = 0) -> Example:
        from ..models import SmallConvNet

        torch.manual_seed(seed)
        x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
        return Example(cls(SmallConvNet(widths=(8, 16))), x, x)
