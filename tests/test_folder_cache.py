"""The cache of data.load_folder: a hit reads no image file, any change to the folder rebuilds it,
an interrupted build leaves nothing that looks valid, and a cached load does not hold the images
in memory. (Its speed is measured in benchmarks/folder_cache.py, not here.)"""

import csv
import os
import shutil
import tracemalloc
import warnings

import cv2
import numpy as np
import pytest

from cgan_minimal import data
from cgan_minimal import train as train_mod


def _write_folder(folder, n, seed=0, size=16):
    """``n`` joint PNGs of size × 2·size: smooth random gradients (they compress like photos)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0 : 2 * size]
    for i in range(n):
        a, b, c = rng.uniform(-4, 4, size=(3, 3))
        image = np.stack([a[k] * ys + b[k] * xs + 40 * c[k] for k in range(3)], -1) + 128
        cv2.imwrite(str(folder / f"{i:05d}.png"), np.clip(image, 0, 255).astype(np.uint8))
    return folder


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    """3,000 images of 32×64, never changed by the tests."""
    return _write_folder(tmp_path_factory.mktemp("big") / "train", 3000, size=32)


@pytest.fixture
def folder(tmp_path):
    return _write_folder(tmp_path / "train", 40)


@pytest.fixture
def count_decodes(monkeypatch):
    """How many image files load_folder decodes."""
    calls = []
    real = data._read_joint

    def counting(path, size):
        calls.append(path)
        return real(path, size)

    monkeypatch.setattr(data, "_read_joint", counting)
    return calls


def test_a_second_load_reads_the_cache_and_gives_the_same_images(big_folder, monkeypatch):
    shutil.rmtree(big_folder / data.CACHE_DIR, ignore_errors=True)
    plain = data.load_folder(big_folder, cache=False).images
    assert not (big_folder / data.CACHE_DIR).exists()
    first = data.load_folder(big_folder, size=32)
    assert (big_folder / data.CACHE_DIR / "joint.npy").is_file() and (big_folder / data.CACHE_DIR / "joint.json").is_file()
    monkeypatch.setattr(data, "_read_joint", lambda *a: pytest.fail("a cache hit decoded an image"))
    again = data.load_folder(big_folder, size=32)
    for images in (first.images, again.images):
        assert isinstance(images, np.memmap) and images.dtype == np.uint8 and images.shape == plain.shape == (3000, 32, 64, 3)
        np.testing.assert_array_equal(images, plain)
    assert again.source == str(big_folder)
    assert data.load_folder(big_folder, limit=100).images.shape == (100, 32, 64, 3)  # served from the cache
    again.images[0] = 0  # copy-on-write: the cache file is not touched
    np.testing.assert_array_equal(data.load_folder(big_folder).images[0], plain[0])


def test_loading_from_the_cache_does_not_allocate_the_images(big_folder):
    data.load_folder(big_folder)  # build (or reuse) the cache
    nbytes = 3000 * 32 * 64 * 3
    tracemalloc.start()
    try:
        data.load_folder(big_folder, cache=False)
        _, peak_plain = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        cached = data.load_folder(big_folder)
        _, peak_cached = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_plain >= nbytes  # the measure sees an array of the images…
    assert peak_cached < min(nbytes / 4, 1000 * 3000)  # …and the cached load none: under 1 kB a file, for its name and manifest entry
    assert cached.images.nbytes == nbytes


@pytest.mark.parametrize("change", ["add", "remove", "modify", "rename"])
def test_any_change_to_the_files_rebuilds_the_cache(folder, count_decodes, change):
    data.load_folder(folder)
    assert len(count_decodes) == 40
    data.load_folder(folder)
    assert len(count_decodes) == 40  # a hit
    victim = folder / "00007.png"
    if change == "add":
        shutil.copy(folder / "00003.png", folder / "00007b.png")  # sorts in the middle
    elif change == "remove":
        victim.unlink()
    elif change == "modify":
        image = cv2.imread(str(victim))
        cv2.imwrite(str(victim), 255 - image)
        os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 1_000_000))  # a size could stay the same
    else:
        victim.rename(folder / "00007_renamed.png")
    del count_decodes[:]
    loaded = data.load_folder(folder).images
    assert len(count_decodes) == len(data._image_files(folder))  # rebuilt
    np.testing.assert_array_equal(loaded, data.load_folder(folder, cache=False).images)


def test_a_larger_load_rebuilds_and_a_smaller_one_reuses(folder, count_decodes):
    assert len(data.load_folder(folder, limit=10)) == 10
    assert len(count_decodes) == 10  # only what was asked for is decoded and cached
    assert len(data.load_folder(folder, limit=5)) == 5
    assert len(count_decodes) == 10
    assert len(data.load_folder(folder)) == 40
    assert len(count_decodes) == 50
    np.testing.assert_array_equal(data.load_folder(folder, limit=7).images, data.load_folder(folder, cache=False).images[:7])
    assert len(count_decodes) == 50 + 40  # the uncached load


def test_an_interrupted_first_load_leaves_no_cache(folder, monkeypatch):
    real, seen = data._read_joint, []

    def interrupted(path, size):
        seen.append(path)
        if len(seen) == 20:
            raise KeyboardInterrupt
        return real(path, size)

    monkeypatch.setattr(data, "_read_joint", interrupted)
    with pytest.raises(KeyboardInterrupt):
        data.load_folder(folder)
    assert os.listdir(folder / data.CACHE_DIR) == []  # no half-written array, no manifest
    monkeypatch.setattr(data, "_read_joint", real)
    np.testing.assert_array_equal(data.load_folder(folder).images, data.load_folder(folder, cache=False).images)


def test_a_bad_file_gives_the_same_error_and_no_cache(folder):
    with pytest.raises(ValueError, match="00000.png is 16×32, but the preset needs 32×64"):
        data.load_folder(folder, size=32)
    assert not (folder / data.CACHE_DIR).exists()  # a wrong size fails before the cache folder is made
    (folder / "00009.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    with pytest.raises(ValueError) as plain:
        data.load_folder(folder, cache=False)
    with pytest.raises(ValueError) as cached:
        data.load_folder(folder)
    assert str(cached.value) == str(plain.value) and "00009.png" in str(cached.value)
    assert os.listdir(folder / data.CACHE_DIR) == []


def test_a_wrong_size_from_a_cache_hit_names_the_first_file(folder):
    data.load_folder(folder)
    with pytest.raises(ValueError, match="00000.png is 16×32, but the preset needs 32×64 joint images"):
        data.load_folder(folder, size=32)


@pytest.mark.parametrize("damage", ["truncated manifest", "truncated array", "other format", "missing array"])
def test_a_damaged_or_outdated_cache_is_rebuilt(folder, count_decodes, damage, monkeypatch):
    data.load_folder(folder)
    cache = folder / data.CACHE_DIR
    if damage == "truncated manifest":
        (cache / "joint.json").write_text((cache / "joint.json").read_text()[:50])
    elif damage == "truncated array":
        with open(cache / "joint.npy", "r+b") as f:
            f.truncate(1000)
    elif damage == "other format":
        monkeypatch.setattr(data, "CACHE_FORMAT", data.CACHE_FORMAT + 1)
    else:
        (cache / "joint.npy").unlink()
    np.testing.assert_array_equal(data.load_folder(folder).images, data.load_folder(folder, cache=False).images)
    assert len(count_decodes) == 40 * 3


def test_a_folder_that_cannot_be_written_is_read_without_a_cache_and_one_warning(folder, monkeypatch, tmp_path):
    def read_only(path):
        raise OSError(30, f"cannot write in {folder} (Read-only file system)", str(folder))

    monkeypatch.setattr(data.utils, "check_output_folder", read_only)
    with pytest.warns(UserWarning, match=r"read without a cache: cannot write in .*Read-only file system.*cache=DIR") as record:
        loaded = data.load_folder(folder)
    assert len(record) == 1
    assert not (folder / data.CACHE_DIR).exists() and not isinstance(loaded.images, np.memmap)
    np.testing.assert_array_equal(loaded.images, data.load_folder(folder, cache=False).images)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a folder that this user cannot write")
def test_a_read_only_folder_really_is_read(folder):
    folder.chmod(0o555)
    try:
        with pytest.warns(UserWarning, match="read without a cache"):
            assert len(data.load_folder(folder)) == 40
    finally:
        folder.chmod(0o755)


def test_cache_dir_keeps_the_cache_out_of_the_folder(folder, tmp_path, count_decodes):
    elsewhere = tmp_path / "caches"
    a = data.load_folder(folder, cache=elsewhere)
    b = data.load_folder(folder, cache=elsewhere)
    assert len(count_decodes) == 40 and isinstance(b.images, np.memmap)
    assert not (folder / data.CACHE_DIR).exists()
    (sub,) = elsewhere.iterdir()
    assert sorted(p.name for p in sub.iterdir()) == ["joint.json", "joint.npy"]
    np.testing.assert_array_equal(a.images, b.images)


def test_transparent_pixels_warn_on_every_load(tmp_path):
    folder = _write_folder(tmp_path / "train", 3)
    rgba = np.full((16, 32, 4), 200, np.uint8)
    rgba[:4, :4, 3] = 0
    cv2.imwrite(str(folder / "00001.png"), rgba)
    for cache in (False, True, True):
        with pytest.warns(UserWarning, match="00001.png had transparent pixels") as record:
            loaded = data.load_folder(folder, cache=cache)
        assert len(record) == 1
        assert (loaded.images[1, :4, :4] == 255).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.load_folder(folder, limit=1)  # the transparent image is not among the first one


def test_labels_come_from_labels_csv_on_every_load(folder):
    with open(folder / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "Smiling"])
        w.writerows([p.name, i % 2] for i, p in enumerate(sorted(folder.glob("*.png"))))
    assert data.load_folder(folder).labels["Smiling"].tolist() == [i % 2 for i in range(40)]
    assert data.load_folder(folder, limit=3).labels["Smiling"].tolist() == [0, 1, 0]


def test_training_on_a_folder_uses_its_cache_and_gives_the_same_numbers(tmp_path):
    folder = _write_folder(tmp_path / "train", 64, size=32)
    cfg = train_mod.TrainConfig(preset="tiny", data=str(folder), train_size=0, epochs=1, batch_size=32, seed=0, device="cpu")
    in_memory = data.load_folder(folder, cache=False)
    a = train_mod.train(cfg, tmp_path / "memory", dataset=in_memory, progress=False, quality_samples=0)
    b = train_mod.train(cfg, tmp_path / "cached", progress=False, quality_samples=0)  # reads the folder: builds its cache
    assert (folder / data.CACHE_DIR / "joint.npy").is_file()
    c = train_mod.train(cfg, tmp_path / "again", progress=False, quality_samples=0)  # from the cache
    losses = [(tmp_path / name / "losses.csv").read_text() for name in ("memory", "cached", "again")]
    assert losses[0] == losses[1] == losses[2]
    for x, y in ((a, b), (a, c)):
        for p, q in zip(x.G.parameters(), y.G.parameters()):
            assert (p == q).all()


def test_a_cache_dir_that_cannot_be_made_falls_back_with_a_warning(folder, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.warns(UserWarning, match=r"read without a cache: cannot create the output folder .*a_file is a file"):
        loaded = data.load_folder(folder, cache=blocker / "cache")
    np.testing.assert_array_equal(loaded.images, data.load_folder(folder, cache=False).images)
