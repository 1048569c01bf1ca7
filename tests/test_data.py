import warnings
import zlib

import cv2
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


# ---------------------------------------------------------------- hostile and careless image files
def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")


def _black_png(width: int, height: int) -> bytes:
    """A valid 8-bit gray PNG of ``width × height`` black pixels, compressed row by row (a huge image in a small file)."""
    z, row = zlib.compressobj(9), bytes(1 + width)  # each row: filter byte 0, then the pixels
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return data.PNG_SIGNATURE + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def test_image_header_reads_png_jpeg_and_bmp_sizes():
    image = np.zeros((5, 7, 3), np.uint8)
    for suffix, kind in ((".png", "PNG"), (".jpg", "JPEG"), (".bmp", "BMP")):
        assert data.image_header(cv2.imencode(suffix, image)[1].tobytes()) == (kind, 5, 7)
    with pytest.raises(ValueError, match="not a PNG, JPEG or BMP"):
        data.image_header(b"GIF89a....", "x.png")


def test_a_huge_png_is_refused_from_its_header_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    path.write_bytes(_black_png(16000, 8000))  # 8000×16000 pixels: 384 MB as 8-bit RGB, ~130 KB on disk
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(cv2, "imdecode", lambda *a: pytest.fail("the pixels were decoded"))
    with pytest.raises(ValueError, match=r"bomb.png is 8000×16000 pixels \(128,000,000\), more than data.MAX_IMAGE_PIXELS .* refused before decoding"):
        data.read_joint(path)
    with pytest.raises(ValueError, match="bomb.png is 8000×16000"):
        data.load_folder(tmp_path)


def test_huge_jpeg_and_bmp_headers_are_refused(tmp_path, monkeypatch):
    small = np.zeros((8, 16, 3), np.uint8)
    jpeg = bytearray(cv2.imencode(".jpg", small)[1].tobytes())
    sof = jpeg.index(b"\xff\xc0")  # baseline frame header: FF C0, length, precision, height, width
    jpeg[sof + 5 : sof + 9] = (8000).to_bytes(2, "big") + (16000).to_bytes(2, "big")
    bmp = bytearray(cv2.imencode(".bmp", small)[1].tobytes())
    bmp[18:26] = (16000).to_bytes(4, "little") + (8000).to_bytes(4, "little")
    (tmp_path / "big.jpg").write_bytes(bytes(jpeg))
    (tmp_path / "big.bmp").write_bytes(bytes(bmp))
    monkeypatch.setattr(cv2, "imdecode", lambda *a: pytest.fail("the pixels were decoded"))
    for name in ("big.jpg", "big.bmp"):
        with pytest.raises(ValueError, match=f"{name} is 8000×16000 pixels"):
            data.read_joint(tmp_path / name)


def test_a_truncated_jpeg_is_refused(tmp_path):
    encoded = cv2.imencode(".jpg", data.faces_dataset(1, size=32).images[0])[1].tobytes()
    (tmp_path / "cut.jpg").write_bytes(encoded[: len(encoded) * 2 // 3])
    with pytest.raises(ValueError, match="cut.jpg could not be decoded"):
        data.read_joint(tmp_path / "cut.jpg")


def _rgba_joint() -> np.ndarray:
    """A 4×8 BGRA joint image: a transparent sketch half with one opaque black and one half-transparent
    black pixel, and an opaque photo half."""
    bgra = np.zeros((4, 8, 4), np.uint8)
    bgra[:, 4:] = (10, 20, 30, 255)  # photo: opaque
    bgra[0, 0, 3] = 255  # ink
    bgra[1, 1, 3] = 128  # half-transparent ink
    return bgra


def test_an_rgba_sketch_is_composited_on_white_with_one_warning(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:06d}.png"), _rgba_joint())
    with pytest.warns(UserWarning) as caught:
        loaded = data.load_folder(tmp_path, size=4)
    assert len(caught) == 1  # once per load, not once per image
    message = str(caught[0].message)
    assert str(tmp_path / "000000.png") in message and "2 other images" in message and "composited on white" in message
    sketch, photo = data.split(loaded.images[0])
    assert (sketch[0, 0] == 0).all() and (sketch[1, 1] == 127).all()  # black ink, half of it over white
    assert (sketch[2:] == 255).all() and (sketch[0, 1:] == 255).all()  # transparent: white paper
    assert (photo == (30, 20, 10)).all()  # RGB, the photo unchanged
    with pytest.warns(UserWarning, match="000001.png had transparent pixels"):
        np.testing.assert_array_equal(data.read_joint(tmp_path / "000001.png"), loaded.images[1])


def test_opaque_rgba_gray_and_16_bit_pngs_are_converted_without_warning(tmp_path):
    joint = data.faces_dataset(1, size=8).images[0]
    bgr = cv2.cvtColor(joint, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(tmp_path / "opaque.png"), np.dstack([bgr, np.full(joint.shape[:2], 255, np.uint8)]))
    cv2.imwrite(str(tmp_path / "gray.png"), joint[:, :, 0])
    cv2.imwrite(str(tmp_path / "deep.png"), bgr.astype(np.uint16) * 257)  # 16 bits: v · 257 is v again in 8 bits
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(data.read_joint(tmp_path / "opaque.png"), joint)
        np.testing.assert_array_equal(data.read_joint(tmp_path / "gray.png"), np.repeat(joint[:, :, :1], 3, axis=2))
        np.testing.assert_array_equal(data.read_joint(tmp_path / "deep.png"), joint)
        assert data.load_folder(tmp_path).images.shape == (3, 8, 16, 3)


def test_load_folder_checks_size_and_limit(tmp_path):
    data.save_folder(data.faces_dataset(2, size=8), tmp_path)
    for bad in ({"limit": 0}, {"limit": -1}, {"size": 0}, {"size": 8.0}):
        with pytest.raises(ValueError, match="must be None or a whole number"):
            data.load_folder(tmp_path, **bad)


def test_save_folder_refuses_non_joint_images_and_writes_nothing(tmp_path):
    for bad in (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 16, 3), np.float32), np.zeros((8, 16, 3), np.uint8)):
        with pytest.raises(ValueError, match=r"save_folder expects uint8 joint images \(N, s, 2s, 3\)"):
            data.save_folder(bad, tmp_path / "out")
        assert not (tmp_path / "out").exists()


