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

import math
import numbers
from dataclasses import dataclass, fields, replace

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
    if image.size == 0:
        raise ValueError(f"xdog: the image is empty, shape {image.shape}")
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    elif np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise ValueError("xdog: the image contains NaN or inf")
        if image.min() < -1e-6 or image.max() > 1 + 1e-6:
            raise ValueError(
                f"xdog: a float image must lie in [0, 1], got [{image.min():.3g}, {image.max():.3g}]"
            )
        image = image.astype(np.float32)
    else:
        raise ValueError(f"xdog expects uint8 or float pixels, got dtype {image.dtype}")
    if image.ndim == 3:  # ITU-R BT.601 luminance, the same weights as OpenCV's RGB2GRAY
        image = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return image


def finite_number(v) -> bool:
    """True for a real number (not a bool) that is finite as a float."""
    try:
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    except OverflowError:  # an int too large for a float
        return False


def check_config(cfg, name: str) -> None:
    """A ValueError naming the parameter unless every field of ``cfg`` is a finite number
    (and a whole number where its default is one)."""
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        whole = isinstance(f.default, int)
        if not finite_number(v) or (whole and not isinstance(v, numbers.Integral)):
            raise ValueError(f"{name}: {f.name} must be {'a whole number' if whole else 'a finite number'}, got {v!r}")


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
    check_config(cfg, "xdog")
    if cfg.sigma <= 0 or cfg.k <= 0 or cfg.phi <= 0:
        raise ValueError(f"xdog: sigma, k and phi must be > 0, got {cfg}")
    return soft_threshold(difference_of_gaussians(to_gray(image), cfg), cfg)




# ---------------------------------------------------------------- photocopy
@dataclass(frozen=True)
class PhotocopyConfig:
    """Parameters of :func:`photocopy` (pixels at 64 px)."""

    detail: float = 2.0  # std of the blur subtracted in the high-pass; larger → bolder, blotchier strokes
    darkness: float = 0.03  # ink where the high-pass is below −darkness; smaller → more ink
    smooth: float = 0.6  # std of the Gaussian that softens the thresholded strokes (0 = hard edges)


def photocopy(image: np.ndarray, cfg: PhotocopyConfig | None = None, **overrides: float) -> np.ndarray:
    """Photocopy-style sketch (after Photoshop's *Photocopy* filter), float32 (H, W) in [0, 1].

    The recipe: a high-pass of the luminance, ``h = I − G_detail * I``, keeps what is darker than
    its surroundings; a hard threshold turns ``h < −darkness`` into ink; a small Gaussian then
    softens the strokes, ``S = G_smooth * [h ≥ −darkness]``. Compared with XDoG the strokes are
    bolder and dark regions keep dark rims, as on a photocopier. Explained in "Sketches with XDoG".
    """
    cfg = replace(cfg or PhotocopyConfig(), **overrides)
    check_config(cfg, "photocopy")
    if cfg.detail <= 0 or cfg.smooth < 0:
        raise ValueError(f"photocopy: detail must be > 0 and smooth >= 0, got {cfg}")
    gray = to_gray(image)
    paper = (gray - blur(gray, cfg.detail) >= -cfg.darkness).astype(np.float32)
    return np.clip(blur(paper, cfg.smooth), 0, 1) if cfg.smooth else paper


# ---------------------------------------------------------------- FDoG
@dataclass(frozen=True)
class FDoGConfig:
    """Parameters of :func:`fdog` (Kang, Lee and Chui, 2007; pixels at 64 px)."""

    etf_radius: int = 3  # μ: radius of the edge-tangent-flow smoothing window
    etf_iterations: int = 3  # refinements of the edge tangent flow
    eta: float = 1.0  # η: how strongly stronger edges steer the flow of weaker neighbours
    sigma_c: float = 0.9  # σ_c: std of the narrow Gaussian of the DoG across the flow
    k: float = 1.6  # σ_s = k·σ_c, the wide Gaussian
    rho: float = 0.99  # ρ: weight of the wide Gaussian (like XDoG's τ)
    sigma_m: float = 2.0  # σ_m: std of the smoothing along the flow; larger → longer, smoother strokes
    eps: float = -0.01  # threshold, as in XDoG: ink where the filtered value is below ε
    phi: float = 200.0  # steepness of the soft threshold, as in XDoG


