"""Joint images, masks and datasets (SPEC §1–2; book chapter "The joint representation").

Contextual GAN never sees a sketch and a photo as two inputs. It sees one **joint image**
``[A | B]``: the sketch A on the left, the photo B on the right, each a square of side ``s``,
so a joint image is ``s × 2s`` (paper: 64 × 128). Every function in the library uses this one
convention through :func:`join` and :func:`split`.

Completion needs a binary **mask** M that is 1 on the known half:

    sketch → photo:  M = [1 | 0]        photo → sketch:  M = [0 | 1]

Pixels are uint8 in files and arrays, and float in [-1, 1] in tensors (the range of the
generator's tanh); :func:`to_tensor` and :func:`to_image` convert.

Datasets are uint8 arrays of joint images, (N, s, 2s, 3) RGB: :func:`faces_dataset` renders
the embedded faces (no download) in memory, :func:`load_folder` reads a folder of joint PNGs
(the format the data scripts write). The first load of a folder also writes its decoded images
to a cache, ``FOLDER/.cgan_cache/joint.npy`` with a manifest ``joint.json`` of the files' names,
sizes and modification times; later loads memory-map it (``np.load(mmap_mode="c")``) as long as
the files are unchanged, so they take seconds and keep the images on disk until a batch reads
them: CelebA at 64×128 (160,000 training images, 4 GB as uint8; 16 GB as float32) trains on a
machine with less memory than that, since training turns one batch at a time into floats.

Image files are checked before they are decoded: :func:`image_header` reads the size from the
PNG, JPEG or BMP header (with Pillow), and a file of more than :data:`MAX_IMAGE_PIXELS` pixels is refused (a
small PNG can hold a huge image). :func:`read_image` then converts what it decodes to 8-bit RGB:
gray images are repeated into the three channels, 16-bit pixels are scaled to 8 bits, and
transparent pixels are composited on white, with a warning (for a sketch a transparent
background is paper).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import numbers
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
from PIL import Image
import numpy as np
import torch

from . import faces, utils, xdog
from .xdog import STYLES, sketch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
METADATA_FILES = ("manifest.json", "labels.csv")  # allowed beside the images in a dataset folder
HELD_OUT_START = 1_000_000  # embedded faces from this index on are never used for training
REFERENCE_START = HELD_OUT_START + 500_000  # held-out faces that realism measures compare with (not test sketches)
MAX_IMAGE_PIXELS = 2048 * 4096  # an image file with more pixels is refused before it is decoded (a joint image of 2048-px halves)


# ---------------------------------------------------------------- the joint-image convention
def _width_axis(x: np.ndarray | torch.Tensor, name: str) -> int:
    """Tensors are (..., C, H, W); numpy images are (H, W), (H, W, C) or (N, H, W, C)."""
    if isinstance(x, torch.Tensor):
        if x.ndim < 2:
            raise ValueError(f"{name}: a tensor image is (..., H, W), got shape {tuple(x.shape)}")
        return x.ndim - 1
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name}: expects a numpy array or a torch tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"{name}: a numpy image is (H, W), (H, W, C) or (N, H, W, C), got shape {x.shape}")
    return 1 if x.ndim in (2, 3) else 2


def join(sketch, photo):
    """The joint image ``[sketch | photo]``: the two halves side by side, sketch on the left.

    Works on torch tensors (..., C, H, W) and numpy images (H, W[, C]) or (N, H, W, C); the two
    halves must be of one kind and have the same shape and dtype (else a ValueError).
    Explained in the chapter "The joint representation".
    """
    axis = _width_axis(sketch, "join")
    _width_axis(photo, "join")
    if isinstance(sketch, torch.Tensor) != isinstance(photo, torch.Tensor):
        raise ValueError(f"join: sketch is a {type(sketch).__name__} and photo a {type(photo).__name__}; give two of one kind")
    if tuple(sketch.shape) != tuple(photo.shape):
        raise ValueError(f"join: sketch {tuple(sketch.shape)} and photo {tuple(photo.shape)} differ in shape")
    if sketch.dtype != photo.dtype:
        raise ValueError(f"join: sketch {sketch.dtype} and photo {photo.dtype} differ in dtype")
    if isinstance(sketch, torch.Tensor):
        if sketch.device != photo.device:
            raise ValueError(f"join: sketch on {sketch.device} and photo on {photo.device}")
        return torch.cat([sketch, photo], dim=axis)
    return np.concatenate([sketch, photo], axis=axis)


def split(joint):
    """The inverse of :func:`join`: ``(sketch, photo)``, the left and right halves."""
    axis = _width_axis(joint, "split")
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
    (photo → sketch, the other direction) the right half. ``height`` and ``width`` are whole
    numbers >= 1 and the width is even (else a ValueError). Explained in "The joint representation".
    """
    if known not in ("sketch", "photo"):
        raise ValueError(f"mask: known must be 'sketch' or 'photo', got {known!r}")
    for name, n in (("height", height), ("width", width)):
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"mask: {name} must be a whole number >= 1, got {n!r}")
    if width % 2:
        raise ValueError(f"mask: a joint image has an even width, got {height}×{width}")
    height, width = int(height), int(width)
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


def prepare_drawing(image: np.ndarray, size: int, style: str = "xdog", where="drawing",
                    margin: float = 0.05, stroke_width: float = 2.5) -> np.ndarray:
    """Your own drawing → a joint image [sketch | blank photo] like the training ones, uint8 (size, 2·size, 3).

    ``image`` is the drawing as :func:`read_image` gives it (uint8 RGB of any size), or a gray
    (H, W), RGB (H, W, 3) or RGBA (H, W, 4) array, uint8, uint16 or float in [0, 1]. The
    training sketches are XDoG lines drawn on a 64-px face and area-averaged to ``size``
    (:func:`make_joint`): dark, nearly binary strokes about 2.5 px wide at 64 px (φ = 200), on
    white paper, the face filling the square. The drawing is made alike, step by step:

    1. gray: RGBA is composited on white paper, RGB weighted as in :func:`xdog.to_gray`;
    2. paper: a drawing whose median is below 0.5 has a dark background and is inverted, so
       that lines are dark on light paper; the paper's shade is the median;
    3. ink: the pixels darker than halfway between the paper and the darkest pixel;
    4. frame: the bounding box of the ink, a ``margin`` (fraction of its longer side) added
       around it, centred on a white square (the aspect ratio is kept);
    5. resize: the ink map of that square is area-averaged to the grid the sketch styles are
       tuned at, g = max(64, size) px (linear interpolation when it is smaller than g);
    6. strokes: there, a pixel is ink where its coverage reaches half the largest coverage (so
       thin pen lines survive the averaging); the ink is thinned to its centre lines
       (skimage's ``skeletonize``) and redrawn ``stroke_width`` px wide (at 64 px, scaled with
       g), antialiased, so a thin pen and a thick marker both give the strokes XDoG gives;
       ``style="photocopy"`` (or a mix starting with it) then softens them by its Gaussian
       (:class:`xdog.PhotocopyConfig`, σ 0.6 px);
    7. size: area-averaged from g to ``size``, as :func:`make_joint` does, and joined with a
       white photo half (:func:`join`), which completion masks out.

    Filled areas become their centre lines (hatching and shading are not kept). ``where``
    names the drawing in errors: a ValueError for a drawing under 8 px on a side, one without
    lines (blank paper or all ink: no pixel 0.2 darker than the paper) and an array that is not
    an image. Explained in "Projection through back-propagation".
    """
    from skimage.morphology import skeletonize  # only here: the rest of the module does not need it

    if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
        raise ValueError(f"prepare_drawing: size must be a whole number >= 1, got {size!r}")
    soften = parse_styles(style)[0] == "photocopy"
    a = np.asarray(image)
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))):
        raise ValueError(f"{where}: a drawing is an (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA image, got shape {a.shape}")
    if a.dtype in (np.uint8, np.uint16):
        x = a.astype(np.float32) / np.iinfo(a.dtype).max
    elif np.issubdtype(a.dtype, np.floating) and a.size and np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1:
        x = a.astype(np.float32)
    else:
        raise ValueError(f"{where}: a drawing has uint8, uint16 or float pixels in [0, 1], got {a.dtype}")
    if min(x.shape[:2]) < 8:
        raise ValueError(f"{where} is {x.shape[0]}×{x.shape[1]} pixels: too small for a drawing (at least 8 px on each side)")
    # 1. gray (H, W) in [0, 1]
    if x.ndim == 3 and x.shape[2] == 4:
        x = x[:, :, :3] * x[:, :, 3:] + (1 - x[:, :, 3:])  # over white paper
    gray = xdog.to_gray(np.clip(x, 0, 1))  # (H, W): the luminance the sketch styles use
    # 2. dark background → inverted; the paper is the median shade
    median = float(np.median(gray))
    if median < 0.5:
        gray = 1 - gray
    paper, darkest = float(np.median(gray)), float(gray.min())
    if paper - darkest < 0.2:
        than = f"lighter than its dark background (median gray {median:.2f}, lightest {1 - darkest:.2f})" if median < 0.5 \
            else f"darker than its paper (median gray {median:.2f}, darkest {darkest:.2f})"
        raise ValueError(f"{where} has no lines: no pixel is 0.2 {than}; blank paper or all ink?")
    # 3. ink: (H, W) bool
    ink = gray < (paper + darkest) / 2
    # 4. the ink's bounding box with a margin, centred on a white square of side n
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    box = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    n = max(box.shape) + 2 * max(1, round(margin * max(box.shape)))
    square = np.zeros((n, n), np.float32)  # ink coverage: 1 = ink, 0 = paper
    top, left = (n - box.shape[0]) // 2, (n - box.shape[1]) // 2
    square[top : top + box.shape[0], left : left + box.shape[1]] = box
    # 5. to the sketch grid g × g
    g = max(64, int(size))
    coverage = cv2.resize(square, (g, g), interpolation=cv2.INTER_AREA if n > g else cv2.INTER_LINEAR)
    # 6. centre lines redrawn stroke_width px wide: paper = distance to the nearest centre line − half the width
    lines = skeletonize(coverage >= 0.5 * coverage.max())
    distance = cv2.distanceTransform((~lines).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    drawn = np.clip(distance - stroke_width * g / 64 / 2 + 0.5, 0, 1).astype(np.float32)  # (g, g), 1 = paper
    if soften:
        drawn = np.clip(xdog.blur(drawn, xdog.PhotocopyConfig().smooth * g / 64), 0, 1)
    # 7. area-averaged to size × size, and a white photo half
    drawn = cv2.resize(drawn, (size, size), interpolation=cv2.INTER_AREA) if g != size else drawn
    s = np.repeat(np.round(drawn * 255).astype(np.uint8)[:, :, None], 3, axis=2)  # (size, size, 3)
    return join(s, np.full_like(s, 255))


def perturb_sketches(images: np.ndarray, strength: float, seed: int = 0, cfg: xdog.PerturbConfig = xdog.PerturbConfig()) -> np.ndarray:
    """Joint images (N, s, 2s, 3) uint8 with each sketch half redrawn "poorly" by :func:`xdog.perturb`.

    The sketch is enlarged to 64 px (the scale :class:`xdog.PerturbConfig` is given at),
    perturbed there with seed ``(seed, i)`` for image ``i`` (``cfg`` sets how far each distortion
    goes), and shrunk back with area averaging; the photo half is untouched. Anything but uint8
    joint images or a finite strength >= 0 is a ValueError. Explained in "Contextual GAN vs pix2pix".
    """
    xdog.check_strength(strength)
    images = _check_joints(images, "perturb_sketches")
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


def _check_joints(images, name: str) -> np.ndarray:
    """``images`` as an array, or a ValueError unless it is uint8 joint images (N, s, 2s, 3), s >= 1."""
    if not isinstance(images, (np.ndarray, list, tuple)):
        raise ValueError(f"{name} expects uint8 joint images (N, s, 2s, 3), got {type(images).__name__}")
    images = np.asarray(images)
    shape = images.shape
    if images.dtype != np.uint8 or images.ndim != 4 or shape[3] != 3 or shape[1] < 1 or shape[2] != 2 * shape[1]:
        raise ValueError(f"{name} expects uint8 joint images (N, s, 2s, 3) with s >= 1, got {images.dtype} {shape}")
    return images


def parse_styles(style: str) -> list[str]:
    """``"xdog"`` or a comma-separated mix such as ``"xdog,photocopy,fdog"``, checked."""
    styles = [s.strip() for s in style.split(",") if s.strip()]
    unknown = [s for s in styles if s not in STYLES]
    if not styles or unknown:
        raise ValueError(f"unknown sketch style {style!r}; choose from {', '.join(STYLES)} (or a comma-separated mix)")
    return styles


def faces_dataset(n: int, size: int = 64, seed: int = 0, start: int = 0, style: str = "xdog", cache: bool = True) -> JointData:
    """The embedded dataset: ``n`` procedurally generated faces with their sketches.

    Faces are rendered at 64 px (see :mod:`cgan_minimal.faces`), sketched at 64 px and resized
    to ``size``. Face ``i`` depends only on ``(seed, start + i)``; training uses indices from 0,
    held-out sets start at :data:`HELD_OUT_START`. Labels (glasses, beard, …) come along.
    ``style`` is a sketch style or a comma-separated mix; in a mix face ``i`` gets style
    ``i mod len(mix)``. A set of :data:`FACES_CACHE_MIN` faces or more is kept on disk
    (:func:`faces_cache_dir`) and read back by the next call with the same arguments and the same
    rendering code, instead of being rendered again (10,000 faces: 11-20 s). Explained in "The joint
    representation".
    """
    if n < 0:
        raise ValueError(f"faces_dataset: n must be >= 0, got {n}")
    styles = parse_styles(style)
    suffix = "" if style == "xdog" else f", style={style}"
    source = f"faces(seed={seed}, start={start}{suffix})"
    folder = faces_cache_dir() if cache and n >= FACES_CACHE_MIN else None
    path = folder / f"{_faces_key(n, size, seed, start, style)}.npz" if folder else None
    if path is not None and path.exists():
        try:
            with np.load(path) as f:
                images = f["images"]
                labels = {k[len("label_"):]: f[k] for k in f.files if k.startswith("label_")}
            os.utime(path)  # recently used: kept when the cache is pruned
            return JointData(images, labels, source=source)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # a damaged entry: render again and replace it
    photos, labels = faces.render_faces(n, seed=seed, start=start)
    images = np.empty((n, size, 2 * size, 3), np.uint8)
    for i, photo in enumerate(photos):
        images[i] = make_joint(photo, size, styles[(start + i) % len(styles)])
    if path is not None:
        _write_faces_cache(path, images, labels)
    return JointData(images, labels, source=source)


FACES_CACHE_MIN = 2000  # faces_dataset keeps sets of this many faces or more on disk (fewer render in seconds)
FACES_CACHE_ENTRIES = 8  # the most recently used sets kept (10,000 faces at 32 px: 61 MB)


def faces_cache_dir() -> Path | None:
    """Where :func:`faces_dataset` keeps rendered sets: ``$CGAN_MINIMAL_CACHE``, else
    ``$XDG_CACHE_HOME/cgan_minimal`` or ``~/.cache/cgan_minimal``; ``CGAN_MINIMAL_CACHE=""`` turns it off."""
    root = os.environ.get("CGAN_MINIMAL_CACHE")
    if root == "":
        return None
    if root is None:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cgan_minimal"
    return Path(root) / "faces"


def _faces_key(n: int, size: int, seed: int, start: int, style: str) -> str:
    """The arguments, the rendering code (faces.py, xdog.py, data.py) and the libraries it calls."""
    h = hashlib.sha256(repr((n, size, seed, start, style, np.__version__, cv2.__version__)).encode())
    for source in (faces.__file__, xdog.__file__, __file__):
        h.update(Path(source).read_bytes())
    return f"faces_{n}_{size}px_{h.hexdigest()[:16]}"


def _write_faces_cache(path: Path, images: np.ndarray, labels: dict[str, np.ndarray]) -> None:
    """Store a rendered set atomically and keep the newest entries; a cache that cannot be written is skipped."""
    try:
        with utils.atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, images=images, **{f"label_{k}": v for k, v in labels.items()})
        entries = sorted(path.parent.glob("faces_*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[FACES_CACHE_ENTRIES:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def _image_files(folder: Path) -> list[Path]:
    """Image files of a dataset folder, sorted; a clear error for anything else in it."""
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder {folder} does not exist")
    files, subfolders = [], []
    with os.scandir(folder) as entries:  # names sorted as strings: fast for 200,000 files
        entries = sorted(entries, key=lambda e: os.path.normcase(e.name))
    for e in entries:
        p = folder / e.name
        if e.name.startswith(".") or e.name in METADATA_FILES:
            continue
        if e.is_dir():
            subfolders.append(e.name)
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


# ---------------------------------------------------------------- image files
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _undecodable(where, why: str) -> ValueError:
    return ValueError(f"{where} could not be decoded as an image: {why} (corrupt or truncated file?)")


def image_header(data: bytes, where="image") -> tuple[str, int, int]:
    """``(format, height, width)`` of a PNG, JPEG or BMP file from its bytes, without decoding the pixels.

    Pillow reads the header only. Any other format, a header that is cut short, or a JPEG that
    ends before its end-of-image marker is a ValueError naming ``where``.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked by the caller
            with Image.open(io.BytesIO(data)) as im:
                kind, (w, h) = im.format, im.size
    except Image.DecompressionBombError as e:
        raise ValueError(f"{where} is refused before decoding: {e}") from None
    except Exception as e:  # Pillow raises UnidentifiedImageError, SyntaxError, struct.error… on bad headers
        raise _undecodable(where, f"it is not a PNG, JPEG or BMP file ({type(e).__name__})") from None
    if kind not in ("PNG", "JPEG", "BMP"):
        raise _undecodable(where, f"it is not a PNG, JPEG or BMP file but {kind}")
    if kind == "JPEG" and data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):  # image data cannot hold FF D9
        raise _undecodable(where, "the JPEG has no end-of-image marker")
    if h < 1 or w < 1:
        raise _undecodable(where, f"its {kind} header gives the size {h}×{w}")
    return kind, h, w


def _to_rgb8(image: np.ndarray, where) -> tuple[np.ndarray, bool]:
    """A decoded BGR(A) or gray(+alpha) image, 8 or 16 bits → uint8 RGB (H, W, 3), and whether it had
    transparent pixels (composited on white: a transparent background is paper)."""
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{where} has {image.dtype} pixels; only 8- and 16-bit images can be read")
    top = np.iinfo(image.dtype).max
    image = image[:, :, None] if image.ndim == 2 else image
    c = image.shape[2]
    if c not in (1, 2, 3, 4):
        raise ValueError(f"{where} has {c} channels; expected gray, gray + alpha, RGB or RGBA")
    color, alpha = (image[:, :, : c - 1], image[:, :, c - 1 :]) if c in (2, 4) else (image, None)
    color = np.repeat(color, 3, axis=2) if color.shape[2] == 1 else color[:, :, ::-1]  # BGR → RGB
    transparent = alpha is not None and bool((alpha < top).any())
    if transparent or top != 255:
        x = color.astype(np.float32) / top
        if transparent:
            a = alpha.astype(np.float32) / top
            x = x * a + (1 - a)  # over white paper
        color = np.round(x * 255).astype(np.uint8)
    return np.ascontiguousarray(color), transparent


def _read_image(path, max_pixels: int | None = None) -> tuple[np.ndarray, bool]:
    """:func:`read_image` without the warning: the image and whether it had transparent pixels."""
    data = Path(path).read_bytes()
    kind, h, w = image_header(data, path)
    limit = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    if h * w > limit:
        name = "data.MAX_IMAGE_PIXELS" if max_pixels is None else "the limit"
        raise ValueError(f"{path} is {h}×{w} pixels ({h * w:,}), more than {name} = {limit:,}: refused before decoding")
    flags = cv2.IMREAD_UNCHANGED if kind == "PNG" else cv2.IMREAD_COLOR  # PNG: keep alpha, gray and 16 bits
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as e:
        raise _undecodable(path, f"OpenCV failed ({str(e).strip().splitlines()[-1]})") from e
    if image is None:
        raise _undecodable(path, f"the {kind} data do not decode")
    return _to_rgb8(image, path)


def _warn_transparent(files: list, where) -> None:
    """One warning for all ``files`` (read from ``where``) that had transparent pixels, naming the first."""
    if files:
        more = f" and {len(files) - 1} other images in {where}" if len(files) > 1 else ""
        warnings.warn(f"{files[0]}{more} had transparent pixels: composited on white (a transparent background is paper)", stacklevel=3)


def read_image(path, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file (PNG, JPEG or BMP) as uint8 RGB (H, W, 3), checking its size first.

    The header is read before the pixels: a file of more than ``max_pixels`` pixels (default
    :data:`MAX_IMAGE_PIXELS`) is a ValueError that names it and its size, and nothing is decoded. Gray images are repeated into
    three channels and 16-bit pixels scaled to 8 bits (v / 257, rounded). Transparent pixels are
    composited on white, since for a sketch a transparent background is paper, with a warning
    (PNG; a BMP's alpha channel is ignored, as OpenCV reads it, since many programs leave it 0).
    A corrupt or truncated file is a ValueError that names it.
    """
    image, transparent = _read_image(path, max_pixels)
    _warn_transparent([path] if transparent else [], path)
    return image


def _read_joint(path, size: int | None) -> tuple[np.ndarray, bool]:
    """:func:`read_joint` without the warning: the joint image and whether it had transparent pixels."""
    image, transparent = _read_image(path)
    h, w = image.shape[:2]
    if w != 2 * h:
        raise ValueError(f"{path} is {h}×{w}; a joint image (sketch | photo) is s×2s, e.g. 64×128")
    if size is not None and h != size:
        raise ValueError(f"{path} is {h}×{w}, but the preset needs {size}×{2 * size} joint images")
    return image, transparent


def read_joint(path: Path, size: int | None = None) -> np.ndarray:
    """Read one joint image file as uint8 RGB (s, 2s, 3), checking that it is one.

    Read with :func:`read_image`: too large, corrupt and truncated files are refused, and
    transparent pixels are composited on white (paper), with a warning.
    """
    image, transparent = _read_joint(path, size)
    _warn_transparent([path] if transparent else [], path)
    return image


def load_folder(path: str | Path, size: int | None = None, limit: int | None = None, cache: bool | str | Path = True) -> JointData:
    """Read a folder of joint PNGs (sketch left, photo right): uint8 images (N, s, 2s, 3), sorted by name.

    ``size`` is the side each half must have (64 for the paper preset, 32 for cpu/tiny); every
    file is checked, and a wrong size, a corrupt file, a file of more than
    :data:`MAX_IMAGE_PIXELS` pixels or a non-image file gives an error that names it. Files are
    read with :func:`read_image`: gray and 16-bit images are converted, and transparent pixels
    are composited on white (paper), with one warning for the whole folder. ``limit`` reads the
    first ``limit`` files only.

    With ``cache`` (the default) the first load writes the decoded images into a cache in the
    folder, ``FOLDER/.cgan_cache/`` (see :data:`CACHE_DIR`), and later loads memory-map it
    instead of decoding every file: seconds for 200,000 images, and the images stay on disk
    until a batch reads them. ``cache=DIR`` keeps the cache in ``DIR`` instead (for a folder you
    cannot write); ``cache=False`` reads every file into memory. A folder that cannot be written
    is read without a cache, with one warning. The values are the same either way.
    Explained in "The joint representation".
    """
    for name, n in (("size", size), ("limit", limit)):
        if n is not None and (not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1):
            raise ValueError(f"load_folder: {name} must be None or a whole number >= 1, got {n!r}")
    folder = Path(path)
    files = _image_files(folder)[:limit]
    if cache is False:
        images, with_alpha = _read_joints(files, size)
    else:
        images, with_alpha = _cached_joints(folder, files, size, folder / CACHE_DIR if cache is True else _cache_elsewhere(folder, cache))
    _warn_transparent(with_alpha, folder)
    return JointData(images, read_labels(folder, files), source=str(folder))


def _joints(files: list[Path], size: int | None):
    """Decode ``files`` one by one: yields ``(file, joint image, transparent)``, every image of the
    first one's size (of ``size``, when given)."""
    for f in files:
        image, transparent = _read_joint(f, size)
        size = image.shape[0]
        yield f, image, transparent


def _read_joints(files: list[Path], size: int | None) -> tuple[np.ndarray, list[Path]]:
    """Decode ``files`` into one array in memory, uint8 (N, s, 2s, 3); and those with transparent pixels."""
    images, with_alpha = None, []
    for i, (f, image, transparent) in enumerate(_joints(files, size)):
        if images is None:
            images = np.empty((len(files),) + image.shape, np.uint8)
        images[i] = image
        with_alpha += [f] if transparent else []
    return images, with_alpha


# ---------------------------------------------------------------- the folder cache
CACHE_DIR = ".cgan_cache"  # load_folder's cache inside a dataset folder (hidden: never read as data)
CACHE_FORMAT = 1  # version of the cache layout and of the decoding; a cache of another version is rebuilt


def _cache_elsewhere(folder: Path, cache: str | Path) -> Path:
    """The cache of ``folder`` in the cache folder ``cache``: a subfolder named after its absolute path."""
    return Path(cache) / hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]


def _cached_joints(folder: Path, files: list[Path], size: int | None, where: Path) -> tuple[np.ndarray, list[Path]]:
    """The images of ``files`` memory-mapped from the cache in ``where``; built first when it is
    missing or out of date (the folder cannot be written: read without a cache, with a warning).

    ``where/joint.npy`` holds the decoded images, uint8 (n, s, 2s, 3), and ``where/joint.json``
    what they were decoded from: per file its name, size and modification time (ns), plus the
    cache format and :data:`MAX_IMAGE_PIXELS`. A cache of n files serves any load of its first
    k <= n files whose names, sizes and times are unchanged; anything else rebuilds it.
    """
    entries = [[f.name, st.st_size, st.st_mtime_ns] for f, st in ((f, f.stat()) for f in files)]
    hit = _open_cache(where, entries)
    if hit is None:
        try:
            utils.check_output_folder(where)
        except OSError as e:
            warnings.warn(f"{folder} is read without a cache: {e.strerror or e} (pass cache=DIR to keep the cache elsewhere)", stacklevel=3)
            return _read_joints(files, size)
        hit = _write_cache(where, files, entries, size)
    images, transparent = hit
    n, s = len(files), images.shape[1]
    if size is not None and s != size:  # the message of an uncached load
        raise ValueError(f"{files[0]} is {s}×{2 * s}, but the preset needs {size}×{2 * size} joint images")
    return images[:n], [files[i] for i in transparent if i < n]


def _open_cache(where: Path, entries: list[list]) -> tuple[np.ndarray, list[int]] | None:
    """The cached images (a copy-on-write memory map) and the indices of the transparent ones, if
    the cache in ``where`` holds the files ``entries`` (their first len(entries)); else None."""
    try:
        manifest = json.loads((where / "joint.json").read_text())
        images = np.load(where / "joint.npy", mmap_mode="c")  # writable in memory, never written back
    except (OSError, ValueError):  # missing, or cut short by a crash
        return None
    fresh = (
        isinstance(manifest, dict) and manifest.get("format") == CACHE_FORMAT and manifest.get("max_image_pixels") == MAX_IMAGE_PIXELS
        and manifest.get("shape") == list(images.shape) and images.dtype == np.uint8
        and manifest.get("files", [])[: len(entries)] == entries and len(manifest["files"]) >= len(entries)
    )
    return (images, manifest["transparent"]) if fresh else None


def _write_cache(where: Path, files: list[Path], entries: list[list], size: int | None) -> tuple[np.ndarray, list[int]]:
    """Decode ``files`` straight into ``where/joint.npy``, image by image (no copy in memory), then
    write ``joint.json``; both atomically, so an interrupted load leaves no cache that looks valid.
    Returns what :func:`_open_cache` returns: the images, memory-mapped, and the transparent ones."""
    joints = _joints(files, size)
    first = next(joints)  # a wrong size or a corrupt first file fails before anything is written
    shape = (len(files), *first[1].shape)
    where.mkdir(parents=True, exist_ok=True)
    utils.remove_stale_temporaries(where)
    (where / "joint.json").unlink(missing_ok=True)  # the old cache is invalid from here on
    transparent = []
    with utils.atomic_path(where / "joint.npy") as tmp:
        with open(tmp, "wb") as out:
            np.lib.format.write_array_header_2_0(out, {"descr": "|u1", "fortran_order": False, "shape": shape})
            for i, (f, image, alpha) in enumerate(itertools.chain([first], joints)):
                out.write(image.tobytes())
                transparent += [i] if alpha else []
        images = np.load(tmp, mmap_mode="c")  # mapped before the rename: exactly what this load wrote
    manifest = {
        "format": CACHE_FORMAT, "folder": str(files[0].parent.resolve()), "max_image_pixels": MAX_IMAGE_PIXELS,
        "shape": list(shape), "transparent": transparent, "files": entries,
    }
    with utils.atomic_path(where / "joint.json") as tmp:
        tmp.write_text(utils.to_json(manifest))
    return images, transparent


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
    """Write joint images as ``000000.png, 000001.png, …`` in ``path`` (the :func:`load_folder` format).

    The images are checked (uint8 (N, s, 2s, 3)) before anything is written, and each file is
    written under a hidden temporary name and then renamed, so no half-written file is left.
    """
    images = _check_joints(data.images if isinstance(data, JointData) else data, "save_folder")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, image in enumerate(images):
        target = folder / f"{i:06d}.png"
        tmp = target.with_name(f".{target.stem}.tmp.png")  # hidden: never read as data
        try:
            if not cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
                raise OSError(f"could not write {tmp}")
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
        written.append(target)
    return written
