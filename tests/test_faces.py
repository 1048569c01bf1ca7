"""Tests of the embedded procedural face data set (cgan_minimal.faces)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from cgan_minimal.faces import (ATTRIBUTES, FACE_SHAPES, HAIR_COLORS, HAIR_STYLES, SKIN_TONES, FaceConfig,
                                render_face, render_faces)

N = 2000  # faces in the shared sample (about 2 s)
S = FaceConfig().size


@pytest.fixture(scope="module")
def sample():
    return render_faces(N, seed=123)


def _luminance(imgs: np.ndarray) -> np.ndarray:
    return imgs.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _eye_band(a: np.ndarray) -> np.ndarray:  # rows/cols around the eyes, last two image axes
    return a[..., int(0.34 * S):int(0.50 * S), int(0.2 * S):int(0.8 * S)]


def _chin_band(a: np.ndarray) -> np.ndarray:
    return a[..., int(0.66 * S):int(0.84 * S), int(0.25 * S):int(0.75 * S)]


def _sketch(img: np.ndarray) -> np.ndarray:
    """A local XDoG (sigma 0.8, k 1.6, tau 0.98, eps 0, phi 200) so this test does not depend on xdog.py."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    d = cv2.GaussianBlur(g, (0, 0), 0.8) - 0.98 * cv2.GaussianBlur(g, (0, 0), 1.28)
    return np.where(d >= 0.0, 1.0, 1.0 + np.tanh(200.0 * d))


def test_shapes_and_dtypes(sample):
    imgs, labels = sample
    assert imgs.shape == (N, S, S, 3) and imgs.dtype == np.uint8
    assert tuple(labels) == ATTRIBUTES
    assert all(len(v) == N for v in labels.values())
    assert labels["glasses"].dtype == bool and labels["beard"].dtype == bool
    assert labels["mouth_curve"].dtype.kind == "f"
    for k in ("hair_style", "hair_color", "face_shape", "skin_tone"):
        assert labels[k].dtype.kind == "i"


def test_other_sizes_and_single_face():
    imgs, _ = render_faces(3, cfg=FaceConfig(size=32))
    assert imgs.shape == (3, 32, 32, 3)
    img, lab = render_face(np.random.default_rng(0), FaceConfig(size=48, supersample=1, noise_std=0))
    assert img.shape == (48, 48, 3) and img.dtype == np.uint8 and set(lab) == set(ATTRIBUTES)


def test_determinism_and_offsets():
    a, la = render_faces(15, seed=0)
    b, lb = render_faces(15, seed=0)
    assert np.array_equal(a, b) and all(np.array_equal(la[k], lb[k]) for k in ATTRIBUTES)
    c, lc = render_faces(10, seed=0, start=5)
    assert np.array_equal(c, a[5:]) and all(np.array_equal(lc[k], la[k][5:]) for k in ATTRIBUTES)
    d, _ = render_faces(15, seed=1)
    assert not np.array_equal(a, d)
    single, _ = render_face(np.random.default_rng((0, 7)))
    assert np.array_equal(single, a[7])


def test_label_frequencies(sample):
    _, labels = sample
    assert abs(labels["glasses"].mean() - 0.30) < 0.04
    assert abs(labels["beard"].mean() - 0.25) < 0.04
    for key, names in (("hair_style", HAIR_STYLES), ("hair_color", HAIR_COLORS),
                       ("face_shape", FACE_SHAPES), ("skin_tone", SKIN_TONES)):
        counts = np.bincount(labels[key], minlength=len(names))
        assert len(counts) == len(names) and counts.min() > 0.05 * N, (key, counts)
    assert len(HAIR_STYLES) >= 4 and len(HAIR_COLORS) >= 4


def test_mouth_curve_spans_frown_to_smile(sample):
    m = sample[1]["mouth_curve"]
    assert -1.0 <= m.min() < -0.8 and 0.8 < m.max() <= 1.0
    assert abs(m.mean()) < 0.1


def test_glasses_and_beard_are_visible(sample):
    imgs, labels = sample
    gray = _luminance(imgs)
    eye, chin = _eye_band(gray).mean((1, 2)), _chin_band(gray).mean((1, 2))
    assert eye[labels["glasses"]].mean() < eye[~labels["glasses"]].mean() - 25  # dark frames
    assert chin[labels["beard"]].mean() < chin[~labels["beard"]].mean() - 40  # dark beard


def test_glasses_and_beard_show_in_sketch(sample):
    imgs, labels = sample
    ink = 1.0 - np.stack([_sketch(im) for im in imgs[:400]])
    g, bd = labels["glasses"][:400], labels["beard"][:400]
    eye_ink, chin_ink = _eye_band(ink).mean((1, 2)), _chin_band(ink).mean((1, 2))
    assert eye_ink[g].mean() > 1.4 * eye_ink[~g].mean()
    assert chin_ink[bd].mean() > 1.3 * chin_ink[~bd].mean()
    assert 0.03 < ink.mean() < 0.35  # line drawing, neither blank nor black


def test_faces_vary(sample):
    imgs = sample[0].astype(np.float32)
    assert imgs.std(0).mean() > 30  # per-pixel std across faces
    assert len({im.tobytes() for im in sample[0][:200]}) == 200
    assert imgs.min() < 30 and imgs.max() > 225
