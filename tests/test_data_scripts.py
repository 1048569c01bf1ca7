"""Tests of data_scripts/: tiny synthetic copies of the official CelebA, CUB and Stanford Cars layouts.

No download and no real data: a few small JPGs of coloured rectangles, with annotation files in
the official formats (the Cars .mat files written with scipy.io.savemat in the devkit's layout).
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from cgan_minimal.data import load_folder, split
from cgan_minimal.xdog import STYLES

SCRIPTS = Path(__file__).resolve().parent.parent / "data_scripts"
sys.path.insert(0, str(SCRIPTS))
import common  # noqa: E402
import prepare_cars  # noqa: E402
import prepare_celeba  # noqa: E402
import prepare_cub  # noqa: E402

ATTRIBUTES = [f"Attr_{i}" for i in range(40)]


# ---------------------------------------------------------------- fixtures: official layouts
def write_jpg(path: Path, W: int, H: int, seed: int) -> None:
    """A small JPG: a coloured background with two coloured rectangles."""
    rng = np.random.default_rng(seed)
    image = np.full((H, W, 3), rng.integers(0, 256, 3), np.uint8)
    for _ in range(2):
        x0, y0 = rng.integers(0, W // 2), rng.integers(0, H // 2)
        image[y0:y0 + H // 3, x0:x0 + W // 3] = rng.integers(0, 256, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def make_celeba(root: Path, as_zip: bool = False, attributes: bool = True) -> Path:
    """10 aligned faces at 89×109 (half of 178×218): 4 train, 3 val, 2 test… plus one test at 178×218."""
    splits = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    names = [f"{i:06d}.jpg" for i in range(1, len(splits) + 1)]
    folder = root / "img_align_celeba"
    for i, name in enumerate(names):
        W, H = (178, 218) if i == len(names) - 1 else (89, 109)
        write_jpg(folder / name, W, H, seed=i)
    (root / "list_eval_partition.txt").write_text("".join(f"{n} {s}\n" for n, s in zip(names, splits)))
    if attributes:
        rows = [f"{n} " + " ".join("1" if (i + j) % 3 == 0 else "-1" for j in range(40)) for i, n in enumerate(names)]
        (root / "list_attr_celeba.txt").write_text(f"{len(names)}\n{' '.join(ATTRIBUTES)}\n" + "\n".join(rows) + "\n")
    if as_zip:
        with zipfile.ZipFile(root / "img_align_celeba.zip", "w") as z:
            for name in names:
                z.write(folder / name, f"img_align_celeba/{name}")
        for name in names:
            (folder / name).unlink()
        folder.rmdir()
    return root


def make_cub(parent: Path, n_train: int = 20, n_test: int = 4) -> Path:
    """CUB_200_2011/ with n_train + n_test birds (80×100) in two class folders; returns the parent."""
    root = parent / "CUB_200_2011"
    images, boxes, flags = [], [], []
    for i in range(1, n_train + n_test + 1):
        relative = f"{1 + i % 2:03d}.Bird_{1 + i % 2}/Bird_{1 + i % 2}_{i:04d}_{i}.jpg"
        write_jpg(root / "images" / relative, 80, 100, seed=100 + i)
        images.append(f"{i} {relative}")
        boxes.append(f"{i} {(i * 7) % 40}.0 {(i * 5) % 50}.0 {30 + i % 40}.0 {40 + i % 50}.0")
        flags.append(f"{i} {1 if i <= n_train else 0}")
    # one box at the border and one larger than the image
    boxes[0] = "1 0.0 0.0 25.0 30.0"
    boxes[1] = "2 -5.0 10.0 200.0 150.0"
    for name, lines in [("images.txt", images), ("bounding_boxes.txt", boxes), ("train_test_split.txt", flags)]:
        (root / name).write_text("\n".join(lines) + "\n")
    return parent


def cars_annotations(boxes, classes, fnames) -> np.ndarray:
    """The devkit's ``annotations``: a (1, N) struct array, every scalar wrapped in a 2-D array."""
    fields = ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "fname"] + (["class"] if classes else [])
    records = np.zeros((1, len(fnames)), dtype=[(f, "O") for f in fields])
    for i, (box, fname) in enumerate(zip(boxes, fnames)):
        for field, v in zip(fields[:4], box):
            records[0, i][field] = np.array([[v]], dtype=np.uint16)
        records[0, i]["fname"] = np.array([fname])
        if classes:
            records[0, i]["class"] = np.array([[classes[i]]], dtype=np.uint8)
    return records


