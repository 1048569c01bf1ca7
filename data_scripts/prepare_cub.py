"""CUB-200-2011 birds → joint PNGs ``[sketch | photo]`` in OUT/{train,val,test}/.

Official page: https://www.vision.caltech.edu/datasets/cub_200_2011/ (CUB_200_2011.tgz).
Expected layout; ``--root`` is the CUB_200_2011 folder or the folder that holds it::

    CUB_200_2011/
      images.txt              "1 001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg"
      bounding_boxes.txt      "1 60.0 27.0 325.0 304.0"  — id, x, y, width, height (pixels)
      train_test_split.txt    "1 0"  — id, is_training_image
      images/001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg …

**Crop**: a square around the bird's box: side = max(w, h) · (1 + 2·margin) (``--margin``,
default 0.1), centred on the box, shrunk to min(W, H) if larger and shifted to lie inside the
image (:func:`common.square_box`). Resized to 64×64, sketched, resized to ``--size``.

**Split**: the official train/test split (5 994 / 5 794 images); val is carved out of train
deterministically: of the training images in id order, every 10th (the 10th, 20th, …) goes
to val (599 images, about 3 per class).

**Labels**: OUT/{split}/labels.csv with columns ``file,class`` (1..200, from the folder name).

Output names are the file stems, which are unique in CUB: …/Black_Footed_Albatross_0046_18.jpg
→ OUT/test/Black_Footed_Albatross_0046_18.png.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import common

HELP = """Get CUB-200-2011 from its official page, https://www.vision.caltech.edu/datasets/cub_200_2011/
(CUB_200_2011.tgz, about 1.1 GB), unpack it (tar xzf CUB_200_2011.tgz) and pass the folder as
  --root ROOT/CUB_200_2011   (or its parent ROOT)
It must hold images.txt, bounding_boxes.txt, train_test_split.txt and images/. See data_scripts/README.md."""

FILES = ("images.txt", "bounding_boxes.txt", "train_test_split.txt", "images")
VAL_EVERY = 10  # every 10th training image (in id order) goes to val


def find_layout(root: Path) -> dict[str, Path]:
    """The four entries of the CUB folder; ``root`` may be CUB_200_2011 or its parent."""
    if not (root / "images.txt").exists() and (root / "CUB_200_2011").is_dir():
        root = root / "CUB_200_2011"
    return common.require(root, {name: common.locate(root, name) for name in FILES}, HELP)


def read_table(path: Path, columns: int) -> dict[str, list[str]]:
    """id → the remaining fields of each line of a CUB annotation file, checking the field count."""
    table = {}
    for number, fields in common.numbered_lines(path):
        if len(fields) != columns:
            raise common.LayoutError(f"{path}, line {number}: expected {columns} fields, got {len(fields)}")
        table[fields[0]] = fields[1:]
    return table


def assign_splits(is_training: dict[str, list[str]]) -> dict[str, str]:
    """id → "train", "val" or "test": the official split, every 10th training id (in id order) to val."""
    splits, n_train = {}, 0
    for image_id in sorted(is_training, key=int):
        if is_training[image_id][0] == "1":
            n_train += 1
            splits[image_id] = "val" if n_train % VAL_EVERY == 0 else "train"
        else:
            splits[image_id] = "test"
    return splits


def class_number(folder: str) -> int:
    """The class of a CUB image folder name, "001.Black_footed_Albatross" → 1 (0 if it has no number)."""
    number = folder.split(".")[0]
    return int(number) if number.isdigit() else 0


def make_items(files: dict[str, Path]) -> tuple[list[tuple], dict[str, int]]:
    """(split, stem, path, box) per image in id order, and the class number of each stem."""
    images = read_table(files["images.txt"], 2)
    boxes = read_table(files["bounding_boxes.txt"], 5)
    splits = assign_splits(read_table(files["train_test_split.txt"], 2))
    items, classes = [], {}
    for image_id in sorted(images, key=int):
        if image_id not in boxes or image_id not in splits:
            raise common.LayoutError(f"image id {image_id} of images.txt is missing from bounding_boxes.txt "
                                     "or train_test_split.txt")
        relative = Path(images[image_id][0])
        box = tuple(float(v) for v in boxes[image_id])
        items.append((splits[image_id], relative.stem, files["images"] / relative, box))
        classes[relative.stem] = class_number(relative.parent.name)
    return items, classes


def prepare(argv=None) -> int:
    """Parse the options, read the annotation files and make the joint images."""
    args = common.build_parser("cub", __doc__, margin=0.1).parse_args(argv)
    common.check_args(args)
    items, classes = make_items(find_layout(Path(args.root)))
    crop_info = common.box_crop_info(args.margin)
    extra = {"split_rule": f"official train/test; every {VAL_EVERY}th training image (id order) → val"}
    crop = functools.partial(common.crop_square, margin=args.margin)

    def finish(out: Path, names: dict[str, list[str]]) -> None:  # before the manifest: see common.run
        for split, done in names.items():
            common.write_labels(out, split, ["class"], {n: [classes[n]] for n in done})

    status, _ = common.run("cub", items, args, crop, crop_info, extra, finish)
    return status


def main(argv=None) -> int:
    """Entry point: returns the exit status (0 ok, 1 some photos unreadable, 2 layout error)."""
    return common.main_wrapper(prepare, argv)


if __name__ == "__main__":
    sys.exit(main())
