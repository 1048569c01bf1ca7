"""The attribute classifier: above chance on held-out faces, saved and loaded safely, clear errors."""

import numpy as np
import pytest

from cgan_minimal import attributes, data
from cgan_minimal.cli import main

# Held-out accuracy floors of a classifier trained briefly (3000 faces, 6 epochs; it reached 1.0,
# 0.99, 0.81, 0.75); chance is 0.68 / 0.77 (the majority class) for glasses / beard, 1/6 for the
# hair style, 0.5 for a smile. The shipped classifier's floors are in test_pretrained.py.
FLOORS = {"glasses": 0.95, "beard": 0.95, "hair_style": 0.6, "smile": 0.6}


@pytest.fixture(scope="module")
def small_classifier():
    train = attributes.faces_photos(3000, 32, seed=0)
    return attributes.fit(train.photos, train.labels, attributes.ClassifierConfig(epochs=6))


def test_classifier_is_above_chance_on_held_out_faces(small_classifier):
    test = attributes.faces_photos(300, 32, start=data.HELD_OUT_START)
    acc = attributes.accuracy(attributes.predict(small_classifier, test.photos), test.labels)
    assert all(acc[k] >= floor for k, floor in FLOORS.items()), acc


def test_features_are_the_penultimate_layer(small_classifier):
    test = attributes.faces_photos(10, 32, start=data.HELD_OUT_START)
    f = attributes.features(small_classifier, test.photos)
    assert f.shape == (10, small_classifier.cfg.features) and (f >= 0).all()  # after the ReLU


def test_save_load_round_trip_and_refusals(small_classifier, tmp_path):
    path = attributes.save(small_classifier, tmp_path / "clf.pt", {"note": "test"})
    loaded = attributes.load(path, expected_size=32)
    photos = attributes.faces_photos(8, 32, start=data.HELD_OUT_START).photos
    np.testing.assert_array_equal(attributes.features(loaded, photos), attributes.features(small_classifier, photos))
    assert '"note": "test"' in path.with_suffix(".json").read_text()
    with pytest.raises(ValueError, match="reads 32×32 photos"):
        attributes.load(path, expected_size=64)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable attribute classifier"):
        attributes.load(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError, match="train-classifier"):
        attributes.load(tmp_path / "missing.pt")


def test_bad_labels_and_photos_are_named():
    photos = attributes.faces_photos(4, 32).photos
    with pytest.raises(ValueError, match="no labels for attribute 'beard'"):
        attributes.fit(photos, {"glasses": np.zeros(4, int)})
    labels = {"glasses": np.zeros(4, int), "beard": np.zeros(4, int), "hair_style": np.full(4, 6), "smile": np.zeros(4, int)}
    with pytest.raises(ValueError, match=r"hair_style.*\[0, 5\]"):
        attributes.fit(photos, labels)
    with pytest.raises(ValueError, match=r"uint8 photos \(N, 32, 32, 3\)"):
        attributes.predict(attributes.AttributeClassifier(), photos[:, :16])


def test_class_labels_of_a_celeba_style_folder(tmp_path):
    folder = tmp_path / "train"
    data.save_folder(data.faces_dataset(4, size=32), folder)
    (folder / "labels.csv").write_text("file,Eyeglasses,Male\n" + "".join(f"{i:06d}.png,{g},{m}\n" for i, (g, m) in enumerate([(1, -1), (-1, 1), (1, 1), (-1, -1)])))
    got = attributes.folder_photos(folder, 32, ("Eyeglasses", "Male"))
    assert got.labels["Eyeglasses"].tolist() == [1, 0, 1, 0] and got.photos.shape == (4, 32, 32, 3)
    with pytest.raises(ValueError, match="no labels for Smiling"):
        attributes.folder_photos(folder, 32, ("Smiling",))


def test_train_classifier_cli_on_a_labelled_folder(tmp_path, capsys):
    for split, n in (("train", 64), ("test", 16)):
        folder = tmp_path / split
        faces = data.faces_dataset(n, size=32, start=0 if split == "train" else data.HELD_OUT_START)
        data.save_folder(faces, folder)
        rows = "".join(f"{i:06d}.png,{1 if g else -1}\n" for i, g in enumerate(faces.labels["glasses"]))
        (folder / "labels.csv").write_text("file,Eyeglasses\n" + rows)
    out = tmp_path / "clf.pt"
    assert main(["train-classifier", "--data", str(tmp_path / "train"), "--attributes", "Eyeglasses", "--epochs", "1",
                 "--train-size", "0", "--out", str(out)]) == 0
    assert "held-out accuracy Eyeglasses" in capsys.readouterr().out
    assert attributes.load(out).cfg.attributes == ("Eyeglasses",)