def test_join_split_and_mask_name_bad_input():
    with pytest.raises(ValueError, match="differ in dtype"):
        data.join(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="give two of one kind"):
        data.join(np.zeros((4, 4)), torch.zeros(4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        data.split(np.zeros(4))
    with pytest.raises(ValueError, match="even width, got 4×7"):
        data.mask("sketch", 4, 7)
    with pytest.raises(ValueError, match="height must be a whole number >= 1, got 0"):
        data.mask("photo", 0, 8)


def test_perturb_sketches_names_bad_input():
    with pytest.raises(ValueError, match=r"perturb_sketches expects uint8 joint images .* got float32 \(1, 4, 8, 3\)"):
        data.perturb_sketches(np.zeros((1, 4, 8, 3), np.float32), 0.5)
    with pytest.raises(ValueError, match="strength"):
        data.perturb_sketches(np.zeros((0, 4, 8, 3), np.uint8), -1.0)
    assert data.perturb_sketches(np.zeros((0, 4, 8, 3), np.uint8), 0.5).shape == (0, 4, 8, 3)


def test_read_image_takes_another_pixel_limit(tmp_path):
    cv2.imwrite(str(tmp_path / "photo.png"), np.zeros((30, 40, 3), np.uint8))
    assert data.read_image(tmp_path / "photo.png").shape == (30, 40, 3)
    with pytest.raises(ValueError, match="photo.png is 30×40 pixels .* more than the limit = 1,000"):
        data.read_image(tmp_path / "photo.png", max_pixels=1000)


@pytest.fixture
def faces_cache(tmp_path, monkeypatch):
    """An empty faces cache in a temporary folder that keeps sets of 6 faces or more."""
    monkeypatch.setenv("CGAN_MINIMAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "FACES_CACHE_MIN", 6)
    return tmp_path / "cache" / "faces"


def _count_renders(monkeypatch):
    calls = []
    render = data.faces.render_faces
    monkeypatch.setattr(data.faces, "render_faces", lambda *a, **k: calls.append(a) or render(*a, **k))
    return calls


def test_faces_cache_hit_is_identical_and_renders_nothing(faces_cache, monkeypatch):
    first = data.faces_dataset(8, size=32, seed=3, start=5, style="xdog,fdog")
    assert len(list(faces_cache.glob("faces_*.npz"))) == 1
    calls = _count_renders(monkeypatch)
    again = data.faces_dataset(8, size=32, seed=3, start=5, style="xdog,fdog")
    assert calls == []
    np.testing.assert_array_equal(again.images, first.images)
    assert again.labels.keys() == first.labels.keys() and again.source == first.source
    for k in first.labels:
        np.testing.assert_array_equal(again.labels[k], first.labels[k])
        assert again.labels[k].dtype == first.labels[k].dtype
    fresh = data.faces_dataset(8, size=32, seed=3, start=5, style="xdog,fdog", cache=False)
    np.testing.assert_array_equal(fresh.images, first.images)


def test_faces_cache_keys_other_arguments_apart(faces_cache, monkeypatch):
    base = data.faces_dataset(6, size=32, seed=0)
    calls = _count_renders(monkeypatch)
    for kwargs in (dict(seed=1), dict(start=1), dict(style="fdog")):
        other = data.faces_dataset(6, **{"size": 32, "seed": 0, **kwargs})
        assert not np.array_equal(other.images, base.images), kwargs
    assert data.faces_dataset(6, size=16, seed=0).images.shape == (6, 16, 32, 3)
    assert len(calls) == 4
    assert len(list(faces_cache.glob("faces_*.npz"))) == 5


def test_faces_cache_small_sets_and_off_switch_write_nothing(faces_cache, monkeypatch):
    data.faces_dataset(5, size=16)
    assert not faces_cache.exists()
    monkeypatch.setenv("CGAN_MINIMAL_CACHE", "")
    assert data.faces_cache_dir() is None
    data.faces_dataset(6, size=16)
    assert not faces_cache.exists()


def test_faces_cache_damaged_entry_is_rendered_again(faces_cache, monkeypatch):
    first = data.faces_dataset(6, size=16)
    (entry,) = faces_cache.glob("faces_*.npz")
    entry.write_bytes(entry.read_bytes()[:100])
    calls = _count_renders(monkeypatch)
    again = data.faces_dataset(6, size=16)
    assert len(calls) == 1
    np.testing.assert_array_equal(again.images, first.images)
    data.faces_dataset(6, size=16)
    assert len(calls) == 1  # the replaced entry is whole again


def test_faces_cache_keeps_the_newest_entries(faces_cache, monkeypatch):
    monkeypatch.setattr(data, "FACES_CACHE_ENTRIES", 2)
    for seed in range(4):
        data.faces_dataset(6, size=16, seed=seed)
    assert len(list(faces_cache.glob("faces_*.npz"))) == 2
    calls = _count_renders(monkeypatch)
    data.faces_dataset(6, size=16, seed=3)
    assert calls == []
    data.faces_dataset(6, size=16, seed=0)
    assert len(calls) == 1
