"""An attribute classifier for photos: the project's stand-in for the paper's identity check
(chapter "Contextual GAN vs pix2pix").

The paper checks that a completed face keeps the person's identity with a pretrained face
verification network (Light CNN). No such network can be downloaded here, and the embedded
faces have no identities, so the project trains its own small CNN φ on labelled photos — the
embedded faces' glasses, beard, hair style and smile, or CelebA's ``list_attr_celeba.txt``
(written as ``labels.csv`` by ``data_scripts/prepare_celeba.py``) — and uses it twice:

- **attribute preservation**: the fraction of completed photos whose predicted attributes all
  equal the true photo's labels (``metrics.attribute_agreement``);
- **realism**: the Fréchet distance between φ's penultimate features of completed and of real
  photos (``metrics.frechet_distance``) — an FID computed with a domain network instead of
  Inception, so its values are comparable only with each other, never with published FIDs.

The network, for s × s photos (shapes for s = 32, width w = 32):

    x → [Conv 3×3 → BN → ReLU → MaxPool 2] × 3      (w, 2w, 4w channels; (B, 128, 4, 4))
      → global average pool → Linear → ReLU          (B, 32): the features φ(x)
      → one Linear head per attribute                 (B, classes) logits

trained with the sum of the heads' cross-entropies (Adam, lr 1e-3 with a cosine decay, horizontal flips, and a
Gaussian blur of random strength on half the images: a generator's samples are softer than
the photos, and a classifier that never saw a soft face reads a blurred short haircut as long
hair and misses thin glasses frames — measured in "Training the GAN").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data
from .utils import atomic_path, set_seed, to_json

FACE_ATTRIBUTES = ("glasses", "beard", "hair_style", "smile")  # what the embedded faces' labels give
PRETRAINED = Path(__file__).parent / "pretrained" / "attributes_faces.pt"  # trained on the embedded faces


@dataclass(frozen=True)
class ClassifierConfig:
    """Network and training settings of the attribute classifier."""

    size: int = 32  # side of the photos it reads (the cpu preset's photo half)
    width: int = 32  # w: channels of the first conv block (then 2w, 4w)
    features: int = 32  # dimension of φ(x), the space of the Fréchet distance (needs more samples than this)
    attributes: tuple[str, ...] = FACE_ATTRIBUTES  # one head per attribute
    classes: tuple[int, ...] = (2, 2, 6, 2)  # classes of each attribute
    epochs: int = 12  # passes over the training photos
    batch_size: int = 128
    lr: float = 1e-3  # Adam learning rate, decayed to 0 along a cosine over the epochs
    seed: int = 0
    blur: float = 1.0  # blur augmentation: half the images blurred with σ ~ U(0, blur) px; 0 = off

    def __post_init__(self):
        if len(self.attributes) != len(self.classes) or not self.attributes:
            raise ValueError(f"ClassifierConfig: one class count per attribute, got {self.attributes} and {self.classes}")
        if min(self.classes) < 2:
            raise ValueError(f"ClassifierConfig: every attribute needs >= 2 classes, got {dict(zip(self.attributes, self.classes))}")
        for name, ok, rule in (
            ("size", self.size >= 8 and self.size % 8 == 0, "a multiple of 8, >= 8 (three 2× poolings)"),
            ("epochs", self.epochs >= 1, ">= 1"), ("batch_size", self.batch_size >= 2, ">= 2 (BatchNorm)"),
            ("width", self.width >= 1, ">= 1"), ("features", self.features >= 1, ">= 1"), ("seed", self.seed >= 0, ">= 0"),
            ("lr", math.isfinite(self.lr) and self.lr > 0, "a finite number > 0"),
            ("blur", math.isfinite(self.blur) and self.blur >= 0, "a finite number >= 0"),
        ):
            if not ok:
                raise ValueError(f"ClassifierConfig.{name} (--{name.replace('_', '-')}) must be {rule}, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ClassifierConfig":
        d = dict(d)
        d["attributes"], d["classes"] = tuple(d["attributes"]), tuple(d["classes"])
        d.setdefault("blur", 0.0)  # saved before blur augmentation existed
        return cls(**d)


class AttributeClassifier(nn.Module):
    """φ and the heads: photos (B, 3, s, s) in [-1, 1] → {attribute: logits (B, classes)}."""

    def __init__(self, cfg: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.cfg = cfg
        w = cfg.width

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True), nn.MaxPool2d(2)]

        self.phi = nn.Sequential(
            *block(3, w),  # (B, 32, 16, 16)
            *block(w, 2 * w),  # (B, 64, 8, 8)
            *block(2 * w, 4 * w),  # (B, 128, 4, 4)
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (B, 128)
            nn.Linear(4 * w, cfg.features), nn.ReLU(True),  # (B, 32) = φ(x)
        )
        self.heads = nn.ModuleDict({name: nn.Linear(cfg.features, k) for name, k in zip(cfg.attributes, cfg.classes)})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.phi(x)
        return {name: head(f) for name, head in self.heads.items()}


def blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian blur of images (B, 3, H, W), each with its own σ (B,) in pixels (σ = 0: unchanged)."""
    r = 3
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t[None] / sigma.clamp(min=1e-3)[:, None]) ** 2)  # (B, 7)
    k = k / k.sum(1, keepdim=True)
    b, c, h, w = x.shape
    y = F.pad(x.reshape(1, b * c, h, w), (r, r, r, r), mode="reflect")
    k = k.repeat_interleave(c, 0)  # one kernel per image and channel
    y = F.conv2d(y, k[:, None, None, :], groups=b * c)  # along W
    y = F.conv2d(y, k[:, None, :, None], groups=b * c)  # along H
    return y.reshape(b, c, h, w)


