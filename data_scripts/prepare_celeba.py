"""CelebA → joint PNGs ``[sketch | photo]`` in OUT/{train,val,test}/.

Official page: https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html ("Align&Cropped Images").
Expected layout under ``--root`` (each file may also sit in the Img/, Eval/ or Anno/ subfolder,
as in the official download folders)::

    ROOT/
      img_align_celeba/000001.jpg …   a folder of the aligned JPGs, OR
      img_align_celeba.zip            the official archive (read in place, never extracted)
      list_eval_partition.txt         "000001.jpg 0" — 0 train, 1 val, 2 test
      list_attr_celeba.txt            optional: 40 binary attributes per image

**Crop**: a fixed square centre box around the aligned face, as in DCGAN-tensorflow's CelebA
preprocessing: on the 178×218 (W×H) aligned images the 108×108 box x 35..143, y 55..163. An
image of another size gets the box scaled by min(W/178, H/218), still centred. The crop is
resized to 64×64 (area averaging), sketched there, and the joint image resized to ``--size``.

**Split**: the official one, list_eval_partition.txt (162 770 / 19 867 / 19 962 images).

**Labels**: if list_attr_celeba.txt is there it is copied to OUT/, and OUT/{split}/labels.csv
gets the columns ``file,<40 attribute names>`` as 0/1 for the images written.

Output names keep the source stem: 000001.jpg → OUT/train/000001.png.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import common
from cgan_minimal.utils import atomic_path

HELP = """Get CelebA from its official page, https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html
("Align&Cropped Images"): download img_align_celeba.zip and, from the Eval folder,
list_eval_partition.txt (optionally Anno/list_attr_celeba.txt). Put them in ROOT as
  ROOT/img_align_celeba.zip  (or the unzipped folder ROOT/img_align_celeba/000001.jpg …)
  ROOT/list_eval_partition.txt
  ROOT/list_attr_celeba.txt  (optional)
and pass --root ROOT. See data_scripts/README.md."""

SUBFOLDERS = ("", "Img", "Eval", "Anno")
REFERENCE_SIZE = (178, 218)  # W, H of the aligned CelebA images
FACE_BOX = (35, 55, 108, 108)  # x, y, w, h on the reference size: the 108×108 centre box
SPLIT_CODES = {"0": "train", "1": "val", "2": "test"}


def face_box(W: int, H: int) -> tuple[float, float, float, float]:
    """The centre face box (x, y, w, h) of a W×H image: FACE_BOX, scaled by min(W/178, H/218)."""
    side = FACE_BOX[2] * min(W / REFERENCE_SIZE[0], H / REFERENCE_SIZE[1])
    return (W - side) / 2, (H - side) / 2, side, side


def crop_face(image, box=None):
    """The square face crop of an aligned CelebA image (``box`` is unused: the box is fixed)."""
    H, W = image.shape[:2]
    return common.crop_square(image, face_box(W, H), margin=0.0)


def find_layout(root: Path) -> tuple[object, Path, Path | None]:
    """(images: a folder Path or a zip Path, partition file, attribute file or None)."""
    folder = common.locate(root, "img_align_celeba", SUBFOLDERS)
    archive = common.locate(root, "img_align_celeba.zip", SUBFOLDERS)
    images = folder if folder is not None and folder.is_dir() else archive
    found = common.require(root, {
        "img_align_celeba/ or img_align_celeba.zip": images,
        "list_eval_partition.txt": common.locate(root, "list_eval_partition.txt", SUBFOLDERS),
    }, HELP)
    return images, found["list_eval_partition.txt"], common.locate(root, "list_attr_celeba.txt", SUBFOLDERS)


def read_partition(path: Path) -> list[tuple[str, str]]:
    """(file name, split) for each line "000001.jpg 0" of list_eval_partition.txt."""
    pairs = []
    for number, fields in enumerate(common.read_lines(path), start=1):
        if len(fields) != 2 or fields[1] not in SPLIT_CODES:
            raise common.LayoutError(f"{path}, line {number}: expected 'NAME.jpg 0|1|2', got {' '.join(fields)!r}")
        pairs.append((fields[0], SPLIT_CODES[fields[1]]))
    return pairs


def read_attributes(path: Path) -> tuple[list[str], dict[str, list[int]]]:
    """Attribute names and, per file stem, the 0/1 values of list_attr_celeba.txt (-1 → 0)."""
    lines = common.read_lines(path)
    if len(lines) < 2:
        raise common.LayoutError(f"{path}: expected a count line and a line of attribute names")
    names, values = lines[1], {}
    for number, fields in enumerate(lines[2:], start=3):
        if len(fields) != len(names) + 1:
            raise common.LayoutError(f"{path}, line {number}: expected a file name and {len(names)} values")
        values[Path(fields[0]).stem] = [1 if v == "1" else 0 for v in fields[1:]]
    return names, values


def make_items(images: Path, partition: list[tuple[str, str]]) -> list[tuple]:
    """(split, stem, source, None) per image; a source is a path, or (zip, member) in the archive."""
    if images.is_dir():
        return [(split, Path(f).stem, images / f, None) for f, split in partition]
    with zipfile.ZipFile(images) as z:
        members = {Path(m).name: m for m in z.namelist() if not m.endswith("/")}
    # a file missing from the archive is looked up under its expected name and reported as failed
    return [(split, Path(f).stem, (str(images), members.get(f, f"img_align_celeba/{f}")), None)
            for f, split in partition]


def prepare(argv=None) -> int:
    """Parse the options, read the annotation files and make the joint images."""
    args = common.build_parser("celeba", __doc__).parse_args(argv)
    common.check_args(args)
    images, partition_file, attr_file = find_layout(Path(args.root))
    try:
        attributes = read_attributes(attr_file) if attr_file else None
        items = make_items(images, read_partition(partition_file))
    except zipfile.BadZipFile as e:
        raise common.LayoutError(f"{images} is not a valid zip archive ({e}); download it again") from None
    crop_info = {"rule": "fixed centre square (DCGAN-tensorflow)", "box_xywh": list(FACE_BOX),
                 "reference_wh": list(REFERENCE_SIZE), "other_sizes": "box scaled by min(W/178, H/218), centred"}
    extra = {"images": str(images), "labels": "list_attr_celeba.txt" if attributes else None}
    status, manifest = common.run("celeba", items, args, crop_face, crop_info, extra)
    if attributes:
        names, values = attributes
        with atomic_path(Path(args.out) / "list_attr_celeba.txt") as tmp:  # always complete
            shutil.copyfile(attr_file, tmp)
        for split, done in manifest["names"].items():
            common.write_labels(Path(args.out), split, names, {n: values[n] for n in done if n in values})
    return status


def main(argv=None) -> int:
    """Entry point: returns the exit status (0 ok, 1 some photos unreadable, 2 layout error)."""
    return common.main_wrapper(prepare, argv)


if __name__ == "__main__":
    sys.exit(main())
