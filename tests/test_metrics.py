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