def face_labels(labels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The embedded faces' labels (see :mod:`cgan_minimal.faces`) as the classifier's integer classes."""
    return {
        "glasses": labels["glasses"].astype(np.int64),
        "beard": labels["beard"].astype(np.int64),
        "hair_style": labels["hair_style"].astype(np.int64),
        "smile": (labels["mouth_curve"] > 0).astype(np.int64),  # mouth curved up
    }


def _as_tensor(photos: np.ndarray, size: int) -> torch.Tensor:
    photos = np.asarray(photos)
    if photos.ndim != 4 or photos.shape[1:] != (size, size, 3) or photos.dtype != np.uint8:
        raise ValueError(f"the classifier reads uint8 photos (N, {size}, {size}, 3), got {photos.dtype} {photos.shape}")
    return data.to_tensor(photos)


def check_labels(labels: dict[str, np.ndarray], cfg: ClassifierConfig, n: int) -> None:
    """Every attribute of ``cfg`` present, ``n`` values each, all in 0 … classes − 1."""
    for name, k in zip(cfg.attributes, cfg.classes):
        if name not in labels:
            raise ValueError(f"no labels for attribute {name!r} (have: {', '.join(labels) or 'none'})")
        v = np.asarray(labels[name])
        if v.shape != (n,) or v.min() < 0 or v.max() >= k:
            raise ValueError(f"labels of {name!r} must be {n} integers in [0, {k - 1}], got shape {v.shape}, range [{v.min()}, {v.max()}]")


def fit(photos: np.ndarray, labels: dict[str, np.ndarray], cfg: ClassifierConfig = ClassifierConfig()) -> AttributeClassifier:
    """Train the classifier on uint8 photos (N, s, s, 3) and integer labels; returns it in eval mode.

    Explained in "Contextual GAN vs pix2pix".
    """
    x = _as_tensor(photos, cfg.size)
    check_labels(labels, cfg, len(x))
    y = {name: torch.as_tensor(np.asarray(labels[name]), dtype=torch.long) for name in cfg.attributes}
    set_seed(cfg.seed)
    model = AttributeClassifier(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps = cfg.epochs * ((len(x) - 2) // cfg.batch_size + 1)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    rng = torch.Generator().manual_seed(cfg.seed)
    model.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=rng)
        for i in range(0, len(x) - 1, cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            xb = x[idx]
            flip = torch.rand(len(idx), generator=rng) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)  # labels do not change under a mirror
            if cfg.blur:  # half the images blurred with σ ~ U(0, blur)
                sigma = torch.rand(len(idx), generator=rng) * cfg.blur * (torch.rand(len(idx), generator=rng) < 0.5)
                xb = blur(xb, sigma)
            logits = model(xb)
            loss = sum(F.cross_entropy(logits[name], y[name][idx]) for name in cfg.attributes)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
    return model.eval()


@torch.no_grad()
def predict(model: AttributeClassifier, photos: np.ndarray, batch_size: int = 512) -> dict[str, np.ndarray]:
    """Predicted class of each attribute for uint8 photos (N, s, s, 3): {attribute: (N,) ints}."""
    x = _as_tensor(photos, model.cfg.size)
    model.eval()
    out = {name: [] for name in model.cfg.attributes}
    for i in range(0, len(x), batch_size):
        for name, logits in model(x[i : i + batch_size]).items():
            out[name].append(logits.argmax(1).numpy())
    return {name: np.concatenate(v) if v else np.zeros(0, np.int64) for name, v in out.items()}


@torch.no_grad()
def features(model: AttributeClassifier, photos: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """φ(x), the penultimate features, of uint8 photos (N, s, s, 3): float64 (N, features)."""
    x = _as_tensor(photos, model.cfg.size)
    model.eval()
    return np.concatenate([model.phi(x[i : i + batch_size]).double().numpy() for i in range(0, len(x), batch_size)] or [np.zeros((0, model.cfg.features))])


def accuracy(predicted: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> dict[str, float]:
    """Per-attribute accuracy of predictions against true labels."""
    return {name: float((predicted[name] == np.asarray(truth[name])).mean()) for name in predicted}


def save(model: AttributeClassifier, path: str | Path, record: dict | None = None) -> Path:
    """Write the classifier (config beside the weights) atomically, and ``PATH.json`` with ``record``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"config": model.cfg.to_dict(), "weights": model.state_dict()}, tmp)
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(to_json({"config": model.cfg.to_dict(), **(record or {})}))
    return path


def load(path: str | Path = PRETRAINED, expected_size: int | None = None) -> AttributeClassifier:
    """Load a saved classifier (``weights_only=True``), in eval mode; refuse one for another photo size."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no attribute classifier at {path} (train one: python -m cgan_minimal train-classifier)")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        cfg = ClassifierConfig.from_dict(saved["config"])
    except Exception as e:
        raise ValueError(f"{path} is not a readable attribute classifier: {type(e).__name__}: {e}") from None
    if expected_size is not None and cfg.size != expected_size:
        raise ValueError(f"the classifier {path} reads {cfg.size}×{cfg.size} photos, but these are {expected_size}×{expected_size}")
    model = AttributeClassifier(cfg)
    try:
        model.load_state_dict(saved["weights"])
    except RuntimeError as e:
        raise ValueError(f"classifier {path}: weights do not fit its own config: {e}") from None
    return model.eval().requires_grad_(False)


@dataclass
class LabelledPhotos:
    """Photos (N, s, s, 3) uint8 with integer labels per attribute, and where they came from."""

    photos: np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""


def faces_photos(n: int, size: int, seed: int = 0, start: int = 0) -> LabelledPhotos:
    """Embedded faces' photo halves with :func:`face_labels`."""
    faces_data = data.faces_dataset(n, size=size, seed=seed, start=start)
    return LabelledPhotos(data.split(faces_data.images)[1], face_labels(faces_data.labels), faces_data.source)


def folder_photos(path: str | Path, size: int, attributes: tuple[str, ...], limit: int | None = None) -> LabelledPhotos:
    """Photo halves of a joint-image folder and the chosen columns of its ``labels.csv``."""
    folder = data.load_folder(path, size=size, limit=limit)
    return LabelledPhotos(data.split(folder.images)[1], class_labels(folder, attributes), folder.source)


def class_labels_available(dataset: data.JointData) -> set[str]:
    """The attributes :func:`class_labels` can give for a dataset."""
    return set(face_labels(dataset.labels) if "mouth_curve" in dataset.labels else dataset.labels)


def class_labels(dataset: data.JointData, attributes: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The classes of ``attributes`` for a dataset: :func:`face_labels` for the embedded faces, the
    ``labels.csv`` columns for a folder (CelebA's −1/1 become 0/1; other integers as given)."""
    labels = face_labels(dataset.labels) if "mouth_curve" in dataset.labels else dataset.labels
    missing = [a for a in attributes if a not in labels]
    if missing:
        raise ValueError(
            f"{dataset.source} has no labels for {', '.join(missing)} (has: {', '.join(labels) or 'none'}; "
            "a folder's labels.csv needs an integer column per attribute and a row for every image)"
        )
    return {a: np.where(labels[a] < 0, 0, labels[a]).astype(np.int64) for a in attributes}
