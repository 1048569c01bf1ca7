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

**Checks**, before anything is written (a LayoutError naming the file and line, exit status 2):
both files are UTF-8 text; a partition entry names a file inside the image folder (or archive),
never an absolute path or one that leads out of it; the attribute file's first line is the number
of images and matches the lines that follow, its attribute names hold no comma or quote, every
value is 1 or -1, and every image of the partition has a line.

Output names keep the source stem: 000001.jpg → OUT/train/000001.png.
"""

from __future__ import annotations

import os
import shutil
import sys
import zipfile
from pathlib import Path, PurePosixPath

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
ATTRIBUTE_VALUES = {"1": 1, "-1": 0}


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


def read_partition(path: Path) -> list[tuple[int, str, str]]:
    """(line number, file name, split) for each line "000001.jpg 0" of list_eval_partition.txt."""
    entries = []
    for number, fields in common.numbered_lines(path):
        if len(fields) != 2 or fields[1] not in SPLIT_CODES:
            raise common.LayoutError(f"{path}, line {number}: expected 'NAME.jpg 0|1|2', got {' '.join(fields)!r}")
        entries.append((number, fields[0], SPLIT_CODES[fields[1]]))
    return entries


def read_count(path: Path, number: int, fields: list[str]) -> int:
    """The number of images on the first line of list_attr_celeba.txt."""
    if len(fields) != 1 or not (fields[0].isascii() and fields[0].isdigit()):
        raise common.LayoutError(f"{path}, line {number}: expected the number of images, got {' '.join(fields)!r}")
    return int(fields[0])


def check_attribute_names(path: Path, number: int, names: list[str]) -> None:
    """Attribute names become labels.csv columns: no comma, no quote, no name twice."""
    for name in names:
        if "," in name or '"' in name:
            raise common.LayoutError(f"{path}, line {number}: attribute name {name!r} holds a comma or a quote, "
                                     "which a labels.csv column cannot")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise common.LayoutError(f"{path}, line {number}: attribute names {', '.join(twice)} appear twice")


def attribute_row(path: Path, number: int, fields: list[str], names: list[str]) -> list[int]:
    """The 0/1 values of one image line "000001.jpg -1 1 …" (1 → 1, -1 → 0)."""
    if len(fields) != len(names) + 1:
        raise common.LayoutError(f"{path}, line {number}: expected a file name and {len(names)} values, "
                                 f"got {len(fields)} fields")
    for name, v in zip(names, fields[1:]):
        if v not in ATTRIBUTE_VALUES:
            raise common.LayoutError(f"{path}, line {number}: {name} of {fields[0]} is {v!r}, expected 1 or -1")
    return [ATTRIBUTE_VALUES[v] for v in fields[1:]]


def read_attributes(path: Path) -> tuple[list[str], dict[str, list[int]]]:
    """Attribute names and, per file stem, the 0/1 values of list_attr_celeba.txt (-1 → 0)."""
    lines = common.numbered_lines(path)
    if len(lines) < 2:
        raise common.LayoutError(f"{path}: expected a count line and a line of attribute names")
    count = read_count(path, *lines[0])
    names = lines[1][1]
    check_attribute_names(path, *lines[1])
    values, seen = {}, {}
    for number, fields in lines[2:]:
        row, stem = attribute_row(path, number, fields, names), Path(fields[0]).stem
        if stem in seen:
            raise common.LayoutError(f"{path}, line {number}: {fields[0]} again (first on line {seen[stem]})")
        values[stem], seen[stem] = row, number
    if count != len(values):
        raise common.LayoutError(f"{path}, line {lines[0][0]}: the count line says {count} images, "
                                 f"but {len(values)} image lines follow")
    return names, values


def check_labelled(attr_file: Path, values: dict, partition_file: Path, partition: list) -> None:
    """Every image of the partition has a line in the attribute file (else labels.csv would lack it)."""
    for number, f, _ in partition:
        if Path(f).stem not in values:
            raise common.LayoutError(f"{partition_file}, line {number}: {f} has no line in {attr_file}")


def inside(name: str, folder: Path | None) -> bool:
    """Whether a partition entry names a file inside ``folder`` (resolved, links followed) or, for the
    archive (``folder`` None), is a relative path without '..'."""
    if folder is None:
        entry = PurePosixPath(name)
        return not entry.is_absolute() and ".." not in entry.parts
    if "/" not in name and name not in (".", "..") and not os.path.islink(folder / name):
        return True  # the usual "000001.jpg": one lstat instead of a full resolve
    target = (folder / name).resolve()
    return target != folder and target.is_relative_to(folder)


def check_inside(images: Path, partition_file: Path, partition: list) -> None:
    """Refuse partition entries that are absolute paths or lead out of the image folder or archive."""
    folder = images.resolve() if images.is_dir() else None
    for number, f, _ in partition:
        if not inside(f, folder):
            raise common.LayoutError(f"{partition_file}, line {number}: {f!r} is not a file inside {images}")


def make_items(images: Path, partition: list[tuple[int, str, str]]) -> list[tuple]:
    """(split, stem, source, None) per image; a source is a path, or (zip, member) in the archive."""
    if images.is_dir():
        return [(split, Path(f).stem, images / f, None) for _, f, split in partition]
    with zipfile.ZipFile(images) as z:
        members = {Path(m).name: m for m in z.namelist() if not m.endswith("/")}
    # a file missing from the archive is looked up under its expected name and reported as failed
    return [(split, Path(f).stem, (str(images), members.get(f, f"img_align_celeba/{f}")), None)
            for _, f, split in partition]


def write_labels(out: Path, names: dict[str, list[str]], attr_file: Path, attributes: tuple) -> None:
    """A copy of list_attr_celeba.txt in OUT/ and OUT/{split}/labels.csv for the images made."""
    header, values = attributes
    with atomic_path(out / "list_attr_celeba.txt") as tmp:  # always complete
        shutil.copyfile(attr_file, tmp)
    for split, done in names.items():
        common.write_labels(out, split, header, {n: values[n] for n in done})


def prepare(argv=None) -> int:
    """Parse the options, read the annotation files and make the joint images."""
    args = common.build_parser("celeba", __doc__).parse_args(argv)
    common.check_args(args)
    images, partition_file, attr_file = find_layout(Path(args.root))
    partition = read_partition(partition_file)
    check_inside(images, partition_file, partition)
    attributes = read_attributes(attr_file) if attr_file else None
    if attributes:
        check_labelled(attr_file, attributes[1], partition_file, partition)
    try:
        items = make_items(images, partition)
    except zipfile.BadZipFile as e:
        raise common.LayoutError(f"{images} is not a valid zip archive ({e}); download it again") from None
    crop_info = {"rule": "fixed centre square (DCGAN-tensorflow)", "box_xywh": list(FACE_BOX),
                 "reference_wh": list(REFERENCE_SIZE), "other_sizes": "box scaled by min(W/178, H/218), centred"}
    extra = {"images": str(images), "labels": "list_attr_celeba.txt" if attributes else None}
    finish = (lambda out, names: write_labels(out, names, attr_file, attributes)) if attributes else None
    status, _ = common.run("celeba", items, args, crop_face, crop_info, extra, finish)
    return status


def main(argv=None) -> int:
    """Entry point: returns the exit status (0 ok, 1 some photos unreadable, 2 layout error)."""
    return common.main_wrapper(prepare, argv)


if __name__ == "__main__":
    sys.exit(main())
