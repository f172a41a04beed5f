"""The ``start_here`` notebook: the ``shapes`` images at a chosen contrast, as an explorer."""

from __future__ import annotations

from ..data import make_shapes

__all__ = ["draw"]


def draw(contrast: float, seed: int = 0, n: int = 16, image_size: int = 32):
    """``n`` shapes images drawn at ``contrast`` (object against background), in a grid."""
    from ..viz import image_grid

    x = make_shapes(n, image_size=image_size, seed=seed, contrast=contrast).x
    return image_grid(x, n=n, ncol=8, title=f"shapes at contrast {contrast:.1f}")