def make_cars(root: Path, n_train: int = 20, n_test: int = 4, test_labels: bool = True) -> Path:
    """cars_train/, cars_test/ (wide 100×70 JPGs) and devkit/*.mat with 1-based inclusive boxes."""
    for folder, n, mat in [("cars_train", n_train, "cars_train_annos.mat"),
                           ("cars_test", n_test, "cars_test_annos_withlabels.mat" if test_labels else "cars_test_annos.mat")]:
        fnames = [f"{i:05d}.jpg" for i in range(1, n + 1)]
        for i, fname in enumerate(fnames):
            write_jpg(root / folder / fname, 100, 70, seed=200 + i + (0 if folder == "cars_train" else 50))
        boxes = [(1 + i % 10, 5 + i % 20, 60 + i % 40, 40 + i % 30) for i in range(n)]
        boxes[0] = (1, 1, 100, 70)  # the whole image: the square shrinks to 70
        classes = [1 + i % 3 for i in range(n)] if (folder == "cars_train" or test_labels) else None
        (root / "devkit").mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(str(root / "devkit" / mat), {"annotations": cars_annotations(boxes, classes, fnames)})
    return root


def prepare(script, root, out, *extra) -> int:
    """Run a script in-process with --workers 1 (unless extra says otherwise)."""
    argv = ["--root", str(root), "--out", str(out), "--workers", "1", *map(str, extra)]
    return script.main(argv)


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def pngs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.png") if not p.name.startswith("."))


# ---------------------------------------------------------------- the square crop
@pytest.mark.parametrize("box, W, H, margin", [
    ((30, 40, 20, 20), 100, 100, 0.0),     # inside
    ((0, 0, 25, 30), 80, 100, 0.1),        # at the top-left border: shifted in
    ((70, 90, 10, 10), 80, 100, 0.5),      # at the bottom-right border
    ((-5, 10, 200, 150), 80, 100, 0.1),    # larger than the image: shrunk to min(W, H)
    ((0, 0, 99, 69), 100, 70, 0.1),        # a wide car filling the image
    ((10, 10, 1, 1), 5, 300, 0.0),         # a very thin image
])
def test_square_box_lies_inside_the_image(box, W, H, margin):
    x0, y0, side = common.square_box(*box, W, H, margin)
    assert 1 <= side <= min(W, H)
    assert 0 <= x0 and x0 + side <= W and 0 <= y0 and y0 + side <= H
    if max(box[2], box[3]) * (1 + 2 * margin) <= min(W, H):
        assert side == round(max(box[2], box[3]) * (1 + 2 * margin))


def test_square_box_is_centred_and_rejects_empty_boxes():
    assert common.square_box(30, 40, 20, 10, 100, 100, 0.0) == (30, 35, 20)
    assert common.square_box(30, 40, 20, 10, 100, 100, 0.5) == (20, 25, 40)
    with pytest.raises(ValueError, match="empty box"):
        common.square_box(10, 10, 0, 5, 100, 100)


def test_celeba_face_box_is_the_dcgan_centre_box():
    assert prepare_celeba.face_box(178, 218) == (35, 55, 108, 108)
    x, y, w, h = prepare_celeba.face_box(89, 109)
    assert w == h == 54 and (x, y) == (17.5, 27.5)
    assert prepare_celeba.crop_face(np.zeros((218, 178, 3), np.uint8)).shape == (108, 108, 3)


# ---------------------------------------------------------------- CelebA
def test_celeba_folder_end_to_end(tmp_path):
    root, out = make_celeba(tmp_path / "celeba"), tmp_path / "out"
    assert prepare(prepare_celeba, root, out) == 0
    assert [len(pngs(out / s)) for s in common.SPLITS] == [4, 3, 3]
    assert pngs(out / "test") == ["000008.png", "000009.png", "000010.png"]
    data = load_folder(out / "train", size=64)
    assert data.images.shape == (4, 64, 128, 3)
    sketch, photo = split(data.images[0])
    assert sketch.std(axis=2).max() == 0 and photo.std() > 0  # gray sketch on the left, colour photo right
    m = manifest(out)
    assert m["dataset"] == "celeba" and m["style"] == "xdog" and m["size"] == 64
    assert m["counts"] == {"train": 4, "val": 3, "test": 3} and m["skipped_total"] == 0 and m["failed"] == []
    assert m["crop"]["box_xywh"] == [35, 55, 108, 108] and m["script_version"] == common.SCRIPT_VERSION
    assert m["source_root"] == str(root.resolve())
    assert (out / "list_attr_celeba.txt").read_text() == (root / "list_attr_celeba.txt").read_text()
    labels = (out / "val" / "labels.csv").read_text().splitlines()
    assert labels[0] == "file," + ",".join(ATTRIBUTES) and len(labels) == 4
    assert labels[1].split(",")[:4] == ["000005.png", "0", "0", "1"]  # image index 4: (4 + j) % 3 == 0 at j = 2


def test_celeba_zip_size_32_with_two_workers(tmp_path):
    root, out = make_celeba(tmp_path / "celeba", as_zip=True, attributes=False), tmp_path / "out"
    assert not (root / "img_align_celeba").exists()
    assert prepare(prepare_celeba, root, out, "--size", 32, "--workers", 2) == 0
    assert [len(pngs(out / s)) for s in common.SPLITS] == [4, 3, 3]
    for s in common.SPLITS:
        assert load_folder(out / s, size=32).images.shape[1:] == (32, 64, 3)
    m = manifest(out)
    assert m["size"] == 32 and m["joint_shape"] == [32, 64, 3] and m["labels"] is None
    assert m["images"].endswith("img_align_celeba.zip") and not (out / "train" / "labels.csv").exists()


def test_celeba_resumes_without_rewriting(tmp_path):
    root, out = make_celeba(tmp_path / "celeba"), tmp_path / "out"
    assert prepare(prepare_celeba, root, out, "--size", 32) == 0
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    stale = out / "train" / ".000001.tmp999.png"
    stale.write_bytes(b"half a png")  # what a killed run may leave
    assert prepare(prepare_celeba, root, out, "--size", 32) == 0
    m = manifest(out)
    assert m["skipped_total"] == 10 and m["written"] == {"train": 0, "val": 0, "test": 0}
    assert m["counts"] == {"train": 4, "val": 3, "test": 3}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == mtimes
    assert not stale.exists()
    load_folder(out / "train", size=32)


def test_resuming_with_other_options_is_refused(tmp_path, capsys):
    root, out = make_celeba(tmp_path / "celeba"), tmp_path / "out"
    assert prepare(prepare_celeba, root, out, "--size", 32) == 0
    capsys.readouterr()
    assert prepare(prepare_celeba, root, out, "--size", 64) == 2
    assert "made with size 32, not 64" in capsys.readouterr().err


def test_limit_caps_each_split(tmp_path):
    root, out = make_celeba(tmp_path / "celeba"), tmp_path / "out"
    assert prepare(prepare_celeba, root, out, "--size", 32, "--limit", 2) == 0
    assert manifest(out)["counts"] == {"train": 2, "val": 2, "test": 2}
    assert pngs(out / "val") == ["000005.png", "000006.png"]
    assert prepare(prepare_celeba, root, out, "--size", 32, "--limit", 0) == 2


def test_celeba_missing_partition_is_named(tmp_path, capsys):
    root = make_celeba(tmp_path / "celeba")
    (root / "list_eval_partition.txt").unlink()
    assert prepare(prepare_celeba, root, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "lacks list_eval_partition.txt" in err and "Traceback" not in err


def test_unreadable_photo_is_reported_not_written(tmp_path, capsys):
    root, out = make_celeba(tmp_path / "celeba"), tmp_path / "out"
    (root / "img_align_celeba" / "000002.jpg").write_bytes(b"not a jpeg")
    (root / "img_align_celeba" / "000003.jpg").unlink()
    assert prepare(prepare_celeba, root, out, "--size", 32) == 1
    err = capsys.readouterr().err
    assert "000002.jpg could not be decoded" in err and "000003.jpg" in err
    m = manifest(out)
    assert [f["name"] for f in m["failed"]] == ["000002", "000003"] and m["counts"]["train"] == 2
    assert pngs(out / "train") == ["000001.png", "000004.png"]
    assert not list(out.rglob(".*"))  # no temporary files left
    assert len((out / "train" / "labels.csv").read_text().splitlines()) == 3


@pytest.mark.parametrize("script, page", [
    (prepare_celeba, "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"),
    (prepare_cub, "https://www.vision.caltech.edu/datasets/cub_200_2011/"),
    (prepare_cars, "https://ai.stanford.edu/~jkrause/cars/car_dataset.html"),
])
def test_missing_root_names_the_official_page(tmp_path, capsys, script, page):
    assert prepare(script, tmp_path / "nowhere", tmp_path / "out") == 2
    assert page in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert prepare(script, tmp_path / "empty", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert page in err and "holds none of" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- CUB
def test_cub_end_to_end_from_the_parent_folder(tmp_path):
    parent, out = make_cub(tmp_path / "data"), tmp_path / "out"
    assert prepare(prepare_cub, parent, out) == 0
    assert [len(pngs(out / s)) for s in common.SPLITS] == [18, 2, 4]
    assert pngs(out / "val") == ["Bird_1_0010_10.png", "Bird_1_0020_20.png"]  # the 10th and 20th training ids
    assert load_folder(out / "test", size=64).images.shape == (4, 64, 128, 3)
    m = manifest(out)
    assert m["dataset"] == "cub" and m["crop"]["margin"] == 0.1 and "every 10th" in m["split_rule"]
    labels = (out / "train" / "labels.csv").read_text().splitlines()
    assert labels[0] == "file,class" and "Bird_2_0001_1.png,2" in labels and len(labels) == 19


def test_cub_photo_half_is_the_square_crop(tmp_path):
    parent, out = make_cub(tmp_path / "data"), tmp_path / "out"
    assert prepare(prepare_cub, parent / "CUB_200_2011", out, "--limit", 3, "--margin", 0.2) == 0
    source = cv2.cvtColor(cv2.imread(str(next(parent.rglob("Bird_2_0001_1.jpg")))), cv2.COLOR_BGR2RGB)
    x0, y0, side = common.square_box(0, 0, 25, 30, 80, 100, 0.2)  # the border box of image 1
    assert (x0, y0, side) == (0, 0, 42)
    expected = cv2.resize(source[y0:y0 + side, x0:x0 + side], (64, 64), interpolation=cv2.INTER_AREA)
    joint = cv2.cvtColor(cv2.imread(str(out / "train" / "Bird_2_0001_1.png")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(split(joint)[1], expected)


def test_cub_missing_bounding_boxes_is_named(tmp_path, capsys):
    parent = make_cub(tmp_path / "data", n_train=2, n_test=1)
    (parent / "CUB_200_2011" / "bounding_boxes.txt").unlink()
    assert prepare(prepare_cub, parent, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "lacks bounding_boxes.txt" in err and "Traceback" not in err


# ---------------------------------------------------------------- Stanford Cars
def test_cars_end_to_end(tmp_path):
    root, out = make_cars(tmp_path / "cars"), tmp_path / "out"
    assert prepare(prepare_cars, root, out, "--size", 32) == 0
    assert [len(pngs(out / s)) for s in common.SPLITS] == [18, 2, 4]
    assert pngs(out / "val") == ["00010.png", "00020.png"]
    assert load_folder(out / "train", size=32).images.shape == (18, 32, 64, 3)
    assert manifest(out)["counts"] == {"train": 18, "val": 2, "test": 4}
    assert (out / "test" / "labels.csv").read_text().splitlines()[1] == "00001.png,1"


def test_cars_boxes_are_one_based(tmp_path):
    root, out = make_cars(tmp_path / "cars", n_train=2, n_test=1), tmp_path / "out"
    rows = prepare_cars.read_annotations(root / "devkit" / "cars_train_annos.mat")
    assert rows[0] == {"fname": "00001.jpg", "box": (0, 0, 100, 70), "class": 1}
    assert rows[1]["box"] == (1, 5, 61 - 2 + 1, 41 - 6 + 1)
    assert prepare(prepare_cars, root, out) == 0
    source = cv2.cvtColor(cv2.imread(str(root / "cars_train" / "00001.jpg")), cv2.COLOR_BGR2RGB)
    expected = cv2.resize(source[:, 15:85], (64, 64), interpolation=cv2.INTER_AREA)  # whole box → 70×70, centred
    joint = cv2.cvtColor(cv2.imread(str(out / "train" / "00001.png")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(split(joint)[1], expected)


def test_cars_test_annotations_without_labels(tmp_path):
    root, out = make_cars(tmp_path / "cars", n_train=2, n_test=2, test_labels=False), tmp_path / "out"
    assert prepare(prepare_cars, root, out, "--size", 32) == 0
    assert manifest(out)["counts"]["test"] == 2 and not (out / "test" / "labels.csv").exists()


def test_cars_missing_annotations_are_named(tmp_path, capsys):
    root = make_cars(tmp_path / "cars", n_train=2, n_test=1)
    (root / "devkit" / "cars_test_annos_withlabels.mat").unlink()
    assert prepare(prepare_cars, root, tmp_path / "out") == 2
    assert "lacks cars_test_annos_withlabels.mat" in capsys.readouterr().err
    (root / "devkit" / "cars_train_annos.mat").write_bytes(b"garbage")
    (root / "cars_test_annos.mat").write_bytes(b"garbage")  # found in ROOT too
    assert prepare(prepare_cars, root, tmp_path / "out") == 2
    assert "could not be read as a devkit annotation file" in capsys.readouterr().err


# ---------------------------------------------------------------- the command line and the styles
def test_command_line_entry_point(tmp_path):
    parent, out = make_cub(tmp_path / "data", n_train=3, n_test=2), tmp_path / "out"
    cmd = [sys.executable, str(SCRIPTS / "prepare_cub.py"), "--root", str(parent), "--out", str(out),
           "--size", "32", "--workers", "1", "--limit", "2"]
    env = {**os.environ, "PYTHONPATH": ""}  # run from elsewhere: `import common` must come from the script's folder
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "train 2, val 0, test 2 joint images" in result.stdout
    assert manifest(out)["counts"] == {"train": 2, "val": 0, "test": 2}
    bad = subprocess.run(cmd[:3] + [str(tmp_path / "nowhere")] + cmd[4:], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "cub_200_2011" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("style", STYLES)
def test_every_sketch_style(tmp_path, style):
    root, out = make_celeba(tmp_path / "celeba", attributes=False), tmp_path / "out"
    assert prepare(prepare_celeba, root, out, "--style", style, "--limit", 1) == 0
    images = load_folder(out / "train", size=64).images
    sketch, photo = split(images[0])
    assert manifest(out)["style"] == style and sketch.std(axis=2).max() == 0 and photo.std() > 0


# ---------------------------------------------------------------- careless or hostile annotation files
def set_line(path: Path, number: int, line) -> None:
    """Replace line ``number`` (1-based) of a text file with ``line`` (str, or bytes written as is)."""
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = line if isinstance(line, bytes) else line.encode()
    path.write_bytes(b"\n".join(lines))


def refused(root: Path, out: Path, capsys, where: str, *also: str) -> str:
    """Run the CelebA script: exit status 2, a message naming ``where`` (file, line), no traceback, no OUT."""
    assert prepare(prepare_celeba, root, out, "--size", 32) == 2
    err = capsys.readouterr().err
    assert where in err and "Traceback" not in err, err
    for text in also:
        assert text in err, err
    assert not out.exists()
    return err


@pytest.mark.parametrize("name, number", [("list_attr_celeba.txt", 4), ("list_eval_partition.txt", 3)])
def test_celeba_non_utf8_byte_names_file_and_line(tmp_path, capsys, name, number):
    root = make_celeba(tmp_path / "celeba")
    set_line(root / name, number, b"00000\xe9.jpg 0")
    refused(root, tmp_path / "out", capsys, f"{root / name}, line {number}:", "byte 0xe9 is not UTF-8")


@pytest.mark.parametrize("value", ["0", "2", "+1", "yes"])
def test_celeba_attribute_values_other_than_1_or_minus_1(tmp_path, capsys, value):
    root = make_celeba(tmp_path / "celeba")
    path = root / "list_attr_celeba.txt"
    fields = path.read_text().splitlines()[4].split()
    fields[3] = value  # Attr_2 of 000003.jpg
    set_line(path, 5, " ".join(fields))
    refused(root, tmp_path / "out", capsys, f"{path}, line 5:", f"Attr_2 of 000003.jpg is {value!r}, expected 1 or -1")


def test_celeba_line_numbers_count_blank_lines(tmp_path, capsys):
    root = make_celeba(tmp_path / "celeba")
    path = root / "list_eval_partition.txt"
    path.write_text("\n\n" + path.read_text().replace("000004.jpg 0", "000004.jpg 3"))
    refused(root, tmp_path / "out", capsys, f"{path}, line 6:", "got '000004.jpg 3'")


@pytest.mark.parametrize("bad, message", [("Big,Nose", "'Big,Nose' holds a comma"), ('Big"Nose', "holds a comma or a quote"),
                                          ("Attr_0", "Attr_0 appear twice")])
def test_celeba_attribute_names_that_labels_csv_cannot_hold(tmp_path, capsys, bad, message):
    root = make_celeba(tmp_path / "celeba")
    path = root / "list_attr_celeba.txt"
    set_line(path, 2, " ".join([*ATTRIBUTES[:5], bad, *ATTRIBUTES[6:]]))
    refused(root, tmp_path / "out", capsys, f"{path}, line 2:", message)


@pytest.mark.parametrize("count, message", [("9", "the count line says 9 images, but 10 image lines follow"),
                                            ("11", "says 11 images, but 10"), ("ten", "expected the number of images"),
                                            ("10 40", "got '10 40'")])
def test_celeba_wrong_count_line(tmp_path, capsys, count, message):
    root = make_celeba(tmp_path / "celeba")
    set_line(root / "list_attr_celeba.txt", 1, count)
    refused(root, tmp_path / "out", capsys, f"{root / 'list_attr_celeba.txt'}, line 1:", message)


def test_celeba_attribute_file_must_cover_the_partition(tmp_path, capsys):
    root = make_celeba(tmp_path / "celeba")
    attr = root / "list_attr_celeba.txt"
    set_line(attr, 9, attr.read_text().splitlines()[7])  # the line of 000006.jpg twice, none for 000007.jpg
    refused(root, tmp_path / "out", capsys, f"{attr}, line 9:", "000006.jpg again (first on line 8)")
    lines = attr.read_text().splitlines()
    attr.write_text("\n".join(["9", *lines[1:8], *lines[9:]]) + "\n")  # 000007 left out, count fixed
    refused(root, tmp_path / "out", capsys, f"{root / 'list_eval_partition.txt'}, line 7:", f"000007.jpg has no line in {attr}")


@pytest.mark.parametrize("entry", ["../../secret.jpg", "../celeba_outside.jpg", "ABSOLUTE", "sub/../../escape.jpg", "link.jpg"])
def test_celeba_partition_entries_must_stay_in_the_image_folder(tmp_path, capsys, entry):
    root = make_celeba(tmp_path / "celeba")
    write_jpg(tmp_path / "secret.jpg", 89, 109, seed=7)  # a real photo outside, so that a read would succeed
    write_jpg(tmp_path / "celeba_outside.jpg", 89, 109, seed=8)
    (root / "img_align_celeba" / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    entry = str(tmp_path / "secret.jpg") if entry == "ABSOLUTE" else entry
    set_line(root / "list_eval_partition.txt", 2, f"{entry} 0")
    refused(root, tmp_path / "out", capsys, f"{root / 'list_eval_partition.txt'}, line 2:",
            f"{entry!r} is not a file inside {root / 'img_align_celeba'}")


@pytest.mark.parametrize("entry", ["../../secret.jpg", "/img_align_celeba/000002.jpg"])
def test_celeba_partition_entries_must_stay_in_the_archive(tmp_path, capsys, entry):
    root = make_celeba(tmp_path / "celeba", as_zip=True)
    set_line(root / "list_eval_partition.txt", 2, f"{entry} 0")
    refused(root, tmp_path / "out", capsys, f"{root / 'list_eval_partition.txt'}, line 2:", "is not a file inside")


def test_celeba_subfolder_entries_inside_the_folder_are_kept(tmp_path):
    root, out = make_celeba(tmp_path / "celeba", attributes=False), tmp_path / "out"
    folder = root / "img_align_celeba"
    (folder / "sub").mkdir()
    (folder / "000002.jpg").rename(folder / "sub" / "000002.jpg")
    set_line(root / "list_eval_partition.txt", 2, "sub/000002.jpg 0")
    assert prepare(prepare_celeba, root, out, "--size", 32, "--limit", 2) == 0
    assert pngs(out / "train") == ["000001.png", "000002.png"]


# ---------------------------------------------------------------- atomic output
def interrupt_after(monkeypatch, n: int) -> None:
    """Make the CelebA crop raise KeyboardInterrupt (as Ctrl-C would) on its (n+1)-th image."""
    calls, real = [], prepare_celeba.crop_face

    def crop(image, box=None):
        calls.append(1)
        if len(calls) > n:
            raise KeyboardInterrupt
        return real(image, box)
    monkeypatch.setattr(prepare_celeba, "crop_face", crop)


def test_interrupted_run_leaves_an_unfinished_folder_without_labels(tmp_path, monkeypatch, capsys):
    root, out = make_celeba(tmp_path / "celeba"), tmp_path / "out"
    assert prepare(prepare_celeba, root, out, "--size", 32, "--limit", 1) == 0
    assert manifest(out)["finished"] is True and (out / "train" / "labels.csv").exists()
    interrupt_after(monkeypatch, 3)
    assert prepare(prepare_celeba, root, out, "--size", 32) == 130
    assert "run the same command again" in capsys.readouterr().err
    m = manifest(out)
    assert m == {"dataset": "celeba", "size": 32, "style": "xdog", "finished": False,
                 "script_version": common.SCRIPT_VERSION}
    assert not list(out.rglob("labels.csv")) and not list(out.rglob(".*"))
    assert sum(len(pngs(out / s)) for s in common.SPLITS) == 3 + 3  # one per split from the first run, 3 new
    load_folder(out / "train", size=32)  # every PNG there is complete
    assert prepare(prepare_celeba, root, out, "--size", 64) == 2  # the unfinished manifest still guards the options
    monkeypatch.undo()
    assert prepare(prepare_celeba, root, out, "--size", 32) == 0
    m = manifest(out)
    assert m["finished"] is True and m["counts"] == {"train": 4, "val": 3, "test": 3}
    assert len((out / "val" / "labels.csv").read_text().splitlines()) == 4


def test_failed_labels_write_leaves_no_partial_file(tmp_path, monkeypatch, capsys):
    root, out = make_celeba(tmp_path / "celeba"), tmp_path / "out"
    real = common.csv.writer

    class DiskFull:  # writes the header and one row, then fails as a full disk would
        def __init__(self, f, **kwargs):
            self.writer = real(f, **kwargs)

        def writerow(self, row):
            self.writer.writerow(row)

        def writerows(self, rows):
            self.writer.writerow(next(iter(rows)))
            raise OSError(28, "No space left on device")
    monkeypatch.setattr(common.csv, "writer", DiskFull)
    assert prepare(prepare_celeba, root, out, "--size", 32) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert not list(out.rglob("labels.csv")) and not list(out.rglob(".*"))
    assert manifest(out)["finished"] is False and len(pngs(out / "train")) == 4


def test_labels_csv_quotes_fields_with_commas(tmp_path):
    common.write_labels(tmp_path, "train", ["class"], {"b": [2], "a,1": [1]})
    assert (tmp_path / "train" / "labels.csv").read_text() == 'file,class\n"a,1.png",1\nb.png,2\n'
    write_jpg(tmp_path / "train" / "a,1.png", 8, 4, seed=1)
    write_jpg(tmp_path / "train" / "b.png", 8, 4, seed=2)
    assert load_folder(tmp_path / "train").labels["class"].tolist() == [1, 2]


def test_unreadable_manifest_is_refused(tmp_path, capsys):
    root, out = make_celeba(tmp_path / "celeba"), tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("{half a manif")
    assert prepare(prepare_celeba, root, out, "--size", 32) == 2
    err = capsys.readouterr().err
    assert f"{out / 'manifest.json'} is not a manifest" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]
