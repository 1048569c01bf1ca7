"""Joint images, masks and datasets (SPEC §1–2; book chapter "The joint representation").

Contextual GAN never sees a sketch and a photo as two inputs. It sees one **joint image**
``[A | B]``: the sketch A on the left, the photo B on the right, each a square of side ``s``,
so a joint image is ``s × 2s`` (paper: 64 × 128). Every function in the library uses this one
convention through :func:`join` and :func:`split`.

Completion needs a binary **mask** M that is 1 on the known half:

    sketch → photo:  M = [1 | 0]        photo → sketch:  M = [0 | 1]

Pixels are uint8 in files and arrays, and float in [-1, 1] in tensors (the range of the
generator's tanh); :func:`to_tensor` and :func:`to_image` convert.

Datasets are uint8 arrays of joint images, (N, s, 2s, 3) RGB, in memory:
:func:`faces_dataset` renders the embedded faces (no download), :func:`load_folder` reads a
folder of joint PNGs (the format the data scripts write).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from . import faces, xdog
from .xdog import STYLES, sketch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
METADATA_FILES = ("manifest.json", "labels.csv")  # allowed beside the images in a dataset folder
HELD_OUT_START = 1_000_000  # embedded faces from this index on are never used for training
REFERENCE_START = HELD_OUT_START + 500_000  # held-out faces that realism measures compare with (not test sketches)


# ---------------------------------------------------------------- the joint-image convention
def _width_axis(x: np.ndarray | torch.Tensor) -> int:
    """Tensors are (..., C, H, W); numpy images are (H, W), (H, W, C) or (N, H, W, C)."""
    if isinstance(x, torch.Tensor):
        return x.ndim - 1
    return 1 if x.ndim in (2, 3) else 2


def join(sketch, photo):
    """The joint image ``[sketch | photo]``: the two halves side by side, sketch on the left.

    Works on torch tensors (..., C, H, W) and numpy images (H, W[, C]) or (N, H, W, C).
    Explained in the chapter "The joint representation".
    """
    if sketch.shape != photo.shape:
        raise ValueError(f"join: sketch {tuple(sketch.shape)} and photo {tuple(photo.shape)} differ in shape")
    axis = _width_axis(sketch)
    if isinstance(sketch, torch.Tensor):
        return torch.cat([sketch, photo], dim=axis)
    return np.concatenate([sketch, photo], axis=axis)


def split(joint):
    """The inverse of :func:`join`: ``(sketch, photo)``, the left and right halves."""
    axis = _width_axis(joint)
    width = joint.shape[axis]
    if width % 2:
        raise ValueError(f"split: a joint image has an even width, got shape {tuple(joint.shape)}")
    index = [slice(None)] * joint.ndim
    index[axis] = slice(0, width // 2)
    left = joint[tuple(index)]
    index[axis] = slice(width // 2, width)
    return left, joint[tuple(index)]


def mask(known: str, height: int, width: int, device=None) -> torch.Tensor:
    """Binary mask M, (1, 1, height, width) float: 1 on the known half of a joint image.

    ``known="sketch"`` (sketch → photo, the paper's task) marks the left half, ``known="photo"``
    (photo → sketch, the other direction) the right half. Explained in "The joint representation".
    """
    if known not in ("sketch", "photo"):
        raise ValueError(f"mask: known must be 'sketch' or 'photo', got {known!r}")
    ones = torch.ones(1, 1, height, width // 2, device=device)
    zeros = torch.zeros_like(ones)
    return join(ones, zeros) if known == "sketch" else join(zeros, ones)


# ---------------------------------------------------------------- pixels ↔ tensors
def to_tensor(images: np.ndarray, device=None) -> torch.Tensor:
    """uint8 images (N, H, W, 3) or (H, W, 3) → float tensor (N, 3, H, W) in [-1, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"to_tensor expects uint8 (N, H, W, 3) images, got {images.dtype} {images.shape}")
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2)
    return x.float().div_(127.5).sub_(1.0)


def to_image(x: torch.Tensor) -> np.ndarray:
    """Float tensor (N, 3, H, W) or (3, H, W) in [-1, 1] → uint8 images (N, H, W, 3)."""
    if x.ndim == 3:
        x = x[None]
    x = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


# ---------------------------------------------------------------- datasets
@dataclass
class JointData:
    """A dataset of joint images in memory: ``images`` uint8 (N, s, 2s, 3) and per-image labels."""

    images: np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        """Side ``s`` of one half."""
        return self.images.shape[1]


def joint_from_sketch(sketch_image: np.ndarray, photo: np.ndarray, size: int) -> np.ndarray:
    """uint8 joint image [sketch | photo] from a float (H, W) sketch in [0, 1] and a uint8 RGB photo
    of the same side, resized to ``size × 2·size`` with area averaging."""
    s = np.round(np.clip(sketch_image, 0, 1) * 255).astype(np.uint8)
    joint = join(np.repeat(s[:, :, None], 3, axis=2), photo)
    if joint.shape[0] != size:
        joint = cv2.resize(joint, (2 * size, size), interpolation=cv2.INTER_AREA)
    return joint


def make_joint(photo: np.ndarray, size: int, style: str = "xdog", **params: float) -> np.ndarray:
    """uint8 joint image [sketch(photo) | photo], resized to ``size × 2·size`` with area averaging.

    ``photo`` is a square uint8 RGB image at the resolution the sketch parameters are tuned for
    (64 px); the sketch is drawn there (``params`` override the style's parameters, e.g.
    ``eps=-0.03``) and the joint image is then resized.
    """
    return joint_from_sketch(sketch(photo, style, **params), photo, size)


def perturb_sketches(images: np.ndarray, strength: float, seed: int = 0, cfg: xdog.PerturbConfig = xdog.PerturbConfig()) -> np.ndarray:
    """Joint images (N, s, 2s, 3) uint8 with each sketch half redrawn "poorly" by :func:`xdog.perturb`.

    The sketch is enlarged to 64 px (the scale :class:`xdog.PerturbConfig` is given at),
    perturbed there with seed ``(seed, i)`` for image ``i`` (``cfg`` sets how far each distortion
    goes), and shrunk back with area averaging; the photo half is untouched. Explained in "Contextual GAN vs pix2pix".
    """
    if strength == 0:
        return images.copy()
    sketches, photos = split(images)
    s = images.shape[1]
    out = np.empty_like(images)
    for i, (sk, photo) in enumerate(zip(sketches, photos)):
        gray = sk[:, :, 0].astype(np.float32) / 255
        big = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_LINEAR) if s != 64 else gray
        drawn = xdog.perturb(big, strength, seed=(seed, i), cfg=cfg)
        out[i] = join(np.repeat(np.round(cv2.resize(drawn, (s, s), interpolation=cv2.INTER_AREA) * 255).astype(np.uint8)[:, :, None], 3, 2), photo)
    return out


def parse_styles(style: str) -> list[str]:
    """``"xdog"`` or a comma-separated mix such as ``"xdog,photocopy,fdog"``, checked."""
    styles = [s.strip() for s in style.split(",") if s.strip()]
    unknown = [s for s in styles if s not in STYLES]
    if not styles or unknown:
        raise ValueError(f"unknown sketch style {style!r}; choose from {', '.join(STYLES)} (or a comma-separated mix)")
    return styles


