"""Show rows of images side by side in the house style (plotting plumbing for notebook 04).

:func:`image_grid` draws one row per label, e.g. the original images, what one
augmentation pipeline made of them and what another made of them, so a reader can
compare the pipelines by eye.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from . import plots  # noqa: F401  (applies the house style)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["as_display_images", "image_grid"]


def as_display_images(images: np.ndarray) -> np.ndarray:
    """``images`` as float RGB in ``[0, 1]``, shape ``(n, height, width, 3)``.

    Accepts ``(n, h, w, 3)`` or a single ``(h, w, 3)`` image; uint8 values
    ``0..255`` are scaled by 1/255, floats must already lie in ``[0, 1]`` (a small
    tolerance allows for interpolation rounding). Anything else raises ``ValueError``
    naming the problem, rather than drawing a misleading picture.
    """
    arr = np.asarray(images)
    shape = arr.shape
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected RGB images of shape (n, height, width, 3), got shape {shape}")
    if arr.shape[0] == 0:
        raise ValueError("no images to show (the first dimension is 0)")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"expected uint8 or float images, got dtype {arr.dtype}")
    if np.isnan(arr).any():
        raise ValueError("images contain NaN; float images must lie in [0, 1]")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(
            f"float images must lie in [0, 1] (rescale first), got values in [{lo:.3g}, {hi:.3g}]"
        )
    return np.clip(arr, 0.0, 1.0).astype(np.float32, copy=False)


def image_grid(
    rows: Mapping[str, np.ndarray],
    *,
    column_titles: list[str] | None = None,
    cell_inches: float = 1.0,
    title: str = "",
) -> Figure:
    """One row of images per entry of ``rows`` (label -> images), labelled on the left.

    Each value is what :func:`as_display_images` accepts: ``(n, h, w, 3)`` uint8 or
    floats in ``[0, 1]``. Rows may hold different numbers of images; the grid is as
    wide as the longest row and empty cells stay blank. ``column_titles`` (at most one
    per column) label the top row. End the cell with ``plt.show()``.
    """
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("rows is empty: nothing to show")
    if cell_inches <= 0:
        raise ValueError(f"cell_inches must be > 0, got {cell_inches}")
    shown = {label: as_display_images(images) for label, images in rows.items()}
    n_cols = max(len(images) for images in shown.values())
    if column_titles is not None and len(column_titles) > n_cols:
        raise ValueError(f"{len(column_titles)} column titles for {n_cols} columns")
    fig, axes = plt.subplots(
        len(shown),
        n_cols,
        figsize=(cell_inches * n_cols + 1.2, cell_inches * len(shown) + 0.3 + 0.3 * bool(title)),
        squeeze=False,
    )
    for r, (label, images) in enumerate(shown.items()):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(images[c], interpolation="nearest")
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
            if r == 0 and column_titles is not None and c < len(column_titles):
                ax.set_title(column_titles[c], fontsize=9, fontweight="normal")
    if title:
        fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig
