"""Shared machinery of the data scripts: official download → folders of joint PNGs.

Each ``prepare_*.py`` script parses its dataset's annotation files into a list of **items**
``(split, out_name, source, box)`` and calls :func:`run`, which for every item

1. skips it if ``OUT/split/out_name.png`` already exists (so an interrupted run resumes),
2. reads the source photo (a file, or a member of a zip archive) as RGB,
3. crops a square around ``box`` (:func:`square_box`) and resizes it to 64×64 with area
   averaging (the sketch parameters are tuned for 64 px),
4. makes the joint image ``[sketch | photo]`` with :func:`cgan_minimal.data.make_joint`
   (64×128, or 32×64 with ``--size 32``), and
5. writes it atomically (:func:`write_png`): a file named ``*.png`` is always complete.

Before the first image it writes an unfinished ``OUT/manifest.json`` (``"finished": false``, with
the dataset, size and style that a resumed run must match) and removes old ``labels.csv`` files;
after the last image, the script's ``finish`` step writes the labels, and only then is the full
manifest written, with ``"finished": true``. Every file is written to a hidden temporary name
beside it and renamed (:func:`cgan_minimal.utils.atomic_path`), so no file is ever half-written,
and a folder whose manifest does not say ``"finished": true`` is a run that stopped midway.

A missing or wrong layout raises :class:`LayoutError`; ``main`` of each script prints it (as it
does an OSError, e.g. an OUT it cannot write) and exits with status 2. An unreadable source photo does not stop the run: it is counted as failed,
listed in the manifest and on stderr at the end, and the script exits with status 1.
Nothing is ever downloaded.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import multiprocessing
import os
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from cgan_minimal.data import make_joint
from cgan_minimal.utils import atomic_path
from cgan_minimal.xdog import STYLES

SCRIPT_VERSION = "1.0"
SPLITS = ("train", "val", "test")
SKETCH_RESOLUTION = 64  # photos are sketched at this side, then the joint image is resized to --size
READ_ERRORS = (OSError, ValueError, KeyError, zipfile.BadZipFile, cv2.error)


class LayoutError(Exception):
    """The dataset is not where, or not how, the script expects it (exit status 2)."""


# ---------------------------------------------------------------- command line
def build_parser(dataset: str, description: str, margin: float | None = None) -> argparse.ArgumentParser:
    """The options every script shares; ``margin`` (a default) adds ``--margin`` for box crops."""
    p = argparse.ArgumentParser(
        prog=f"prepare_{dataset}.py", description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--root", required=True, help="the unpacked official download (see data_scripts/README.md)")
    p.add_argument("--out", required=True, help="output folder: OUT/{train,val,test}/*.png and OUT/manifest.json")
    p.add_argument("--size", type=int, choices=[32, 64], default=64,
                   help="side of each half: 64 → 64×128 joint images (preset paper), 32 → 32×64 (cpu, tiny)")
    p.add_argument("--style", choices=list(STYLES), default="xdog", help="sketch style (default %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="at most N images per split (quick tries)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                   help="parallel processes (default %(default)s)")
    if margin is not None:
        p.add_argument("--margin", type=float, default=margin,
                       help="extra room around the box on each side, as a fraction of its longer side "
                            "(default %(default)s)")
    return p


def check_args(args: argparse.Namespace) -> None:
    """Reject option values argparse cannot check by itself."""
    if args.limit is not None and args.limit < 1:
        raise LayoutError(f"--limit must be >= 1, got {args.limit}")
    if args.workers < 1:
        raise LayoutError(f"--workers must be >= 1, got {args.workers}")
    if getattr(args, "margin", 0.0) < 0:
        raise LayoutError(f"--margin must be >= 0, got {args.margin}")


def main_wrapper(run_script, argv=None) -> int:
    """Call ``run_script(argv)``; print a :class:`LayoutError` to stderr and return 2 instead of a traceback."""
    try:
        return run_script(argv)
    except (LayoutError, OSError) as e:  # OSError: e.g. OUT cannot be written
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130


# ---------------------------------------------------------------- finding the files
def locate(root: Path, name: str, subfolders=("",)) -> Path | None:
    """The first of ``root/sub/name`` for ``sub`` in ``subfolders`` that exists, else None.

    A folder ``name`` that holds a folder of the same name (as some mirrors unpack) is stepped into.
    """
    for sub in subfolders:
        path = root / sub / name
        if path.exists():
            if path.is_dir() and (path / name).is_dir():
                path = path / name
            return path
    return None


def require(root: Path, found: dict[str, Path | None], help_text: str) -> dict[str, Path]:
    """Check the layout: ``found`` maps each expected file to where it was found (or None).

    Nothing found (or no root): the error says where to get the data (``help_text``). Some files
    found: the error names the missing ones.
    """
    missing = [name for name, path in found.items() if path is None]
    if not root.is_dir():
        raise LayoutError(f"{root} does not exist.\n{help_text}")
    if len(missing) == len(found):
        raise LayoutError(f"{root} holds none of {', '.join(found)}.\n{help_text}")
    if missing:
        raise LayoutError(f"{root} lacks {', '.join(missing)} (found {', '.join(n for n in found if found[n])}).\n{help_text}")
    return found


def read_text(path: Path) -> str:
    """A text annotation file as UTF-8 (a leading BOM is dropped); other bytes: a LayoutError with the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise LayoutError(f"{path}, line {line}: byte 0x{data[e.start]:02x} is not UTF-8 text; "
                          "is this the right file?") from None


