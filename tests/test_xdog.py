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
