import numpy as np
import pytest

from cgan_minimal import faces, xdog


@pytest.fixture(scope="module")
def photo():
    return faces.render_faces(1, seed=3)[0][0]


def test_range_dtype_shape_and_determinism(photo):
    s = xdog.xdog(photo)
    assert s.dtype == np.float32 and s.shape == photo.shape[:2]
    assert 0.0 <= s.min() and s.max() <= 1.0
    np.testing.assert_array_equal(s, xdog.xdog(photo))


def test_uint8_float_and_gray_inputs_agree(photo):
    a = xdog.xdog(photo)
    b = xdog.xdog(photo.astype(np.float32) / 255)
    gray = xdog.to_gray(photo)
    c = xdog.xdog(gray)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a, c, atol=1e-5)


def test_flat_image_is_blank_paper():
    assert (xdog.xdog(np.full((32, 32, 3), 128, np.uint8)) == 1).all()


def test_default_sketch_has_lines_but_mostly_paper(photo):
    ink = (xdog.xdog(photo) < 0.5).mean()
    assert 0.03 < ink < 0.35


def test_lower_eps_gives_sparser_sketch(photo):
    dense = (xdog.xdog(photo) < 0.5).mean()
    sparse = (xdog.xdog(photo, eps=-0.05) < 0.5).mean()
    assert sparse < dense


def test_soft_threshold_formula():
    cfg = xdog.XDoGConfig(eps=-0.01, phi=200)
    d = np.array([-0.02, -0.01, 0.0])
    t = xdog.soft_threshold(d, cfg)
    np.testing.assert_allclose(t, [1 + np.tanh(200 * -0.01), 1.0, 1.0], rtol=1e-6)


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 2)), np.zeros((2, 4, 4, 3)), np.full((4, 4), 2.0), np.full((4, 4), np.nan)])
def test_bad_images_are_refused(bad):
    with pytest.raises(ValueError):
        xdog.xdog(bad)


def test_bad_parameters_are_refused(photo):
    with pytest.raises(ValueError, match="sigma"):
        xdog.xdog(photo, sigma=0)


# ---------------------------------------------------------------- the other styles
@pytest.mark.parametrize("style", xdog.STYLES)
def test_every_style_same_call_shape_range_and_determinism(photo, style):
    for image in (photo, photo.astype(np.float32) / 255, xdog.to_gray(photo)):
        s = xdog.sketch(image, style)
        assert s.dtype == np.float32 and s.shape == photo.shape[:2]
        assert 0.0 <= s.min() and s.max() <= 1.0
    np.testing.assert_array_equal(xdog.sketch(photo, style), xdog.sketch(photo, style))
    assert 0.03 < (xdog.sketch(photo, style) < 0.5).mean() < 0.35  # lines, mostly paper
    assert (xdog.sketch(np.full((32, 32, 3), 128, np.uint8), style) > 0.99).all()  # flat → blank paper


def test_styles_differ_and_unknown_style_is_named(photo):
    a, b, c = (xdog.sketch(photo, s) for s in xdog.STYLES)
    assert np.abs(a - b).mean() > 0.02 and np.abs(a - c).mean() > 0.02
    with pytest.raises(ValueError, match="pencil"):
        xdog.sketch(photo, "pencil")


def test_photocopy_darkness_controls_ink(photo):
    more = (xdog.photocopy(photo, darkness=0.01) < 0.5).mean()
    less = (xdog.photocopy(photo, darkness=0.08) < 0.5).mean()
    assert less < more


def _noisy_circles(noise: float) -> np.ndarray:
    import cv2

    img = np.full((64, 64), 0.85, np.float32)
    for r in (10, 18, 26):
        cv2.circle(img, (32, 32), r, 0.2, 1, lineType=cv2.LINE_AA)
    rng = np.random.default_rng(0)
    return np.clip(img + rng.normal(0, noise, img.shape).astype(np.float32), 0, 1)


def _strokes(sketch: np.ndarray) -> int:
    import cv2

    return cv2.connectedComponents((sketch < 0.5).astype(np.uint8), connectivity=8)[0] - 1


def test_fdog_keeps_long_coherent_strokes():
    clean, noisy = _noisy_circles(0.0), _noisy_circles(0.08)
    assert _strokes(xdog.fdog(clean)) == 3  # the three circles, each one stroke
    # On noise, plain DoG breaks into many specks; smoothing along the flow keeps three strokes.
    assert _strokes(xdog.fdog(noisy)) <= 5 < 20 <= _strokes(xdog.xdog(noisy))


