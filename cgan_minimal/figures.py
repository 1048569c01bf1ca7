"""Figures written by training and completion: sample grids and completion tables."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .utils import atomic_path


def grid(images: np.ndarray, ncol: int = 8, pad: int = 2) -> np.ndarray:
    """Tile uint8 images (N, H, W, 3) into one image, ``ncol`` per row, white gaps of ``pad`` px."""
    n, h, w, c = images.shape
    nrow = -(-n // ncol)
    out = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), 255, np.uint8)
    for i, im in enumerate(images):
        r, k = divmod(i, ncol)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + k * (w + pad) : pad + k * (w + pad) + w] = im
    return out


def save_png(image: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Write a uint8 RGB image as PNG atomically, enlarged ``scale`` times (nearest neighbour)."""
    if scale > 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")
    return Path(path)


def completion_table(
    sketches: np.ndarray, completed: np.ndarray, truths: np.ndarray, groups: int = 4, pad: int = 2
) -> np.ndarray:
    """One image whose rows read ``input sketch | completed photo | true photo``.

    All three are uint8 (N, s, s, 3). Triplets are laid out ``groups`` per row, with a wider gap
    between triplets than inside one.
    """
    n, s = len(sketches), sketches.shape[1]
    triplets = [np.concatenate([a, _vgap(s, pad), b, _vgap(s, pad), c], axis=1) for a, b, c in zip(sketches, completed, truths)]
    return grid(np.stack(triplets), ncol=min(groups, n), pad=3 * pad)


def _vgap(s: int, pad: int) -> np.ndarray:
    return np.full((s, pad, 3), 255, np.uint8)


def save_figure(fig, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def save_completions(
    path: str | Path, sketches: np.ndarray, completed: np.ndarray, truths: np.ndarray, title: str = ""
) -> Path:
    """Write ``completions.png``: each row of triplets is input sketch | completed photo | true photo."""
    from matplotlib.figure import Figure  # no pyplot: works headless and leaves a notebook's backend alone

    table = completion_table(sketches, completed, truths)
    groups = min(4, len(sketches))
    h, w = table.shape[:2]
    fig = Figure(figsize=(max(4.0, w / 50), h / 50 + 0.8), dpi=100)
    ax = fig.add_axes([0, 0, 1, h / (h + 40)])
    ax.imshow(table, interpolation="nearest")
    ax.axis("off")
    header = "    ".join(["sketch | completed | true"] * groups)
    fig.suptitle((title + "\n" if title else "") + header, fontsize=9, y=0.995)
    return save_figure(fig, path)


def show(images, titles=None, ncol: int | None = None, size: float = 1.6, suptitle: str = ""):
    """Draw images side by side with matplotlib and return the figure (the chapters' picture helper).

    ``images``: a sequence of (H, W) gray or (H, W, 3) RGB arrays, uint8 or float in [0, 1];
    ``titles``: one string per image; ``ncol``: images per row (default: all in one row).
    """
    import matplotlib.pyplot as plt

    images = list(images)
    ncol = ncol or len(images)
    nrow = -(-len(images) // ncol)
    h, w = np.asarray(images[0]).shape[:2]
    fig, axes = plt.subplots(nrow, ncol, figsize=(size * ncol * w / h, size * nrow + (0.3 if titles else 0)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, image in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(image, cmap="gray", vmin=0, vmax=1 if np.asarray(image).dtype != np.uint8 else 255, interpolation="nearest")
        if titles:
            ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig
