"""Stanford Cars → joint PNGs ``[sketch | photo]`` in OUT/{train,val,test}/.

Official page: https://ai.stanford.edu/~jkrause/cars/car_dataset.html (cars_train.tgz,
cars_test.tgz, car_devkit.tgz, and cars_test_annos_withlabels.mat).
Expected layout under ``--root`` (the .mat files in ROOT or ROOT/devkit)::

    ROOT/
      cars_train/00001.jpg …
      cars_test/00001.jpg …
      devkit/cars_train_annos.mat              struct array "annotations": bbox_x1, bbox_y1,
      devkit/cars_test_annos_withlabels.mat    bbox_x2, bbox_y2, class, fname
                                               (cars_test_annos.mat, without class, also works)

The boxes are MATLAB pixel coordinates, 1-based and inclusive: x = x1 − 1, w = x2 − x1 + 1.

**Crop**: the same square around the box as for CUB: side = max(w, h) · (1 + 2·margin)
(``--margin``, default 0.1; cars are wide, so the side comes from the width), centred on the
box, shrunk to min(W, H) if larger and shifted to lie inside the image
(:func:`common.square_box`). Resized to 64×64, sketched, resized to ``--size``.

**Split**: the official train/test split (8 144 / 8 041 images); val is carved out of train
deterministically: of the training annotations in file order, every 10th (the 10th, 20th, …)
goes to val (814 images).

**Labels**: OUT/{split}/labels.csv with columns ``file,class`` (1..196) when the .mat has classes.

Output names keep the fname stem; train and test both start at 00001.jpg, but they go to
different folders: cars_train/00001.jpg → OUT/train/00001.png, cars_test/00001.jpg → OUT/test/00001.png.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import scipy.io

import common

HELP = """Get Stanford Cars from its official page, https://ai.stanford.edu/~jkrause/cars/car_dataset.html:
cars_train.tgz, cars_test.tgz, car_devkit.tgz and cars_test_annos_withlabels.mat. Unpack them in ROOT as
  ROOT/cars_train/00001.jpg …
  ROOT/cars_test/00001.jpg …
  ROOT/devkit/cars_train_annos.mat
  ROOT/devkit/cars_test_annos_withlabels.mat   (or ROOT/devkit/cars_test_annos.mat)
and pass --root ROOT. See data_scripts/README.md."""

MAT_FOLDERS = ("", "devkit")
BOX_FIELDS = ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "fname")
VAL_EVERY = 10  # every 10th training image (in annotation order) goes to val


def find_layout(root: Path) -> dict[str, Path]:
    """The two image folders and the two annotation files."""
    test_mat = (common.locate(root, "cars_test_annos_withlabels.mat", MAT_FOLDERS)
                or common.locate(root, "cars_test_annos.mat", MAT_FOLDERS))
    return common.require(root, {
        "cars_train/": common.locate(root, "cars_train"),
        "cars_test/": common.locate(root, "cars_test"),
        "cars_train_annos.mat": common.locate(root, "cars_train_annos.mat", MAT_FOLDERS),
        "cars_test_annos_withlabels.mat": test_mat,
    }, HELP)


def scalar(record, field: str):
    """One field of a .mat record as a plain value: loadmat wraps every scalar in a 2-D array."""
    return np.asarray(record[field]).ravel()[0]


def read_annotations(path: Path) -> list[dict]:
    """One dict per record of the ``annotations`` struct array: fname, box (x, y, w, h), class or None."""
    try:
        contents = scipy.io.loadmat(str(path))
    except (scipy.io.matlab.MatReadError, ValueError, OSError, TypeError, NotImplementedError) as e:
        raise common.LayoutError(f"{path} could not be read as a devkit annotation file ({e})") from None
    if "annotations" not in contents:
        raise common.LayoutError(f"{path} has no 'annotations' struct array; is it a devkit annotation file?")
    records = contents["annotations"].ravel()
    names = records.dtype.names or ()
    missing = [f for f in BOX_FIELDS if f not in names]
    if missing:
        raise common.LayoutError(f"{path}: the annotations lack the fields {', '.join(missing)}")
    rows = []
    for r in records:
        x1, y1, x2, y2 = (int(scalar(r, f)) for f in BOX_FIELDS[:4])  # int first: the .mat stores uint8/16
        rows.append({
            "fname": str(scalar(r, "fname")),
            "box": (x1 - 1, y1 - 1, x2 - x1 + 1, y2 - y1 + 1),
            "class": int(scalar(r, "class")) if "class" in names else None,
        })
    return rows


def make_items(files: dict[str, Path]) -> tuple[list[tuple], dict[tuple[str, str], int]]:
    """(split, stem, path, box) per image, and the class of each (split, stem) where known."""
    items, classes = [], {}
    parts = [("train", files["cars_train/"], files["cars_train_annos.mat"]),
             ("test", files["cars_test/"], files["cars_test_annos_withlabels.mat"])]
    for official, folder, mat in parts:
        for i, row in enumerate(read_annotations(mat), start=1):
            split = "val" if official == "train" and i % VAL_EVERY == 0 else official
            stem = Path(row["fname"]).stem
            items.append((split, stem, folder / row["fname"], row["box"]))
            if row["class"] is not None:
                classes[split, stem] = row["class"]
    return items, classes


def prepare(argv=None) -> int:
    """Parse the options, read the annotation files and make the joint images."""
    args = common.build_parser("cars", __doc__, margin=0.1).parse_args(argv)
    common.check_args(args)
    items, classes = make_items(find_layout(Path(args.root)))
    crop_info = common.box_crop_info(args.margin, box="devkit bbox_x1..bbox_y2, 1-based inclusive")
    extra = {"split_rule": f"official train/test; every {VAL_EVERY}th training annotation → val"}
    crop = functools.partial(common.crop_square, margin=args.margin)

    def finish(out: Path, names: dict[str, list[str]]) -> None:  # before the manifest: see common.run
        for split, done in names.items():
            labelled = {n: [classes[split, n]] for n in done if (split, n) in classes}
            if labelled:
                common.write_labels(out, split, ["class"], labelled)

    status, _ = common.run("cars", items, args, crop, crop_info, extra, finish)
    return status


def main(argv=None) -> int:
    """Entry point: returns the exit status (0 ok, 1 some photos unreadable, 2 layout error)."""
    return common.main_wrapper(prepare, argv)


if __name__ == "__main__":
    sys.exit(main())