def test_edge_tangent_flow_follows_a_circle():
    t = xdog.edge_tangent_flow(_noisy_circles(0.0), xdog.FDoGConfig())
    y, x = 32 - 18, 32  # the top of the middle circle: its tangent is horizontal
    assert abs(t[y, x, 0]) > 0.95 and abs(t[y, x, 1]) < 0.3
    np.testing.assert_allclose(np.linalg.norm(t[y, x]), 1, atol=1e-5)


def test_drop_strokes_erases_whole_strokes():
    s = xdog.xdog(_noisy_circles(0.0))
    assert np.array_equal(xdog.drop_strokes(s, 0.0), s)
    assert (xdog.drop_strokes(s, 1.0) == 1).all()
    half = xdog.drop_strokes(s, 0.5, seed=3)
    assert 0 < _strokes(half) < _strokes(s) and np.array_equal(half, xdog.drop_strokes(s, 0.5, seed=3))
    with pytest.raises(ValueError, match="p must be"):
        xdog.drop_strokes(s, 1.5)


# ---------------------------------------------------------------- perturb: "poorly drawn" sketches
@pytest.fixture(scope="module")
def clean_sketches():
    return [xdog.sketch(p) for p in faces.render_faces(12, seed=5)[0]]


def test_perturb_zero_is_the_clean_sketch_and_a_seed_fixes_the_result(clean_sketches):
    s = clean_sketches[0]
    np.testing.assert_array_equal(xdog.perturb(s, 0.0, seed=1), s)
    a, b = xdog.perturb(s, 0.5, seed=1), xdog.perturb(s, 0.5, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, xdog.perturb(s, 0.5, seed=2))
    assert a.shape == s.shape and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1


def test_stronger_perturbation_is_further_from_the_clean_sketch(clean_sketches):
    strengths = [0.0, 0.25, 0.5, 1.0]
    dist = [np.mean([np.abs(xdog.perturb(s, k, seed=i) - s).mean() for i, s in enumerate(clean_sketches)]) for k in strengths]
    assert dist[0] == 0 and all(a < b for a, b in zip(dist, dist[1:])), dist


def test_perturb_rejects_bad_input(clean_sketches):
    with pytest.raises(ValueError, match="strength"):
        xdog.perturb(clean_sketches[0], -0.1)
    with pytest.raises(ValueError, match="gray"):
        xdog.perturb(np.ones((8, 8, 3), np.float32), 0.5)


# ---------------------------------------------------------------- careless input
@pytest.mark.parametrize("style", xdog.STYLES)
def test_empty_images_and_non_finite_parameters_are_refused(style):
    for empty in (np.zeros((0, 0), np.uint8), np.zeros((0, 5, 3), np.float32)):
        with pytest.raises(ValueError, match="empty"):
            xdog.sketch(empty, style)
    image = np.zeros((8, 8), np.uint8)
    name = {"xdog": "sigma", "photocopy": "detail", "fdog": "sigma_c"}[style]
    for bad in (np.nan, np.inf, "1"):
        with pytest.raises(ValueError, match=f"{name} must be a finite number"):
            xdog.sketch(image, style, **{name: bad})
    with pytest.raises(ValueError, match="whole number"):
        xdog.fdog(image, etf_radius=2.5)
    with pytest.raises(ValueError, match="uint8 or float pixels, got dtype int64"):
        xdog.sketch(image.astype(np.int64), style)


def test_a_huge_float_image_is_refused_as_out_of_range_not_as_inf():
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\], got \[1e\+300"):
        xdog.xdog(np.full((4, 4), 1e300))


def test_perturb_refuses_empty_nan_and_other_dtypes_and_reads_uint8(clean_sketches):
    with pytest.raises(ValueError, match="gray"):
        xdog.perturb(np.zeros((0, 0), np.float32), 0.5)  # once a crash inside OpenCV
    with pytest.raises(ValueError, match="NaN"):
        xdog.perturb(np.full((8, 8), np.nan, np.float32), 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        xdog.perturb(np.full((8, 8), 2.0, np.float32), 0.5)
    with pytest.raises(ValueError, match="dtype int64"):
        xdog.perturb(np.ones((8, 8), np.int64), 0.5)
    with pytest.raises(ValueError, match="strength"):
        xdog.perturb(clean_sketches[0], "0.5")
    s = clean_sketches[0]
    as_uint8 = np.round(s * 255).astype(np.uint8)
    np.testing.assert_array_equal(xdog.perturb(as_uint8, 0.5, seed=1), xdog.perturb(as_uint8 / np.float32(255), 0.5, seed=1))
