import numpy as np
import pytest
import torch

from cgan_minimal import data


def test_join_split_round_trip_numpy_and_torch():
    a = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    b = np.random.default_rng(1).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    j = data.join(a, b)
    assert j.shape == (8, 16, 3)
    np.testing.assert_array_equal(j[:, :8], a)  # sketch on the left
    s, p = data.split(j)
    np.testing.assert_array_equal(s, a)
    np.testing.assert_array_equal(p, b)
    ta, tb = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    tj = data.join(ta, tb)
    assert tj.shape == (2, 3, 4, 8)
    assert torch.equal(tj[..., :4], ta)
    assert all(torch.equal(x, y) for x, y in zip(data.split(tj), (ta, tb)))
    batch = np.stack([j, j])  # (N, H, W, C)
    assert all(np.array_equal(x, y) for x, y in zip(data.split(batch), (np.stack([a, a]), np.stack([b, b]))))


def test_split_refuses_odd_width_and_join_refuses_mismatch():
    with pytest.raises(ValueError):
        data.split(torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError):
        data.join(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


def test_masks_cover_the_right_half():
    m = data.mask("sketch", 4, 8)
    assert m.shape == (1, 1, 4, 8)
    assert (m[..., :4] == 1).all() and (m[..., 4:] == 0).all()
    m = data.mask("photo", 4, 8)
    assert (m[..., :4] == 0).all() and (m[..., 4:] == 1).all()
    with pytest.raises(ValueError):
        data.mask("left", 4, 8)


def test_tensor_round_trip_and_range():
    img = np.random.default_rng(0).integers(0, 256, (2, 4, 8, 3), dtype=np.uint8)
    x = data.to_tensor(img)
    assert x.shape == (2, 3, 4, 8) and x.min() >= -1 and x.max() <= 1
    np.testing.assert_array_equal(data.to_image(x), img)
    with pytest.raises(ValueError):
        data.to_tensor(img.astype(np.float32))


def test_faces_dataset_shapes_labels_and_determinism():
    d = data.faces_dataset(12, size=32, seed=0)
    assert d.images.shape == (12, 32, 64, 3) and d.images.dtype == np.uint8
    assert set(d.labels) >= {"glasses", "beard"} and len(d.labels["glasses"]) == 12
    np.testing.assert_array_equal(d.images, data.faces_dataset(12, size=32, seed=0).images)
    assert not np.array_equal(d.images, data.faces_dataset(12, size=32, seed=1).images)
    tail = data.faces_dataset(4, size=32, seed=0, start=8)
    np.testing.assert_array_equal(tail.images, d.images[8:])
    sketch, photo = data.split(d.images)
    assert sketch.mean() > photo.mean()  # sketches are mostly white paper
    np.testing.assert_array_equal(sketch[..., 0], sketch[..., 2])  # gray sketches


def test_faces_dataset_64():
    d = data.faces_dataset(2, size=64)
    assert d.images.shape == (2, 64, 128, 3)


def test_folder_round_trip(tmp_path):
    d = data.faces_dataset(5, size=32)
    data.save_folder(d, tmp_path)
    back = data.load_folder(tmp_path, size=32)
    np.testing.assert_array_equal(back.images, d.images)
    assert len(data.load_folder(tmp_path, limit=2)) == 2


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no images"):
        data.load_folder(tmp_path)
    (tmp_path / "train").mkdir()
    with pytest.raises(ValueError, match="subfolders train"):
        data.load_folder(tmp_path)
    d = data.faces_dataset(2, size=32)
    data.save_folder(d, tmp_path / "train")
    with pytest.raises(ValueError, match="needs 64×128"):
        data.load_folder(tmp_path / "train", size=64)
    (tmp_path / "train" / "notes.pdf").write_bytes(b"%PDF")
    with pytest.raises(ValueError, match="notes.pdf is not an image"):
        data.load_folder(tmp_path / "train")
    (tmp_path / "train" / "notes.pdf").unlink()
    (tmp_path / "train" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match="broken.png could not be decoded"):
        data.load_folder(tmp_path / "train")
    (tmp_path / "train" / "broken.png").unlink()
    import cv2

    cv2.imwrite(str(tmp_path / "train" / "square.png"), np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="square.png is 32×32"):
        data.load_folder(tmp_path / "train")


def test_faces_dataset_styles_and_mixes():
    x, p, mix = (data.faces_dataset(3, size=32, style=s) for s in ("xdog", "photocopy", "xdog,photocopy"))
    np.testing.assert_array_equal(data.split(x.images)[1], data.split(p.images)[1])  # same photos
    assert not np.array_equal(data.split(x.images)[0], data.split(p.images)[0])  # other sketches
    np.testing.assert_array_equal(mix.images[[0, 2]], x.images[[0, 2]])  # face i gets style i mod 2
    np.testing.assert_array_equal(mix.images[1], p.images[1])
    assert "photocopy" in p.source
    with pytest.raises(ValueError, match="pencil"):
        data.faces_dataset(1, style="pencil")


def test_perturb_sketches_changes_only_the_sketch_half():
    joint = data.faces_dataset(6, size=32).images
    out = data.perturb_sketches(joint, 0.6, seed=0)
    np.testing.assert_array_equal(data.split(out)[1], data.split(joint)[1])
    assert not np.array_equal(data.split(out)[0], data.split(joint)[0])
    np.testing.assert_array_equal(out, data.perturb_sketches(joint, 0.6, seed=0))
    np.testing.assert_array_equal(data.perturb_sketches(joint, 0.0), joint)


def test_load_folder_reads_labels_csv(tmp_path):
    data.save_folder(data.faces_dataset(3, size=32), tmp_path)
    (tmp_path / "labels.csv").write_text("file,Eyeglasses,Smiling\n000000.png,1,-1\n000001.png,-1,-1\n000002.png,-1,1\n")
    loaded = data.load_folder(tmp_path, size=32)
    assert loaded.labels["Eyeglasses"].tolist() == [1, -1, -1] and loaded.labels["Smiling"].tolist() == [-1, -1, 1]
    (tmp_path / "labels.csv").write_text("file,class,box\n000000.png,3,0.5\n000001.png,1,0.25\n000002.png,2,1.0\n")
    assert list(data.load_folder(tmp_path, size=32).labels) == ["class"]  # a non-integer column is not a label
    (tmp_path / "labels.csv").write_text("file,class\n000000.png,3\n")  # unlabelled images (Stanford Cars' test split)
    assert data.load_folder(tmp_path, size=32).labels == {}
