"""Procedurally generated cartoon faces: the embedded data set of `cgan_minimal`.

The contextual GAN of Lu et al. (ECCV 2018) is trained on joint images
[sketch | photo] and then completes the photo half from a sketch alone.  To
keep the library self-contained (no downloads) the "photos" are simple cartoon
faces drawn here with OpenCV primitives, and the sketches are XDoG line
drawings of them (see `cgan_minimal.xdog`).

Every face is random: background, face shape, skin tone, ears, hair style and
colour, eyes, eyebrows, nose, a mouth whose curvature varies continuously from
frown to smile, and two rare attributes, glasses and beard.  Shapes are large
and flat-coloured with clear luminance contrast (hair against skin and
background, beard against skin), so that the outlines show up in an edge
sketch and a small DCGAN can learn the distribution at 32x32 on a CPU.

Face number i of stream `seed` is drawn from `np.random.default_rng((seed, i))`
and so depends only on (seed, i).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ATTRIBUTES: tuple[str, ...] = (
    "glasses", "beard", "hair_style", "hair_color", "face_shape", "mouth_curve", "skin_tone")
HAIR_STYLES: tuple[str, ...] = ("short", "long", "bald", "bangs", "curly", "bun")
HAIR_COLORS: tuple[str, ...] = ("black", "brown", "red", "blond", "gray")
FACE_SHAPES: tuple[str, ...] = ("oval", "round", "long", "square")
SKIN_TONES: tuple[str, ...] = ("very_light", "light", "medium", "tan", "dark")

_HAIR_RGB = np.array([(35, 30, 30), (95, 60, 35), (170, 75, 35), (215, 180, 100), (170, 170, 175)], float)
_SKIN_RGB = np.array([(250, 222, 200), (238, 198, 165), (205, 155, 115), (165, 110, 75), (115, 75, 50)], float)
_BG_RGB = np.array([(200, 220, 240), (190, 230, 200), (235, 235, 235), (240, 225, 200), (215, 200, 235),
                    (245, 240, 190), (90, 130, 160), (120, 150, 110), (70, 70, 90), (150, 90, 110)], float)
_SHIRT_RGB = np.array([(60, 90, 170), (180, 50, 50), (60, 140, 80), (230, 230, 230), (50, 50, 60),
                       (220, 170, 40)], float)
# (half-width a, half-height b, superellipse exponent of the jaw) in units of the image side.
_SHAPES = ((0.28, 0.35, 2.0), (0.315, 0.33, 2.0), (0.255, 0.37, 2.0), (0.295, 0.34, 3.2))
_SHIFT = 4  # fractional bits for sub-pixel cv2 drawing


@dataclass(frozen=True)
class FaceConfig:
    """Parameters of the face distribution (defaults are tuned for a small 32-64 px GAN)."""

    size: int = 64                # rendered side in pixels (one square half of the joint image)
    p_glasses: float = 0.30       # probability of glasses (rare attribute)
    p_beard: float = 0.25         # probability of a beard (rare attribute)
    shift: float = 0.035          # max face-centre jitter as a fraction of size
    scale_jitter: float = 0.07    # +/- relative face-size jitter
    rotation_deg: float = 6.0     # +/- head tilt in degrees
    noise_std: float = 3.0        # std of additive Gaussian pixel noise (0-255 scale)
    p_gradient: float = 0.5       # probability of a two-tone vertical gradient background
    p_ears: float = 0.8           # probability that ears are drawn (hidden anyway by long hair)
    supersample: int = 2          # draw at this multiple of `size`, then downsample (anti-aliasing)
    min_contrast: float = 40.0    # min luminance difference (0-255) hair/skin, beard/skin, etc.


def _lum(c: np.ndarray) -> float:
    """Rec. 601 luminance of an RGB colour (0-255)."""
    return float(0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])


def _pick_contrasting(rng: np.random.Generator, palette: np.ndarray, others: list, min_diff: float) -> int:
    """Index of a random palette colour whose luminance differs from all `others` by >= min_diff."""
    ok = [i for i, c in enumerate(palette) if all(abs(_lum(c) - _lum(o)) >= min_diff for o in others)]
    if not ok:  # fall back to the most contrasting colour
        ok = [int(np.argmax([min(abs(_lum(c) - _lum(o)) for o in others) for c in palette]))]
    return int(ok[rng.integers(len(ok))])


def _darken_until(color: np.ndarray, against: np.ndarray, min_diff: float) -> tuple:
    """`color` darkened just enough to differ in luminance from `against` by min_diff."""
    for f in (0.7, 0.55, 0.4, 0.25, 0.12):
        if abs(_lum(color * f) - _lum(against)) >= min_diff:
            break
    return tuple(color * f)


class _Canvas:
    """An RGB image with drawing helpers in unit coordinates (0..1 across the image)."""

    def __init__(self, img: np.ndarray):
        self.img, self.px = img, img.shape[0]

    def _p(self, x, y) -> np.ndarray:  # unit coordinate arrays -> fixed-point pixel points (N, 2)
        return np.round(np.stack([x, y], -1) * self.px * (1 << _SHIFT)).astype(np.int32)

    def _q(self, v: float) -> int:  # one unit coordinate -> fixed-point pixels
        return int(round(float(v) * self.px * (1 << _SHIFT)))

    def _t(self, t: float) -> int:  # line thickness in units -> whole pixels (>= 1)
        return max(1, int(round(t * self.px)))

    def poly(self, xs, ys, color) -> None:
        cv2.fillPoly(self.img, [self._p(xs, ys)], color, cv2.LINE_AA, _SHIFT)

    def curve(self, xs, ys, color, t: float) -> None:
        cv2.polylines(self.img, [self._p(xs, ys)], False, color, self._t(t), cv2.LINE_AA, _SHIFT)

    def ellipse(self, cx, cy, ax, ay, color, t: float = -1.0, angle: float = 0.0) -> None:
        th = -1 if t < 0 else self._t(t)
        cv2.ellipse(self.img, (self._q(cx), self._q(cy)), (self._q(ax), self._q(ay)), angle, 0, 360,
                    color, th, cv2.LINE_AA, _SHIFT)

    def line(self, x0, y0, x1, y1, color, t: float) -> None:
        self.curve(np.array([x0, x1]), np.array([y0, y1]), color, t)

    def region(self, xs, top, bottom, color) -> None:
        """Fill {(x, y): top(x) < y < bottom(x)} sampled at xs (only where top < bottom)."""
        ok = top < bottom
        if ok.sum() >= 2:
            xs, top, bottom = xs[ok], top[ok], bottom[ok]
            self.poly(np.r_[xs, xs[::-1]], np.r_[top, bottom[::-1]], color)


def _half_height(x: np.ndarray, a: float, b: float, n: float) -> np.ndarray:
    """Half-height of the superellipse |x/a|^n + |y/b|^n = 1 at x (0 outside)."""
    return b * np.clip(1.0 - np.abs(x / a) ** n, 0.0, 1.0) ** (1.0 / n)


def _background(rng: np.random.Generator, px: int, color: np.ndarray, p_gradient: float) -> np.ndarray:
    """Plain colour, or a soft vertical gradient between two shades of it."""
    top, bot = color, color
    if rng.random() < p_gradient:
        d = rng.uniform(20, 45) * rng.choice([-1, 1])
        top, bot = np.clip(color + d, 0, 255), np.clip(color - d, 0, 255)
    t = np.linspace(0.0, 1.0, px)[:, None, None]
    return np.repeat((top * (1 - t) + bot * t).astype(np.uint8), px, axis=1)


def _draw_hair_back(c: _Canvas, rng, style: int, cx, cy, a, b, color) -> None:
    """Hair silhouette behind the head (volume above it, long hair down the sides, bun, curls)."""
    if style == 2:  # bald: nothing behind the head
        return
    vol = rng.uniform(0.10, 0.18) * b
    if style == 1:  # long: a tall rounded block down to below the chin
        xs = -a * 1.15 * np.cos(np.linspace(0, np.pi, 40))
        length = cy + b * rng.uniform(0.8, 1.15)
        c.region(cx + xs, cy - vol * 0.5 - _half_height(xs, a * 1.15, b + vol * 0.5, 2.0),
                 np.full_like(xs, length), color)
        return
    c.ellipse(cx, cy - vol, a * 1.1, b, color)
    if style == 4:  # curly: big puffs around the top of the head
        for ang in np.linspace(np.pi * 1.05, np.pi * 1.95, 6):
            c.ellipse(cx + 1.05 * a * np.cos(ang), cy - vol + 1.0 * b * np.sin(ang), 0.07, 0.07, color)
    if style == 5:  # bun on top
        c.ellipse(cx, cy - b - vol - 0.04, 0.085, 0.07, color)


def _draw_hair_front(c: _Canvas, rng, style: int, cx, cy, a, b, color) -> None:
    """Hair over the top of the face, bounded below by a style-specific hairline."""
    if style == 2:
        return
    xs = -a * 1.04 * np.cos(np.linspace(0, np.pi, 48))
    u = xs / a
    hairline = {0: cy - b * (0.55 - 0.3 * u**2), 1: cy - b * (0.75 - 0.55 * np.abs(u)),
                3: cy - b * (rng.uniform(0.25, 0.35) + rng.uniform(-0.15, 0.15) * u),
                4: cy - b * (0.5 - 0.25 * u**2), 5: cy - b * (0.68 - 0.35 * u**2)}[style]
    top = cy - _half_height(xs, a * 1.04, b * 1.04, 2.0)
    c.region(cx + xs, top, hairline, color)
    inside = hairline > top + 0.01  # a darker stroke along the hairline keeps it visible in the sketch
    if inside.sum() >= 2:
        c.curve(cx + xs[inside], hairline[inside], tuple(np.array(color) * 0.6), 0.012)


def _draw_face_base(c: _Canvas, cx, cy, a, b, n_jaw, skin, shirt, ears) -> None:
    """Shirt, neck, ears and the filled face shape."""
    c.poly(cx + np.array([-0.45, 0.45, 0.45, -0.45]) * a, cy + np.array([0, 0, 2, 2]) * b, tuple(skin * 0.82))
    c.ellipse(cx, cy + b + 0.27, 0.42, 0.16, tuple(shirt))
    if ears:
        for s in (-1, 1):
            c.ellipse(cx + s * a * 0.98, cy - 0.02 * b, 0.045, 0.075, tuple(skin * 0.9))
    xs = -a * np.cos(np.linspace(0, np.pi, 64))
    c.region(cx + xs, cy - _half_height(xs, a, b, 2.0), cy + _half_height(xs, a, b, n_jaw), tuple(skin))


def _draw_beard(c: _Canvas, cx, cy, a, b, n_jaw, color) -> None:
    """Dark region over the jaw and chin: from the sideburns down, up to just under the nose."""
    xs = -a * 1.05 * np.cos(np.linspace(0, np.pi, 48))
    u = xs / a
    c.region(cx + xs, cy + b * (0.38 - 0.4 * u**2), cy + _half_height(xs, a * 1.05, b * 1.06, n_jaw), color)


def _draw_features(c: _Canvas, rng, cx, cy, a, b, skin, brow_c, mouth_c, curve, min_lift: float) -> None:
    """Eyes, eyebrows (at least `min_lift` above the eyes), nose and mouth."""
    ey, ex = cy - 0.1 * b, 0.42 * a
    ew, eh = 0.055 * rng.uniform(0.9, 1.1), 0.035 * rng.uniform(0.85, 1.15)
    gaze = rng.uniform(-0.3, 0.3) * ew
    tilt, lift = rng.uniform(-0.02, 0.02), rng.uniform(0.055, 0.075)
    brow_t = rng.uniform(0.022, 0.035)
    lift = max(lift, min_lift + brow_t / 2)
    for s in (-1, 1):
        x = cx + s * ex
        c.ellipse(x, ey, ew, eh, (250, 250, 250))
        c.ellipse(x, ey, ew, eh, (40, 30, 30), t=0.008)
        c.ellipse(x + gaze, ey, 0.022, 0.022, (25, 20, 20))
        c.line(x - s * 0.045, ey - lift + tilt, x + s * 0.05, ey - lift - tilt * 0.3, brow_c, brow_t)
    nose_c, ny = tuple(skin * 0.6), cy + 0.25 * b
    if rng.random() < 0.5:  # small "L" nose
        c.curve(np.array([cx, cx - 0.02, cx + 0.015]), np.array([ny - 0.08, ny, ny]), nose_c, 0.014)
    else:  # rounded nose tip
        c.ellipse(cx, ny - 0.01, 0.03, 0.02, nose_c, t=0.014)
    mw = 0.085 * rng.uniform(0.85, 1.2)
    xs = np.linspace(-mw, mw, 16)
    c.curve(cx + xs, cy + 0.57 * b + curve * 0.045 * (1 - (xs / mw) ** 2), mouth_c, 0.026)


def _glasses_params(rng: np.random.Generator, a: float) -> tuple[float, float, float, bool]:
    """Random frame (half-width, half-height, thickness, round?) in image units, for face half-width a."""
    return 0.3 * a, 0.07 * rng.uniform(0.92, 1.08), rng.uniform(0.028, 0.036), bool(rng.random() < 0.5)


def _draw_glasses(c: _Canvas, cx, cy, a, b, frame, color) -> None:
    """Thick dark frames: two rings (round or rectangular), a bridge and the temple arms."""
    (rw, rh, t, round_frames), ey, ex = frame, cy - 0.1 * b, 0.42 * a
    for s in (-1, 1):
        x = cx + s * ex
        if round_frames:
            c.ellipse(x, ey, rw, rh, color, t=t)
        else:
            c.curve(x + np.array([-rw, rw, rw, -rw, -rw]), ey + np.array([-rh, -rh, rh, rh, -rh]), color, t)
        c.line(x + s * rw, ey, cx + s * a * 1.0, ey - 0.01, color, t * 0.8)
    c.line(cx - ex + rw, ey, cx + ex - rw, ey, color, t)


def render_face(rng: np.random.Generator, cfg: FaceConfig = FaceConfig()) -> tuple[np.ndarray, dict]:
    """One face: uint8 RGB array (size, size, 3) and a dict of its labels (keys = ATTRIBUTES)."""
    lab = {"glasses": bool(rng.random() < cfg.p_glasses), "beard": bool(rng.random() < cfg.p_beard),
           "hair_style": int(rng.integers(len(HAIR_STYLES))), "hair_color": int(rng.integers(len(HAIR_COLORS))),
           "face_shape": int(rng.integers(len(FACE_SHAPES))), "mouth_curve": float(rng.uniform(-1, 1))}
    hair = _HAIR_RGB[lab["hair_color"]]
    lab["skin_tone"] = _pick_contrasting(rng, _SKIN_RGB, [hair], cfg.min_contrast)
    skin = _SKIN_RGB[lab["skin_tone"]]
    bg = _BG_RGB[_pick_contrasting(rng, _BG_RGB, [hair, skin], cfg.min_contrast)]
    shirt = _SHIRT_RGB[rng.integers(len(_SHIRT_RGB))]
    a, b, n_jaw = _SHAPES[lab["face_shape"]]
    a, b = a * rng.uniform(0.96, 1.04), b * rng.uniform(0.96, 1.04)
    cx, cy = 0.5, 0.47

    px = cfg.size * cfg.supersample
    c = _Canvas(_background(rng, px, bg, cfg.p_gradient))
    style, hair_t = lab["hair_style"], tuple(hair)
    _draw_hair_back(c, rng, style, cx, cy, a, b, hair_t)
    _draw_face_base(c, cx, cy, a, b, n_jaw, skin, shirt,
                    ears=style != 1 and rng.random() < cfg.p_ears)
    if lab["beard"]:
        _draw_beard(c, cx, cy, a, b, n_jaw, _darken_until(hair, skin, cfg.min_contrast + 15))
    _draw_hair_front(c, rng, style, cx, cy, a, b, hair_t)
    mouth_c = (225, 130, 130) if lab["beard"] else _darken_until(np.array([150.0, 45, 50]), skin, 60)
    frame = _glasses_params(rng, a) if lab["glasses"] else None
    min_lift = 0.0 if frame is None else frame[1] + frame[2] / 2 + 0.008  # brows clear the frame
    _draw_features(c, rng, cx, cy, a, b, skin, _darken_until(hair, skin, 60), mouth_c, lab["mouth_curve"],
                   min_lift)
    if frame is not None:
        _draw_glasses(c, cx, cy, a, b, frame, (20, 20, 25))

    # Pose jitter (one affine warp), downsample, pixel noise.
    m = cv2.getRotationMatrix2D((px / 2, px / 2), rng.uniform(-1, 1) * cfg.rotation_deg,
                                1.0 + rng.uniform(-1, 1) * cfg.scale_jitter)
    m[:, 2] += rng.uniform(-1, 1, 2) * cfg.shift * px
    img = cv2.warpAffine(c.img, m, (px, px), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if cfg.supersample != 1:
        img = cv2.resize(img, (cfg.size, cfg.size), interpolation=cv2.INTER_AREA)
    if cfg.noise_std > 0:
        img = np.clip(img + rng.normal(0.0, cfg.noise_std, img.shape), 0, 255).astype(np.uint8)
    return img, lab


def render_faces(n: int, seed: int = 0, start: int = 0,
                 cfg: FaceConfig = FaceConfig()) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Faces start..start+n-1 of the stream `seed`.

    Returns uint8 images (n, size, size, 3) RGB and a dict of label arrays of length n:
    bool for glasses/beard, int64 for the categorical ones (indices into HAIR_STYLES,
    HAIR_COLORS, FACE_SHAPES, SKIN_TONES) and float32 for mouth_curve (-1 frown .. +1 smile).
    Face i uses `np.random.default_rng((seed, i))`, so it depends only on (seed, i).
    """
    imgs = np.empty((n, cfg.size, cfg.size, 3), np.uint8)
    labels = {k: [] for k in ATTRIBUTES}
    for j in range(n):
        imgs[j], lab = render_face(np.random.default_rng((seed, start + j)), cfg)
        for k in ATTRIBUTES:
            labels[k].append(lab[k])
    dtypes = {"glasses": bool, "beard": bool, "mouth_curve": np.float32}
    return imgs, {k: np.array(v, dtype=dtypes.get(k, np.int64)) for k, v in labels.items()}