def faces_dataset(n: int, size: int = 64, seed: int = 0, start: int = 0, style: str = "xdog") -> JointData:
    """The embedded dataset: ``n`` procedurally generated faces with their sketches.

    Faces are rendered at 64 px (see :mod:`cgan_minimal.faces`), sketched at 64 px and resized
    to ``size``. Face ``i`` depends only on ``(seed, start + i)``; training uses indices from 0,
    held-out sets start at :data:`HELD_OUT_START`. Labels (glasses, beard, …) come along.
    ``style`` is a sketch style or a comma-separated mix; in a mix face ``i`` gets style
    ``i mod len(mix)``. Explained in "The joint representation".
    """
    if n < 0:
        raise ValueError(f"faces_dataset: n must be >= 0, got {n}")
    styles = parse_styles(style)
    photos, labels = faces.render_faces(n, seed=seed, start=start)
    images = np.empty((n, size, 2 * size, 3), np.uint8)
    for i, photo in enumerate(photos):
        images[i] = make_joint(photo, size, styles[(start + i) % len(styles)])
    suffix = "" if style == "xdog" else f", style={style}"
    return JointData(images, labels, source=f"faces(seed={seed}, start={start}{suffix})")


def _image_files(folder: Path) -> list[Path]:
    """Image files of a dataset folder, sorted; a clear error for anything else in it."""
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder {folder} does not exist")
    files, subfolders = [], []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or p.name in METADATA_FILES:
            continue
        if p.is_dir():
            subfolders.append(p.name)
        elif p.suffix.lower() in IMAGE_SUFFIXES:
            files.append(p)
        else:
            raise ValueError(
                f"{p} is not an image (expected {', '.join(IMAGE_SUFFIXES)}); "
                "a dataset folder holds only joint images"
            )
    if not files:
        hint = f"; it has subfolders {', '.join(subfolders)}: pass one of them" if subfolders else ""
        raise ValueError(f"no images in dataset folder {folder}{hint}")
    return files


def read_joint(path: Path, size: int | None = None) -> np.ndarray:
    """Read one joint image file as uint8 RGB (s, 2s, 3), checking that it is one."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f"{path} could not be decoded as an image (corrupt or truncated file?)")
    h, w = image.shape[:2]
    if w != 2 * h:
        raise ValueError(f"{path} is {h}×{w}; a joint image (sketch | photo) is s×2s, e.g. 64×128")
    if size is not None and h != size:
        raise ValueError(f"{path} is {h}×{w}, but the preset needs {size}×{2 * size} joint images")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_folder(path: str | Path, size: int | None = None, limit: int | None = None) -> JointData:
    """Read a folder of joint PNGs (sketch left, photo right) into memory.

    ``size`` is the side each half must have (64 for the paper preset, 32 for cpu/tiny); every
    file is checked, and a wrong size, a corrupt file or a non-image file gives an error that
    names it. Explained in "The joint representation".
    """
    folder = Path(path)
    files = _image_files(folder)[:limit]
    first = read_joint(files[0], size)
    images = np.empty((len(files),) + first.shape, np.uint8)
    images[0] = first
    for i, f in enumerate(files[1:], start=1):
        images[i] = read_joint(f, first.shape[0])
    return JointData(images, read_labels(folder, files), source=str(folder))


def read_labels(folder: Path, files: list[Path]) -> dict[str, np.ndarray]:
    """The integer columns of ``folder/labels.csv`` (``file,<name>,…``; e.g. CelebA's attributes, −1/1)
    for ``files``, in their order. Labels are optional: {} when there is no labels.csv or it lacks
    a row for some file (e.g. the unlabelled test images of Stanford Cars); other columns are skipped."""
    path = folder / "labels.csv"
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    if any(p.name not in rows for p in files):
        return {}
    labels = {}
    for name in next(iter(rows.values()), {}):
        try:
            labels[name] = np.array([int(rows[p.name][name]) for p in files], np.int64)
        except (TypeError, ValueError):  # "file" itself, or a column that is not a class label
            continue
    return labels


def save_folder(data: JointData | np.ndarray, path: str | Path) -> list[Path]:
    """Write joint images as ``000000.png, 000001.png, …`` in ``path`` (the :func:`load_folder` format)."""
    images = data.images if isinstance(data, JointData) else data
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, image in enumerate(images):
        target = folder / f"{i:06d}.png"
        tmp = target.with_name(f".{target.stem}.tmp.png")  # hidden: never read as data
        if not cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {tmp}")
        tmp.replace(target)
        written.append(target)
    return written