def numbered_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, whitespace-separated fields) of each non-empty line of a text annotation file."""
    lines = read_text(path).split("\n")
    return [(number, line.split()) for number, line in enumerate(lines, start=1) if line.strip()]


def check_items(items: list[tuple]) -> None:
    """Every split is known and no two items of a split share an output name."""
    seen = set()
    for split, name, _, _ in items:
        if split not in SPLITS:
            raise LayoutError(f"unknown split {split!r} for {name}")
        if (split, name) in seen:
            raise LayoutError(f"two source images map to {split}/{name}.png; output names must be unique")
        seen.add((split, name))


def limit_items(items: list[tuple], limit: int | None) -> list[tuple]:
    """The first ``limit`` items of each split (all if ``limit`` is None), in the given order."""
    if limit is None:
        return list(items)
    kept, count = [], dict.fromkeys(SPLITS, 0)
    for item in items:
        if count[item[0]] < limit:
            kept.append(item)
            count[item[0]] += 1
    return kept


# ---------------------------------------------------------------- one image
_open_zips: dict[tuple[int, str], zipfile.ZipFile] = {}  # per process (a forked copy shares the file offset)


def read_image(source) -> np.ndarray:
    """A source photo as uint8 RGB (H, W, 3): ``source`` is a path, or ``(zip_path, member)``."""
    if isinstance(source, tuple):
        zip_path, member = source
        key = (os.getpid(), zip_path)  # opened once per process: reading a big archive's index is slow
        if key not in _open_zips:
            _open_zips[key] = zipfile.ZipFile(zip_path)
        data = np.frombuffer(_open_zips[key].read(member), np.uint8)
        where = f"{zip_path}:{member}"
    else:
        data, where = np.fromfile(str(source), np.uint8), str(source)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f"{where} could not be decoded as an image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def square_box(x: float, y: float, w: float, h: float, W: int, H: int, margin: float = 0.0) -> tuple[int, int, int]:
    """A square crop ``(x0, y0, side)`` around the box ``(x, y, w, h)`` that lies inside a W×H image.

    side = max(w, h) · (1 + 2·margin), centred on the box; shrunk to min(W, H) if larger, then
    shifted (not shrunk further) so that 0 ≤ x0, x0 + side ≤ W and likewise for y.
    """
    if w <= 0 or h <= 0:
        raise ValueError(f"empty box (x={x}, y={y}, w={w}, h={h})")
    side = int(round(max(w, h) * (1 + 2 * margin)))
    side = max(1, min(side, W, H))
    x0 = int(round(x + w / 2 - side / 2))
    y0 = int(round(y + h / 2 - side / 2))
    x0 = min(max(x0, 0), W - side)
    y0 = min(max(y0, 0), H - side)
    return x0, y0, side


def box_crop_info(margin: float, **more: str) -> dict:
    """How :func:`square_box` crops, for the manifest (CUB and Cars)."""
    return {"rule": "square around the bounding box, kept inside the image", "margin": margin,
            "side": "max(w, h) * (1 + 2 * margin), at most min(W, H)", **more}


def crop_square(image: np.ndarray, box, margin: float = 0.0) -> np.ndarray:
    """The :func:`square_box` crop of ``image`` around ``box = (x, y, w, h)``."""
    H, W = image.shape[:2]
    x0, y0, side = square_box(*box, W, H, margin)
    return image[y0:y0 + side, x0:x0 + side]


def joint_image(photo: np.ndarray, size: int, style: str) -> np.ndarray:
    """A square RGB photo → uint8 joint image (size, 2·size, 3), sketch on the left."""
    photo = cv2.resize(photo, (SKETCH_RESOLUTION, SKETCH_RESOLUTION), interpolation=cv2.INTER_AREA)
    return make_joint(photo, size, style)


def write_png(path: Path, image_rgb: np.ndarray) -> None:
    """Write an RGB image as PNG atomically: a hidden temporary file in the same folder, then rename."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode {path}")
    with atomic_path(path) as tmp:  # a hidden .NAME.tmpPID.png: load_folder ignores it
        tmp.write_bytes(encoded.tobytes())


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as JSON atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def process_item(item: tuple, out: Path, size: int, style: str, crop) -> tuple[str, str, str]:
    """Make one joint PNG. Returns ``(split, name, status)``, status "written", "skipped" or "failed: why"."""
    split, name, source, box = item
    target = out / split / f"{name}.png"
    if target.exists():
        return split, name, "skipped"
    try:
        photo = crop(read_image(source), box)
        write_png(target, joint_image(photo, size, style))
    except READ_ERRORS as e:
        return split, name, f"failed: {e}"
    return split, name, "written"


