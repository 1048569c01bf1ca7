import numpy as np
import pytest

from cgan_minimal import data, metrics


@pytest.fixture(scope="module")
def joints():
    return data.faces_dataset(20, size=32).images


def test_ssim_identical_is_one_and_differs_otherwise(joints):
    photos = data.split(joints)[1]
    assert np.allclose(metrics.ssim(photos, photos), 1.0)
    s = metrics.ssim(photos[:10], photos[10:])
    assert (s < 0.99).all() and s.shape == (10,)
    assert np.allclose(metrics.photo_ssim(joints, joints), 1.0)


def test_nearest_neighbour_finds_the_exact_match(joints):
    nn = metrics.nearest_neighbour_photos(joints[3:6], joints)
    np.testing.assert_array_equal(nn, data.split(joints)[1][3:6])


def test_mean_photo_and_baselines(joints):
    m = metrics.mean_photo(joints)
    assert m.shape == (32, 32, 3) and m.dtype == np.uint8
    b = metrics.baselines(joints[:5], joints)
    assert b["ssim_nearest_neighbour"] == pytest.approx(1.0)
    assert b["ssim_mean_photo"] < 0.9


def test_bad_inputs(joints):
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.ssim(joints[:2], joints[:3])
    with pytest.raises(ValueError, match="uint8"):
        metrics.ssim(joints.astype(float), joints.astype(float))


def test_nearest_neighbour_labels_read_the_closest_training_face():
    train = data.faces_dataset(50, size=32, seed=0)
    photos = data.split(train.images[[3, 7]])[1]
    got = metrics.nearest_neighbour_labels(photos, train.images, train.labels)
    for name in ("glasses", "beard"):
        assert list(got[name]) == [train.labels[name][3], train.labels[name][7]]


def test_psnr_known_values(joints):
    photos = data.split(joints)[1]
    assert np.isinf(metrics.psnr(photos[:2], photos[:2])).all()
    black, gray = np.zeros((1, 8, 8, 3), np.uint8), np.full((1, 8, 8, 3), 51, np.uint8)  # MSE = 0.2² on [0, 1]
    assert metrics.psnr(black, gray)[0] == pytest.approx(10 * np.log10(1 / 0.04))


def test_frechet_distance_known_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 8))
    a -= a.mean(0)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert metrics.frechet_distance(a, a + 0.5) == pytest.approx(8 * 0.25, rel=1e-6)  # only the means differ
    assert metrics.frechet_distance(a, 2 * a) == pytest.approx(np.trace(np.cov(a, rowvar=False)), rel=1e-6)  # (2σ − σ)² per axis
    with pytest.raises(ValueError, match="same d"):
        metrics.frechet_distance(a, a[:, :4])


def test_attribute_agreement():
    pred = {"glasses": np.array([1, 0, 1, 1]), "beard": np.array([0, 0, 1, 1])}
    truth = {"glasses": np.array([1, 0, 0, 1]), "beard": np.array([0, 1, 1, 1])}
    hits = metrics.attribute_agreement(pred, truth)
    assert {k: v.tolist() for k, v in hits.items()} == {"glasses": [1, 1, 0, 1], "beard": [1, 0, 1, 1], "all": [1, 0, 0, 1]}


def test_sketch_fidelity_prefers_the_photo_that_was_drawn(joints):
    sketches, photos = data.split(joints)
    own = metrics.sketch_fidelity(sketches, photos)
    other = metrics.sketch_fidelity(sketches, np.roll(photos, 1, axis=0))
    assert own.shape == (20,) and (own >= 0).all()
    assert (own < other).mean() >= 0.9 and own.mean() < 0.5 * other.mean()


def test_mean_interval_covers_the_mean_and_narrows_with_more_faces():
    rng = np.random.default_rng(0)
    few, many = rng.normal(0.5, 0.1, 16), rng.normal(0.5, 0.1, 1024)
    m, lo, hi = metrics.mean_interval(few)
    assert lo < m < hi and m == pytest.approx(few.mean())
    _, lo2, hi2 = metrics.mean_interval(many)
    assert hi2 - lo2 < (hi - lo) / 4  # about 1 / sqrt(64) as wide
    assert lo2 < 0.5 < hi2
    assert metrics.mean_interval(few) == metrics.mean_interval(few)  # seeded
    assert metrics.mean_interval(np.full(5, 0.3)) == (0.3, 0.3, 0.3)
    with pytest.raises(ValueError, match="at least 2 finite"):
        metrics.mean_interval([1.0, np.nan])
