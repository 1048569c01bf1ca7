"""XDoG line sketches (SPEC §5; book chapter "Sketches with XDoG").

The paper trains on photos paired with *automatic* sketches and found the eXtended
Difference-of-Gaussians (Winnemöller et al., 2012) closest to hand drawings.
On a gray image ``I`` in [0, 1]:

    D(I) = G_σ * I − τ · G_kσ * I                      (difference of two Gaussian blurs)

    T(u) = 1                    if u ≥ ε                (paper side: white)
           1 + tanh(φ · (u − ε))  otherwise             (soft threshold: dark strokes)

``G_σ * I`` is a Gaussian blur with standard deviation σ pixels. τ slightly below 1 keeps a
little of the blurred image, so flat regions give ``D ≈ (1 − τ)·I ≥ ε`` (white paper) and
only the dark side of an edge, where the narrow blur is darker than the wide one, falls below
ε and becomes a stroke. φ sets how hard the threshold is: at φ = 200 the sketch is nearly
binary, at φ ≈ 10 it keeps soft gray shading.

The often-quoted σ 0.8, τ 0.98, ε −0.1 keep only the strongest edges of the embedded faces
(under 1 % of the pixels become ink); τ 0.99 and ε −0.01 draw the face, hair, eyes, brows,
mouth, glasses and beard outlines (about 12 % ink) without picking up the pixel noise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np


@dataclass(frozen=True)
class XDoGConfig:
    """Parameters of :func:`xdog`. The defaults give clean line drawings of the embedded faces at 64 px."""

    sigma: float = 0.9  # σ: std (pixels at 64 px) of the narrow Gaussian; larger → thicker, fewer strokes
    k: float = 1.6  # k: ratio of the wide Gaussian's std to σ (1.6 approximates a Laplacian of Gaussian)
    tau: float = 0.99  # τ: weight of the wide Gaussian; closer to 1 → more strokes
    eps: float = -0.01  # ε: threshold on D; lower → sparser sketch (fewer strokes survive)
    phi: float = 200.0  # φ: steepness of the soft threshold; large → binary lines


def to_gray(image: np.ndarray) -> np.ndarray:
    """An RGB (H, W, 3) or gray (H, W) image, uint8 or float in [0, 1], as float32 gray in [0, 1]."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"xdog expects an (H, W) gray or (H, W, 3) RGB image, got shape {image.shape}")
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    elif np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
        if not np.isfinite(image).all():
            raise ValueError("xdog: the image contains NaN or inf")
        if image.min() < -1e-6 or image.max() > 1 + 1e-6:
            raise ValueError(
                f"xdog: a float image must lie in [0, 1], got [{image.min():.3g}, {image.max():.3g}]"
            )
    else:
        raise ValueError(f"xdog expects uint8 or float pixels, got dtype {image.dtype}")
    if image.ndim == 3:  # ITU-R BT.601 luminance, the same weights as OpenCV's RGB2GRAY
        image = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return image


def blur(gray: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur G_σ * I with a kernel wide enough (±3σ) and mirrored borders."""
    return cv2.GaussianBlur(gray, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


def difference_of_gaussians(gray: np.ndarray, cfg: XDoGConfig) -> np.ndarray:
    """D = G_σ * I − τ · G_kσ * I."""
    return blur(gray, cfg.sigma) - cfg.tau * blur(gray, cfg.k * cfg.sigma)


def soft_threshold(d: np.ndarray, cfg: XDoGConfig) -> np.ndarray:
    """T(u) = 1 where u ≥ ε, else 1 + tanh(φ (u − ε)); values in [0, 1]."""
    return np.where(d >= cfg.eps, 1.0, 1.0 + np.tanh(cfg.phi * (d - cfg.eps))).astype(np.float32)


def xdog(image: np.ndarray, cfg: XDoGConfig | None = None, **overrides: float) -> np.ndarray:
    """XDoG sketch of one image: float32 (H, W) in [0, 1], white paper with dark strokes.

    ``image`` is RGB (H, W, 3) or gray (H, W), uint8 or float in [0, 1]. Parameters come from
    ``cfg`` (default :class:`XDoGConfig`) with keyword ``overrides``, e.g. ``xdog(img, eps=-0.2)``.
    Deterministic. Explained in the chapter "Sketches with XDoG".
    """
    cfg = replace(cfg or XDoGConfig(), **overrides)
    if cfg.sigma <= 0 or cfg.k <= 0 or cfg.phi <= 0:
        raise ValueError(f"xdog: sigma, k and phi must be > 0, got {cfg}")
    return soft_threshold(difference_of_gaussians(to_gray(image), cfg), cfg)