# ---------------------------------------------------------------- the whole dataset
def _init_worker() -> None:
    """Worker processes run one OpenCV thread each: the parallelism is across images."""
    cv2.setNumThreads(1)


def parallel_map(fn, items: list, workers: int, desc: str):
    """Yield ``fn(item)`` for every item, in any order, with a progress bar; ``workers`` processes."""
    bar = tqdm(total=len(items), desc=desc, unit="img", mininterval=1.0, file=sys.stderr)
    try:
        if workers == 1 or len(items) < 2:
            results = map(fn, items)
            yield from _counted(results, bar)
        else:
            # "spawn": a forked child can inherit locks held by the parent's threads (torch, tqdm) and hang
            with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
                yield from _counted(pool.imap_unordered(fn, items, chunksize=16), bar)
    finally:
        bar.close()


def _counted(results, bar):
    """Pass results through, advancing the progress bar."""
    for r in results:
        bar.update()
        yield r


def remove_stale_temporaries(folder: Path) -> None:
    """Delete hidden ``.NAME.tmpPID.*`` files an interrupted run may have left (they are never complete)."""
    for pattern in (".*.tmp*.png", ".*.tmp*.csv", ".*.tmp*.json", ".*.tmp*.txt"):
        for tmp in folder.glob(pattern):
            tmp.unlink(missing_ok=True)


def check_same_options(out: Path, dataset: str, args: argparse.Namespace) -> None:
    """Refuse to resume into a folder made from another dataset, size or style (it would mix them)."""
    path = out / "manifest.json"
    if not path.exists():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:  # also UnicodeDecodeError
        raise LayoutError(f"{path} is not a manifest these scripts wrote ({e}); use another --out") from None
    if not isinstance(old, dict):
        raise LayoutError(f"{path} is not a manifest these scripts wrote; use another --out")
    for key, new in (("dataset", dataset), ("size", args.size), ("style", args.style)):
        if old.get(key) != new:
            raise LayoutError(f"{out} was made with {key} {old.get(key)!r}, not {new!r}; use another --out")