def _gaussian_taps(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets −⌈3σ⌉…⌈3σ⌉ and their normalised Gaussian weights."""
    r = int(np.ceil(3 * sigma))
    t = np.arange(-r, r + 1, dtype=np.float32)
    w = np.exp(-0.5 * (t / sigma) ** 2)
    return t, w / w.sum()


def edge_tangent_flow(gray: np.ndarray, cfg: FDoGConfig) -> np.ndarray:
    """The edge tangent flow (H, W, 2) of a gray image: unit vectors along the edges, (tx, ty).

    Start from the gradient turned by 90°, then ``etf_iterations`` times replace each tangent by

        t'(x) = Σ_{y: |y − x| ≤ μ} (t(x)·t(y)) · w_m(x, y) · t(y),   w_m = (1 + tanh(η (ĝ(y) − ĝ(x)))) / 2

    normalised to unit length (ĝ: gradient magnitude scaled to [0, 1]). The factor t(x)·t(y) is
    Kang et al.'s sign φ times their direction weight w_d: aligned neighbours count most, and a
    neighbour pointing the other way is flipped instead of cancelling.
    """
    smooth = blur(gray, 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
    mag = np.hypot(gx, gy)
    mag_hat = mag / mag.max() if mag.max() > 0 else mag
    t = np.stack([-gy, gx], axis=-1) / np.maximum(mag, 1e-8)[..., None]
    t[mag < 1e-6] = 0
    r, (h, w) = cfg.etf_radius, gray.shape
    window = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx <= r * r]
    padded_mag = np.pad(mag_hat, r, mode="reflect")
    w_m = [0.5 * (1 + np.tanh(cfg.eta * (padded_mag[r + dy : r + dy + h, r + dx : r + dx + w] - mag_hat))) for dy, dx in window]
    for _ in range(cfg.etf_iterations):
        tx, ty = np.pad(t[..., 0], r, mode="reflect"), np.pad(t[..., 1], r, mode="reflect")
        acc_x, acc_y = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
        for (dy, dx), wm in zip(window, w_m):
            nx, ny = tx[r + dy : r + dy + h, r + dx : r + dx + w], ty[r + dy : r + dy + h, r + dx : r + dx + w]  # t(y)
            weight = (t[..., 0] * nx + t[..., 1] * ny) * wm  # (t(x)·t(y)) · w_m(x, y)
            acc_x += weight * nx
            acc_y += weight * ny
        norm = np.hypot(acc_x, acc_y)
        scale = np.where(norm > 1e-8, 1 / np.maximum(norm, 1e-8), 0).astype(np.float32)
        t = np.stack([acc_x * scale, acc_y * scale], axis=-1)
    return t


def _sample(a: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``a`` at float positions (x, y), mirrored at the borders."""
    return cv2.remap(a, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def fdog(image: np.ndarray, cfg: FDoGConfig | None = None, **overrides: float) -> np.ndarray:
    """Flow-based DoG sketch (Kang et al., 2007), float32 (H, W) in [0, 1].

    With ``t`` the edge tangent flow (:func:`edge_tangent_flow`) and ``n`` its normal:

        F(x) = Σ_u I(x + u·n(x)) · (G_σc(u) − ρ·G_σs(u))     1-D DoG across the flow
        H(x) = Σ_s G_σm(s) · F(c_x(s))                       smoothing along the flow curve c_x

    where ``c_x`` follows ``t`` from ``x`` one pixel per step in both directions. ``H`` is then
    thresholded like XDoG (ε, φ). Smoothing along the flow joins broken edge pieces into long,
    coherent strokes and suppresses isolated noise. Explained in "Sketches with XDoG".
    """
    cfg = replace(cfg or FDoGConfig(), **overrides)
    check_config(cfg, "fdog")
    if cfg.sigma_c <= 0 or cfg.k <= 0 or cfg.sigma_m <= 0 or cfg.phi <= 0 or cfg.etf_radius < 1:
        raise ValueError(f"fdog: sigma_c, k, sigma_m, phi must be > 0 and etf_radius >= 1, got {cfg}")
    gray = to_gray(image)
    t = edge_tangent_flow(gray, cfg)
    h, w = gray.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = -t[..., 1], t[..., 0]  # the normal: the tangent turned by 90°

    u, g_c = _gaussian_taps(cfg.sigma_c)
    u_s, g_s = _gaussian_taps(cfg.k * cfg.sigma_c)
    kernel = -cfg.rho * g_s
    kernel[len(u_s) // 2 - len(u) // 2 : len(u_s) // 2 + len(u) // 2 + 1] += g_c
    F = sum(wk * _sample(gray, xs + uk * nx, ys + uk * ny) for uk, wk in zip(u_s, kernel))

    s, g_m = _gaussian_taps(cfg.sigma_m)
    center = len(s) // 2
    H = g_m[center] * F
    for sign in (1.0, -1.0):  # follow the flow forwards and backwards
        px, py = xs.copy(), ys.copy()
        dx, dy = sign * t[..., 0], sign * t[..., 1]
        for step in range(1, center + 1):
            px, py = px + dx, py + dy
            H += g_m[center + step] * _sample(F, px, py)
            tx, ty = _sample(t[..., 0], px, py), _sample(t[..., 1], px, py)
            flip = np.where(tx * dx + ty * dy < 0, -1.0, 1.0).astype(np.float32)  # keep going the same way
            dx, dy = flip * tx, flip * ty
    return soft_threshold(H, XDoGConfig(eps=cfg.eps, phi=cfg.phi))


# ---------------------------------------------------------------- all styles
STYLES = ("xdog", "photocopy", "fdog")  # sketch styles; each is a function image → float32 (H, W) in [0, 1]


def sketch(image: np.ndarray, style: str = "xdog", **overrides: float) -> np.ndarray:
    """The sketch of ``image`` in ``style`` ("xdog", "photocopy" or "fdog"), float32 (H, W) in [0, 1].

    ``overrides`` go to that style's config. Explained in the chapter "Sketches with XDoG".
    """
    if style == "xdog":
        return xdog(image, **overrides)
    if style == "photocopy":
        return photocopy(image, **overrides)
    if style == "fdog":
        return fdog(image, **overrides)
    raise ValueError(f"unknown sketch style {style!r}; choose one of {', '.join(STYLES)}")


def drop_strokes(sketch_image: np.ndarray, p: float, seed: int = 0) -> np.ndarray:
    """Erase each stroke (connected region of ink, pixels < 0.5) with probability ``p``.

    A way to make a sketch sparser without changing the strokes that remain. ``sketch_image`` is
    float (H, W) in [0, 1]; erased strokes and their gray fringe become paper (1).
    Explained in "Failure cases on sparse sketches".
    """
    if not 0 <= p <= 1:
        raise ValueError(f"drop_strokes: p must be in [0, 1], got {p}")
    n, labels = cv2.connectedComponents((sketch_image < 0.5).astype(np.uint8), connectivity=8)
    dropped = np.flatnonzero(np.random.default_rng(seed).random(n) < p)
    dropped = dropped[dropped > 0]  # label 0 is the paper
    erase = cv2.dilate(np.isin(labels, dropped).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    out = sketch_image.astype(np.float32).copy()
    out[erase] = 1.0
    return out


@dataclass(frozen=True)
class PerturbConfig:
    """How far each distortion of :func:`perturb` goes at strength 1 (distances in pixels at 64 px)."""

    rotate_deg: float = 6.0  # ± rotation of the whole drawing (a tilted page)
    scale: float = 0.06  # ± relative size of the whole drawing
    shift: float = 2.5  # ± shift of the whole drawing
    elastic: float = 2.0  # amplitude of a smooth random displacement field (wobbly strokes)
    elastic_sigma: float = 5.0  # smoothness of that field (std of its Gaussian blur)
    jitter: float = 1.5  # ± shift of each stroke piece on its own (lines that miss each other)
    piece: float = 12.0  # strokes are cut into pieces by a grid of this cell size before they are moved
    drop: float = 0.3  # probability that a stroke piece is left out (gaps)
    thickness: float = 1.0  # stroke width: blend towards a 3×3 dilation (thicker) or, half as far, an erosion (fainter)


def perturb(sketch_image: np.ndarray, strength: float, seed=0, cfg: PerturbConfig = PerturbConfig()) -> np.ndarray:
    """A "poorly drawn" version of a clean sketch: float (H, W) in [0, 1] → float32, the same shape and range.

    Strokes (connected regions of ink) are moved one by one (jitter), some are left out
    (dropout), the ink is thickened or thinned, and the whole drawing goes through a small
    rotation, scaling and shift plus a smooth elastic warp. ``strength`` scales every distortion
    linearly (0 returns the sketch unchanged; 1 is :class:`PerturbConfig` as given). The random
    draws depend only on ``seed`` (an int or a tuple such as ``(seed, i)``), not on the strength,
    so a stronger perturbation moves the same strokes further in the same directions.
    A uint8 sketch is read as 0…255; other dtypes, NaN, values outside [0, 1], an empty sketch
    or a negative strength are a ValueError. Explained in "Contextual GAN vs pix2pix".
    """
    check_strength(strength)
    check_config(cfg, "perturb")
    sketch_image = _sketch_pixels(sketch_image)
    if strength == 0:
        return sketch_image.copy()
    h, w = sketch_image.shape
    unit = h / 64  # distances are given at 64 px
    rng = np.random.default_rng(seed)
    pieces = _stroke_pieces(sketch_image, max(2, round(cfg.piece * unit)))
    n = int(pieces.max()) + 1
    offsets, keep_draw = rng.uniform(-1, 1, (n, 2)), rng.random(n)
    rot, scl, dx, dy = rng.uniform(-1, 1, 4)
    field = rng.standard_normal((2, h, w)).astype(np.float32)
    thicker = rng.random() < 0.5

    # stroke pieces one by one: the ink (1 − sketch) of each kept piece, moved by its own offset
    ink = 1 - sketch_image
    out = ink * (pieces == 0)  # faint ink outside any stroke stays where it was
    for c in range(1, n):
        if keep_draw[c] < cfg.drop * strength:
            continue
        ox, oy = offsets[c] * cfg.jitter * strength * unit
        moved = cv2.warpAffine(ink * (pieces == c), np.float32([[1, 0, ox], [0, 1, oy]]), (w, h), flags=cv2.INTER_LINEAR)
        out = np.maximum(out, moved)

    # thicker or fainter lines: blend towards a 3×3 dilation, or half-way towards an erosion, of the ink
    f = min(1.0, cfg.thickness * strength)
    morphed = cv2.dilate(out, np.ones((3, 3), np.uint8)) if thicker else cv2.erode(out, np.ones((3, 3), np.uint8))
    out = (1 - f) * out + f * morphed if thicker else (1 - f / 2) * out + f / 2 * morphed

    # the whole drawing: rotation, scaling and shift, plus a smooth elastic warp, in one remap
    a = np.deg2rad(rot * cfg.rotate_deg * strength)
    k = 1 + scl * cfg.scale * strength
    cx, cy = (w - 1) / 2, (h - 1) / 2
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xs - cx) / k, (ys - cy) / k  # output pixel → source pixel: the inverse of the affine map
    src_x = np.cos(a) * u + np.sin(a) * v + cx - dx * cfg.shift * strength * unit
    src_y = -np.sin(a) * u + np.cos(a) * v + cy - dy * cfg.shift * strength * unit
    sigma = cfg.elastic_sigma * unit
    for i in range(2):
        field[i] = cv2.GaussianBlur(field[i], (0, 0), sigma)
        field[i] *= cfg.elastic * strength * unit / (np.abs(field[i]).max() + 1e-8)
    out = cv2.remap(out, (src_x + field[0]).astype(np.float32), (src_y + field[1]).astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return np.clip(1 - out, 0, 1).astype(np.float32)


def check_strength(strength) -> None:
    """A ValueError unless ``strength`` (of :func:`perturb`) is a finite number >= 0."""
    if not (finite_number(strength) and strength >= 0):
        raise ValueError(f"perturb: strength must be a finite number >= 0, got {strength!r}")


def _sketch_pixels(sketch_image) -> np.ndarray:
    """A sketch for :func:`perturb` as float32 (H, W) in [0, 1]: uint8 is divided by 255, float must lie in [0, 1]."""
    sketch_image = np.asarray(sketch_image)
    if sketch_image.ndim != 2 or sketch_image.size == 0:
        raise ValueError(f"perturb expects a gray (H, W) sketch, got shape {sketch_image.shape}")
    if sketch_image.dtype == np.uint8:
        return sketch_image.astype(np.float32) / 255
    if not np.issubdtype(sketch_image.dtype, np.floating):
        raise ValueError(f"perturb expects uint8 or float pixels, got dtype {sketch_image.dtype}")
    if not np.isfinite(sketch_image).all():
        raise ValueError("perturb: the sketch contains NaN or inf")
    if sketch_image.min() < -1e-6 or sketch_image.max() > 1 + 1e-6:
        raise ValueError(f"perturb: a float sketch must lie in [0, 1], got [{sketch_image.min():.3g}, {sketch_image.max():.3g}]")
    return np.clip(sketch_image.astype(np.float32), 0, 1)


def _stroke_pieces(sketch_image: np.ndarray, cell: int) -> np.ndarray:
    """Label map (H, W) of stroke pieces: each stroke (ink < 0.5 with its gray fringe) cut by a grid
    of ``cell``-pixel squares; 0 is paper, 1 … n − 1 the pieces, numbered in scan order."""
    _, labels = cv2.connectedComponents((sketch_image < 0.5).astype(np.uint8), connectivity=8)
    labels = cv2.dilate(labels.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int64)  # add the fringe
    h, w = labels.shape
    ys, xs = np.mgrid[0:h, 0:w]
    cells = (ys // cell) * (-(-w // cell)) + xs // cell
    key = np.where(labels > 0, labels * cells.max() + labels + cells, 0)  # unique per (stroke, cell)
    _, pieces = np.unique(key, return_inverse=True)
    return pieces.reshape(h, w) if key.min() == 0 else pieces.reshape(h, w) + 1