def start_output(out: Path, dataset: str, args: argparse.Namespace) -> None:
    """Make the split folders; mark OUT unfinished (with the options a resume must match); drop old labels."""
    for split in SPLITS:
        (out / split).mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out / split)
    remove_stale_temporaries(out)
    write_json(out / "manifest.json", {"dataset": dataset, "size": args.size, "style": args.style,
                                       "finished": False, "script_version": SCRIPT_VERSION})
    for split in SPLITS:
        (out / split / "labels.csv").unlink(missing_ok=True)  # written again by ``finish``, for this run


def run(dataset: str, items: list[tuple], args: argparse.Namespace, crop, crop_info: dict,
        extra: dict | None = None, finish=None) -> tuple[int, dict]:
    """Make the joint PNGs of ``items`` under ``args.out`` and write ``OUT/manifest.json``.

    ``crop(image, box)`` returns the square photo; ``crop_info`` describes it for the manifest.
    ``finish(out, names)``, if given, writes the labels once the images are made (``names``: the
    sorted output names per split); the finished manifest is written after it, last of all.
    Returns ``(exit status, manifest)``: 0, or 1 if some source photos could not be read.
    """
    check_items(items)
    items = limit_items(items, args.limit)
    out = Path(args.out)
    check_same_options(out, dataset, args)
    start_output(out, dataset, args)
    fn = functools.partial(process_item, out=out, size=args.size, style=args.style, crop=crop)
    done = {s: [] for s in SPLITS}
    skipped = dict.fromkeys(SPLITS, 0)
    failed = []
    for split, name, status in parallel_map(fn, items, args.workers, desc=dataset):
        if status.startswith("failed"):
            failed.append({"split": split, "name": name, "error": status[len("failed: "):]})
            continue
        done[split].append(name)
        skipped[split] += status == "skipped"
    names = {s: sorted(done[s]) for s in SPLITS}
    if finish is not None:
        finish(out, names)
    manifest = {
        "dataset": dataset,
        "source_root": str(Path(args.root).resolve()),
        "style": args.style,
        "size": args.size,
        "joint_shape": [args.size, 2 * args.size, 3],
        "sketch_resolution": SKETCH_RESOLUTION,
        "crop": crop_info,
        "limit": args.limit,
        "counts": {s: len(done[s]) for s in SPLITS},
        "written": {s: len(done[s]) - skipped[s] for s in SPLITS},
        "skipped": {s: skipped[s] for s in SPLITS},
        "skipped_total": sum(skipped.values()),
        "failed": sorted(failed, key=lambda f: (f["split"], f["name"])),
        "script_version": SCRIPT_VERSION,
        **(extra or {}),
        "finished": True,
    }
    write_json(out / "manifest.json", manifest)  # last: the folder is complete
    report(out, manifest)
    manifest["names"] = names  # for the caller; not saved
    return (1 if failed else 0), manifest


def report(out: Path, manifest: dict) -> None:
    """One summary line on stdout; the failed photos, if any, on stderr."""
    counts = ", ".join(f"{s} {manifest['counts'][s]}" for s in SPLITS)
    print(f"{out}: {counts} joint images ({manifest['skipped_total']} already done)")
    failed = manifest["failed"]
    if failed:
        print(f"error: {len(failed)} source photos could not be used:", file=sys.stderr)
        for f in failed[:20]:
            print(f"  {f['split']}/{f['name']}: {f['error']}", file=sys.stderr)
        if len(failed) > 20:
            print(f"  … and {len(failed) - 20} more (all listed in {out / 'manifest.json'})", file=sys.stderr)


def write_labels(out: Path, split: str, header: list[str], rows: dict[str, list]) -> None:
    """Write ``OUT/split/labels.csv`` atomically: columns ``file,<header>``, one row per written image,
    sorted; the csv module quotes a field that holds a comma or a quote."""
    with atomic_path(out / split / "labels.csv") as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["file", *header])
            writer.writerows([f"{name}.png", *rows[name]] for name in sorted(rows))
