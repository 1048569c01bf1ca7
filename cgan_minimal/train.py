"""Training stage: an ordinary DCGAN on joint images (SPEC §1, §4; chapter "Training the GAN").

Nothing here is sketch-specific: G learns the distribution of joint images ``[sketch | photo]``,
which is what later lets completion fill in a photo that agrees with a sketch. The two players
optimise the GAN objective (Goodfellow et al., 2014)

    min_G max_D  E_x[log D(x)] + E_z[log(1 − D(G(z)))],

D by ascending it and G by the non-saturating form, maximising E_z[log D(G(z))]; both as binary
cross-entropy on D's logits. Adam with lr 2e-4, β1 0.5, batch 64, as in DCGAN and the paper.

Beyond the paper, an exponential moving average of G's weights (``ema_decay``) is kept and is
the generator that completion uses: it gives smoother, more faithful samples at no training
cost, which matters for a model trained for minutes instead of days.

A run folder holds ``checkpoint.pt`` (written atomically after every epoch: G, D, the EMA of G,
both optimisers, the epoch, the RNG state and the config), ``config.json``, ``losses.csv``
(one row per step) and ``samples/epoch_NNN.png`` (a fixed z, so epochs compare).
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from . import attributes, distributed, faces, metrics
from . import data as data_mod
from .figures import grid, save_png
from .models import Discriminator, Generator, ModelConfig, preset, sample_z
from .utils import atomic_path, check_output_file, check_output_folder, pick_device, remove_stale_temporaries, set_seed, to_json

CHECKPOINT = "checkpoint.pt"
PRETRAINED = Path(__file__).parent / "pretrained"  # models shipped with the package (see export)
LOSS_FIELDS = ("epoch", "step", "loss_D", "loss_G", "D_x", "D_G_z")
MODELS = ("contextual", "pix2pix")  # what `train --model` trains


@dataclass
class TrainConfig:
    """How to train. Defaults: the paper's optimiser with the ``cpu`` preset sized for minutes."""

    model: str = "contextual"  # "contextual": Contextual GAN's DCGAN on joint images; "pix2pix": the baseline
    preset: str = "cpu"  # model preset: paper (64×128, width 64), cpu (32×64, width 32), tiny (width 16)
    data: str = "faces"  # "faces" (embedded, rendered on the fly) or a folder of joint PNGs
    style: str = "xdog"  # sketch style of the embedded faces: xdog, photocopy, fdog or a mix "xdog,fdog"
    train_size: int = 10000  # number of training images (faces rendered; folder: first N, 0 = all)
    epochs: int = 20  # passes over the data (paper: 200; authors' script: 50)
    batch_size: int = 64  # paper: 64
    lr: float = 2e-4  # Adam learning rate, both players (paper: 2e-4)
    beta1: float = 0.5  # Adam β1 (paper: 0.5)
    beta2: float = 0.999  # Adam β2 (Adam's default)
    g_steps: int = 1  # G updates per D update (authors' script: 2)
    ema_decay: float = 0.999  # EMA of G's weights used for completion; 0 turns it off
    instance_noise: float = 0.0  # std of Gaussian noise added to D's inputs, annealed linearly to 0
    real_label: float = 1.0  # target for real images in D's loss; 0.9 = one-sided label smoothing
    seed: int = 0  # seeds weights, shuffling, z and the embedded faces
    device: str = "auto"  # auto = cuda, then mps, then cpu
    precision: str = "auto"  # auto: bf16 autocast on CUDA (fp16 + GradScaler without bf16), fp32 elsewhere; fp32, bf16, fp16
    compile: bool = False  # torch.compile G and D for the training step (GPU; the first steps compile)
    init_from: str = ""  # start from this checkpoint's G, D and EMA (fine-tuning; paper: then lr 1e-5)
    l1_weight: float = 100.0  # pix2pix only: λ_L1, weight of its L1 term (Isola et al.: 100)
    # The recipe: "dcgan" (the paper's DCGAN), "r1" or "r1_mbstd" (the default). A field left at
    # None takes the recipe's value (see RECIPES); one given explicitly overrides it.
    recipe: str = "r1_mbstd"  # the training recipe, see RECIPES
    loss: str | None = None  # nonsat: BCE, G maximises log D(G(z)) (paper); hinge (Lim & Ye 2017)
    r1_gamma: float | None = None  # γ of the R1 penalty (γ/2)·E‖∇ₓD(x)‖² on real images (Mescheder et al. 2018); 0 = off
    r1_every: int | None = None  # lazy R1: the penalty on every k-th D step only, times k (Karras et al. 2020)
    lr_D_mult: float | None = None  # D's learning rate is lr × this (two time-scale rule, Heusel et al. 2017)
    d_norm: str | None = None  # D's normalisation: bn (paper), sn (spectral norm), sn+bn, none
    mbstd: int | None = None  # group size of D's minibatch standard-deviation layer (Karras et al. 2018); 0 = none
    augment: str | None = None  # DiffAugment (Zhao et al. 2020) on D's inputs: "" or a mix of translation,cutout,color

    def __post_init__(self):
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; choose one of {', '.join(RECIPES)}")
        for name, value in RECIPES[self.recipe].items():
            if getattr(self, name) is None:
                setattr(self, name, value)

    def validate(self) -> "TrainConfig":
        """Check every field; each message names the field and its command-line option."""
        if self.model not in MODELS:
            raise ValueError(f"TrainConfig.model (--model) must be one of {', '.join(MODELS)}, got {self.model!r}")
        preset(self.preset)
        for name, ok, rule in (
            ("train_size", self.train_size >= (1 if self.data == "faces" else 0), ">= 1" if self.data == "faces" else ">= 0 (0 = all)"),
            ("epochs", self.epochs >= 1, ">= 1"), ("batch_size", self.batch_size >= 1, ">= 1"), ("g_steps", self.g_steps >= 1, ">= 1"),
            ("seed", 0 <= self.seed < 2**63, "in [0, 2^63)"), ("r1_every", self.r1_every >= 1, ">= 1"),
        ):
            if not ok:
                raise ValueError(f"TrainConfig.{name} (--{name.replace('_', '-')}) must be {rule}, got {getattr(self, name)}")
        for name, ok, rule in (
            ("lr", lambda v: v > 0, "> 0"), ("beta1", lambda v: 0 <= v < 1, "in [0, 1)"), ("beta2", lambda v: 0 <= v < 1, "in [0, 1)"),
            ("ema_decay", lambda v: 0 <= v < 1, "in [0, 1)"), ("instance_noise", lambda v: v >= 0, ">= 0"),
            ("real_label", lambda v: 0 < v <= 1, "in (0, 1]"), ("l1_weight", lambda v: v >= 0, ">= 0"),
            ("r1_gamma", lambda v: v >= 0, ">= 0"), ("lr_D_mult", lambda v: v > 0, "> 0"),
        ):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and ok(value)):
                raise ValueError(f"TrainConfig.{name} (--{name.replace('_', '-')}) must be a finite number {rule}, got {value}")
        data_mod.parse_styles(self.style)
        if self.precision not in PRECISIONS:
            raise ValueError(f"TrainConfig.precision (--precision) must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"TrainConfig.loss (--loss) must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        parse_augment(self.augment)
        self.model_config()  # d_norm and mbstd
        if self.data != "faces" and self.style != "xdog":
            raise ValueError(f"TrainConfig.style applies to the embedded faces; the folder {self.data} holds its own sketches")
        return self

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """A saved config; one written before recipes existed trained the paper's DCGAN."""
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d.setdefault("recipe", "dcgan")
        return cls(**d)

    def model_config(self) -> ModelConfig:
        """The networks' shapes: the preset's, with the recipe's D options."""
        return replace(preset(self.preset), d_norm=self.d_norm, mbstd=self.mbstd)


LOSSES = ("nonsat", "hinge")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
AUGMENTS = ("translation", "cutout", "color")
# Training recipes by name: the fields of TrainConfig each one sets. Measured side by side in
# chapter "Training the GAN" and the README's "What was tried".
RECIPES: dict[str, dict] = {
    # The paper's DCGAN (SPEC §4): BCE, BatchNorm in D, one learning rate. It mode-collapses here.
    "dcgan": dict(loss="nonsat", r1_gamma=0.0, r1_every=16, lr_D_mult=1.0, d_norm="bn", mbstd=0, augment=""),
    # DCGAN plus a lazy R1 penalty on real images.
    "r1": dict(loss="nonsat", r1_gamma=1.0, r1_every=16, lr_D_mult=1.0, d_norm="bn", mbstd=0, augment=""),
    # r1 plus a minibatch standard-deviation layer in D (groups of 4): ahead of r1 on seed 0; seeds differ more (README).
    "r1_mbstd": dict(loss="nonsat", r1_gamma=1.0, r1_every=16, lr_D_mult=1.0, d_norm="bn", mbstd=4, augment=""),
}


def parse_augment(policy: str) -> list[str]:
    """``"translation,cutout"`` → ["translation", "cutout"], with a clear error for an unknown part."""
    parts = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in parts if p not in AUGMENTS]
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(unknown)}; use a comma-separated mix of {', '.join(AUGMENTS)}")
    return parts


def diff_augment(x: torch.Tensor, policy: list[str], rng: torch.Generator, rand=None) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020) for joint images (B, 3, s, 2s) in [-1, 1], differentiable in x.

    D sees real and fake images through the same random transformations, so it cannot win by
    memorising the training set, and G still gets gradients through them. Made for joint
    images: a translation or cutout is drawn once per image and applied to *both* halves, so
    the sketch stays aligned with its photo; colour (brightness, saturation, contrast) changes
    the photo half only, since sketches are grey. ``rand(*shape)`` draws the U(0, 1) numbers
    (default: ``torch.rand`` from ``rng``; the trainer's draws them for the whole global batch).
    """
    b, s = x.shape[0], x.shape[2]
    rand = rand or (lambda *shape: torch.rand(*shape, generator=rng))
    draw = lambda *shape: rand(*shape).to(x.device)  # noqa: E731
    sketch, photo = data_mod.split(x)
    if "color" in policy:
        photo = photo + (draw(b, 1, 1, 1) - 0.5)  # brightness ± 0.5
        mean = photo.mean(1, keepdim=True)
        photo = (photo - mean) * (2 * draw(b, 1, 1, 1)) + mean  # saturation × U(0, 2)
        mean = photo.mean((1, 2, 3), keepdim=True)
        photo = (photo - mean) * (draw(b, 1, 1, 1) + 0.5) + mean  # contrast × U(0.5, 1.5)
    halves = torch.cat([sketch, photo])  # (2B, 3, s, s): image i and i + B share a transformation
    if "translation" in policy:  # shift by up to s/8 pixels, edges repeated
        shift = (draw(b, 2) * 2 - 1) * (2 / 8)  # in grid units: the side is 2
        theta = torch.zeros(b, 2, 3, device=x.device)
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        theta[:, :, 2] = shift
        grid = F.affine_grid(theta.repeat(2, 1, 1), list(halves.shape), align_corners=False)
        halves = F.grid_sample(halves, grid, padding_mode="border", align_corners=False)
    if "cutout" in policy:  # a square of side s/2 set to 0 (mid grey), the same place in both halves
        centre = (draw(b, 2) * s).long()
        ys, xs = torch.arange(s, device=x.device), torch.arange(s, device=x.device)
        inside_y = (ys[None] - centre[:, :1]).abs() < s // 4  # (B, s)
        inside_x = (xs[None] - centre[:, 1:]).abs() < s // 4
        keep = ~(inside_y[:, :, None] & inside_x[:, None, :])  # (B, s, s)
        halves = halves * keep.repeat(2, 1, 1)[:, None].to(halves.dtype)
    return data_mod.join(*halves.split(b))


# Settings that must agree between a checkpoint and a run that resumes it.
RESUME_KEYS = (
    "model", "preset", "data", "style", "train_size", "batch_size", "seed", "g_steps", "ema_decay", "instance_noise", "real_label", "init_from", "l1_weight",
    "loss", "r1_gamma", "r1_every", "lr_D_mult", "d_norm", "mbstd", "augment",
)


def load_training_data(cfg: TrainConfig, size: int) -> data_mod.JointData:
    """The training set of ``cfg``: embedded faces or a folder, at ``size × 2·size``."""
    if cfg.data == "faces":
        return data_mod.faces_dataset(cfg.train_size, size=size, seed=cfg.seed, style=cfg.style)
    return data_mod.load_folder(cfg.data, size=size, limit=cfg.train_size or None)


def load_held_out_data(train_cfg: TrainConfig, size: int, n: int, path: str | None, style: str | None = None) -> data_mod.JointData:
    """Sketches to complete: embedded faces never used for training, or the first n of a folder.

    ``style`` sketches the held-out faces in another style than the model was trained on.
    Explained in "Projection through back-propagation".
    """
    source = path or train_cfg.data
    if source == "faces":
        return data_mod.faces_dataset(n, size=size, seed=train_cfg.seed, start=data_mod.HELD_OUT_START, style=style or train_cfg.style)
    if style:
        raise ValueError("--style applies to the embedded faces; a folder holds its own sketches")
    if path is None:  # trained on a folder: its sibling test/ folder, if there is one
        sibling = Path(train_cfg.data).parent / "test"
        if not sibling.is_dir():
            raise ValueError(f"the model was trained on {train_cfg.data}; pass --data with a folder of test joint images")
        source = str(sibling)
    return data_mod.load_folder(source, size=size, limit=n)


def reference_photos(cfg: TrainConfig, size: int, n: int) -> np.ndarray:
    """Real photos that sample quality is measured against, uint8 (n, size, size, 3): held-out
    embedded faces other than the test sketches, or the training folder's first n."""
    if cfg.data == "faces":
        return _reference_faces(cfg.seed, size, n).copy()  # the cached array stays as rendered
    return data_mod.split(data_mod.load_folder(cfg.data, size=size, limit=n).images)[1]


@functools.lru_cache(maxsize=4)
def _reference_faces(seed: int, size: int, n: int) -> np.ndarray:
    """Embedded faces from REFERENCE_START at ``size`` px, as in the training data (area resize)."""
    photos, _ = faces.render_faces(n, seed=seed, start=data_mod.REFERENCE_START)
    if size != photos.shape[1]:
        photos = np.stack([cv2.resize(p, (size, size), interpolation=cv2.INTER_AREA) for p in photos])
    return photos


def default_classifier(cfg: TrainConfig):
    """The shipped attribute classifier for the embedded faces; None for a folder (pass your own)."""
    return attributes.load() if cfg.data == "faces" and attributes.PRETRAINED.is_file() else None


@torch.no_grad()
def generated_photos(G: Generator, n: int = 1000, seed: int = 12345, batch_size: int = 250) -> np.ndarray:
    """The photo halves of n samples G(z), z from a fixed seed: uint8 (n, s, s, 3)."""
    gen = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    G.eval()
    out = [data_mod.to_image(G(sample_z(min(batch_size, n - i), G.cfg.nz, gen).to(device)).cpu()) for i in range(0, n, batch_size)]
    return data_mod.split(np.concatenate(out))[1]


def quality_line(q: dict) -> str:
    """One line for the console: FD, coverage of each many-class attribute, rates of the others."""
    parts = [f"diversity {q['diversity']:.2f}"]
    if "fd" in q:
        parts.insert(0, f"FD {q['fd']:.1f}")
        for name, a in q["attributes"].items():
            if len(a["samples"]) > 2:
                parts.append(f"{name} coverage {a['coverage']:.2f}")
            else:
                parts.append(f"{name} {a['samples'][1]:.2f} (data {a['data'][1]:.2f})")
    return f"sample quality ({q['n']} samples vs {q['n_reference']} real photos): " + ", ".join(parts)


def make_adam(params, cfg: TrainConfig, lr_mult: float = 1.0) -> torch.optim.Adam:
    """Adam(lr · lr_mult, (β1, β2)), fused into one kernel where this torch build supports it."""
    params, lr = list(params), cfg.lr * lr_mult
    try:
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch, or a device without a fused kernel
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2))


def ema_decay_at(step: int, decay: float) -> float:
    """The EMA decay at update ``step`` (0-based): min(decay, (1 + step) / (10 + step)).

    The warm-up keeps the average from being dominated by the random initial weights early on,
    which matters in runs of a few thousand steps.
    """
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema ← decay · ema + (1 − decay) · model, for every weight."""
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - decay)


@torch.no_grad()
def recalibrate_bn(G: Generator, batches: int = 8, batch_size: int = 128, seed: int = 12345) -> None:
    """Re-estimate G's BatchNorm statistics for its current weights (used after the EMA).

    G is used in eval mode for completion, so each sample is independent of the batch; its BN
    running statistics must then match its weights. A fixed seed keeps training RNG untouched.
    """
    gen = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    bns = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    G.train()
    for _ in range(batches):
        G(sample_z(batch_size, G.cfg.nz, gen).to(device))
    for m, momentum in zip(bns, saved):
        m.momentum = momentum
    G.eval()


def d_loss(logit_real: torch.Tensor, logit_fake: torch.Tensor, kind: str = "nonsat", real_label: float = 1.0) -> torch.Tensor:
    """D's loss on its logits. ``nonsat``: −log D(x) − log(1 − D(G(z))) as BCE (``real_label`` < 1
    smooths the real target); ``hinge``: relu(1 − D(x)) + relu(1 + D(G(z))), on the raw logits."""
    if kind == "hinge":
        return F.relu(1 - logit_real).mean() + F.relu(1 + logit_fake).mean()
    return (F.binary_cross_entropy_with_logits(logit_real, torch.full_like(logit_real, real_label))
            + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))


def g_loss(logit_gen: torch.Tensor, kind: str = "nonsat") -> torch.Tensor:
    """G's loss: −log D(G(z)) (non-saturating, the paper's and DCGAN's), or −D(G(z)) for hinge."""
    if kind == "hinge":
        return -logit_gen.mean()
    return F.binary_cross_entropy_with_logits(logit_gen, torch.ones_like(logit_gen))


def r1_penalty(logit_real: torch.Tensor, real: torch.Tensor, gamma: float, scaler=None) -> torch.Tensor:
    """R1 (Mescheder et al. 2018, Eq. 9): (γ/2) · E_x ‖∇ₓ D(x)‖², on the real batch only.

    It penalises D's slope at the data, which keeps D from growing sharp walls around the real
    images that G cannot climb; ``real`` must be the tensor D read, with ``requires_grad``.
    With an fp16 ``scaler`` the gradient is taken of the scaled logits (no underflow) and
    unscaled. Explained in "Training the GAN".
    """
    if scaler is not None and scaler.is_enabled():
        (grad,) = torch.autograd.grad(scaler.scale(logit_real.sum()), real, create_graph=True)
        grad = grad / scaler.get_scale()
    else:
        (grad,) = torch.autograd.grad(logit_real.sum(), real, create_graph=True)
    return 0.5 * gamma * grad.float().pow(2).flatten(1).sum(1).mean()


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a precision on a device; None: fp32, no autocast."""
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"--precision fp16 needs a CUDA GPU (device {device}); bf16 runs on CPUs too")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def grad_scaler(device: torch.device, enabled: bool):
    """A loss scaler for fp16 training (disabled: every call passes through)."""
    if hasattr(torch.amp, "GradScaler"):  # torch >= 2.3
        return torch.amp.GradScaler(device.type, enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)


@dataclass
class Trainer:
    """Everything a training run holds; :meth:`save` / :meth:`load` make it resumable."""

    cfg: TrainConfig
    model_cfg: ModelConfig
    G: Generator
    D: Discriminator
    G_ema: Generator
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    rng: torch.Generator  # shuffling and z; its state is saved, so a resumed run continues exactly
    device: torch.device
    epoch: int = 0  # epochs finished
    steps: int = 0  # D/G updates done in this run (drives the noise schedule)
    ema_steps: int = 0  # updates the EMA has averaged (drives its warm-up; carried over by init_from)
    train_seconds: float = 0.0  # wall-clock time spent in training epochs so far
    steps_per_epoch: int = 1
    epochs_run: int = 0  # epochs trained by the latest call of train()
    world: distributed.World = field(default_factory=distributed.World)  # this process among torchrun's
    G_train: torch.nn.Module | None = None  # G and D as the step calls them: DDP-wrapped with several
    D_train: torch.nn.Module | None = None  # processes, compiled with cfg.compile (see distribute),
    D_frozen: torch.nn.Module | None = None  # else G and D themselves; D_frozen: D in the G step,
    D_r1: torch.nn.Module | None = None  # D_r1: D in an R1 step, never compiled (no double backward)

    def __post_init__(self):
        self.G_train = self.G_train or self.G
        self.D_train = self.D_train or self.D
        self.D_frozen = self.D_frozen or self.D
        self.D_r1 = self.D_r1 or self.D_train
        self.amp = autocast_dtype(self.cfg.precision, self.device)  # None: fp32
        fp16 = self.amp == torch.float16  # fp16 gradients can underflow: scale the losses
        self.scaler_D, self.scaler_G = grad_scaler(self.device, fp16), grad_scaler(self.device, fp16)  # not saved: a resumed run re-learns the scale

    def autocast(self):
        """Mixed precision for the forward passes (cfg.precision); a no-op in fp32."""
        return torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None)

    @classmethod
    def create(cls, cfg: TrainConfig) -> "Trainer":
        cfg.validate()
        device = pick_device(cfg.device)
        set_seed(cfg.seed)
        model_cfg, G, D = cls.networks(cfg)
        G, D = G.to(device), D.to(device)
        if device.type == "cuda":  # NHWC: the layout cuDNN's convolutions (and tensor cores) prefer
            G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        G_ema = copy.deepcopy(G).eval().requires_grad_(False)
        rng = torch.Generator().manual_seed(cfg.seed)
        opt_G, opt_D = make_adam(G.parameters(), cfg), make_adam(D.parameters(), cfg, cfg.lr_D_mult)
        return cls(cfg, model_cfg, G, D, G_ema, opt_G, opt_D, rng, device)

    @staticmethod
    def networks(cfg: TrainConfig) -> tuple[ModelConfig, Generator, Discriminator]:
        """The networks' config and freshly initialised G and D (pix2pix's trainer has its own)."""
        model_cfg = cfg.model_config()
        return model_cfg, Generator(model_cfg), Discriminator(model_cfg)

    # ------------------------------------------------------------ several processes
    def distribute(self, world: distributed.World) -> None:
        """Train as one of ``world.size`` processes: global BatchNorm, DDP, a share of each batch.

        G and D keep their modules (checkpoints, EMA and samples use them as before); the step
        calls their DDP wrappers, which average the gradients. Explained in distributed.py.
        """
        self.world = world
        if world.size > 1:
            distributed.check_batch(self.cfg.batch_size, world, self.group)
            ids = [self.device.index or 0] if self.device.type == "cuda" else None
            wrap = lambda net: DistributedDataParallel(distributed.sync_batchnorm(net), ids)  # noqa: E731
            self.G_train, self.D_train = wrap(self.G), wrap(self.D)
        self.D_r1 = self.D_train  # torch.compile's autograd has no double backward, which R1 needs
        if self.cfg.compile:
            self.G_train, self.D_train, self.D_frozen = map(torch.compile, (self.G_train, self.D_train, self.D))

    @property
    def group(self) -> int:
        """D's minibatch-std group size (0: none); a process's share holds whole groups."""
        return getattr(self.model_cfg, "mbstd", 0)

    def share(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's share of a global batch (all of it for one process)."""
        return distributed.shard(batch, self.world, self.group)

    def draw(self, fn, *shape) -> torch.Tensor:
        """``fn(*shape)`` (torch.rand, torch.randn) for this process's share: drawn for the global batch from rng."""
        return self.share(fn(shape[0] * self.world.size, *shape[1:], generator=self.rng)).to(self.device)

    # ------------------------------------------------------------ one step
    def step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One update of D then G on a batch of real joint images (B, 3, s, 2s) in [-1, 1].

        With several processes ``real`` is this process's share of the global batch.
        """
        G, D, cfg = self.G_train, self.D_train, self.cfg
        b = real.shape[0]
        z = self.draw(torch.rand, b, self.model_cfg.nz).mul_(2).sub_(1)  # z ~ U(-1, 1), as sample_z
        with self.autocast():
            fake = G(z)
        noise = self.noise_std()
        policy = parse_augment(cfg.augment)

        def seen_by_D(x):  # DiffAugment, then instance noise (real and fake overlap early on)
            x = diff_augment(x, policy, self.rng, rand=lambda *shape: self.draw(torch.rand, *shape)) if policy else x
            return x + noise * self.draw(torch.randn, *x.shape) if noise else x

        # (1) Update D: maximise log D(x) + log(1 − D(G(z)))  [hinge: minimise relu(1 − D(x)) + relu(1 + D(G(z)))]
        #     + lazy R1 on real images, every r1_every steps: r1_every · (γ/2) · E‖∇ₓ D(x)‖²
        self.D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        seen_real = seen_by_D(real)
        r1_now = cfg.r1_gamma > 0 and self.steps % cfg.r1_every == 0
        if r1_now:
            seen_real = seen_real.detach().requires_grad_(True)
            D = self.D_r1
        with self.autocast():
            logit_real, logit_fake = D(seen_real), D(seen_by_D(fake.detach()))
            loss_D = d_loss(logit_real, logit_fake, cfg.loss, cfg.real_label)
        if r1_now:
            loss_D = loss_D + cfg.r1_every * r1_penalty(logit_real, seen_real, cfg.r1_gamma, self.scaler_D)
        self.scaler_D.scale(loss_D).backward()  # a no-op scale unless fp16
        self.scaler_D.step(self.opt_D)
        self.scaler_D.update()

        # (2) Update G: maximise log D(G(z)) (non-saturating) [hinge: maximise D(G(z))], D's weights frozen
        self.D.requires_grad_(False)  # no gradients for D's weights: the G step is cheaper
        for k in range(cfg.g_steps):
            with self.autocast():
                if k:  # extra G steps draw fresh z
                    fake = G(self.draw(torch.rand, b, self.model_cfg.nz).mul_(2).sub_(1))
                loss_G = g_loss(self.D_frozen(seen_by_D(fake)), cfg.loss)  # not DDP's D: no gradients of D to average
            self.opt_G.zero_grad(set_to_none=True)
            self.scaler_G.scale(loss_G).backward()
            self.scaler_G.step(self.opt_G)
            self.scaler_G.update()
        return self.end_step(loss_D, loss_G, logit_real, logit_fake)

    def end_step(self, loss_D, loss_G, logit_real, logit_fake) -> dict[str, torch.Tensor]:
        """After both updates: move the EMA of G, count the step, return what losses.csv records."""
        if self.cfg.ema_decay:
            update_ema(self.G_ema, self.G, ema_decay_at(self.ema_steps, self.cfg.ema_decay))
        self.steps += 1
        self.ema_steps += 1
        return {
            "loss_D": loss_D.detach(),
            "loss_G": loss_G.detach(),
            "D_x": torch.sigmoid(logit_real.detach().float()).mean(),  # float: bf16 logits under autocast
            "D_G_z": torch.sigmoid(logit_fake.detach().float()).mean(),
        }

    def noise_std(self) -> float:
        """Instance-noise std at the current step: linear from ``instance_noise`` to 0 over the run."""
        if not self.cfg.instance_noise:
            return 0.0
        total = self.cfg.epochs * self.steps_per_epoch
        return self.cfg.instance_noise * max(0.0, 1.0 - self.steps / max(1, total))

    def epoch_batches(self, n: int) -> list[torch.Tensor]:
        """Shuffled index batches for one epoch; a last partial batch is dropped (BN needs > 1)."""
        order = torch.randperm(n, generator=self.rng)
        b = self.cfg.batch_size
        return [order[i : i + b] for i in range(0, n - b + 1, b)] if n >= b else [order]

    def run_epoch(self, images: torch.Tensor, progress: bool = True) -> list[dict[str, float]]:
        """Train one epoch on uint8 joint images (N, s, 2s, 3) held as a torch tensor."""
        self.G.train()
        self.D.train()
        rows, pending = [], []
        batches = self.epoch_batches(len(images))
        self.steps_per_epoch = len(batches)
        bar = tqdm(batches, desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}", disable=not progress, leave=False)
        for i, idx in enumerate(bar):
            real = images[self.share(idx)].to(self.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(127.5).sub_(1)
            pending.append(self.step(real))
            if i % 10 == 0 or i == len(batches) - 1:  # every 10 steps: a diverged run stops early, at little cost on a GPU
                check_finite(self, pending[-1])
                if progress:
                    bar.set_postfix({k: f"{v.item():.3f}" for k, v in pending[-1].items()})
        names = list(pending[0]) if pending else []
        table = distributed.mean_over_processes(torch.stack([torch.stack(list(p.values())) for p in pending])) if pending else []
        for i, values in enumerate(table):  # with several processes: the means over all of them
            rows.append({"epoch": self.epoch + 1, "step": i, **dict(zip(names, values.tolist()))})
        self.epoch += 1
        return rows

    def samples(self, G: Generator, images: torch.Tensor) -> torch.Tensor:
        """G(z) for 64 fixed z (the same every epoch), for samples/epoch_NNN.png; ``images`` is unused."""
        z = sample_z(64, self.model_cfg.nz, torch.Generator().manual_seed(self.cfg.seed + 1)).to(self.device)
        with torch.no_grad():
            return G(z)

    # ------------------------------------------------------------ generator used for completion
    def completion_generator(self) -> Generator:
        """The EMA generator (BN statistics re-estimated), or G itself when the EMA is off."""
        if not self.cfg.ema_decay:
            return self.G
        recalibrate_bn(self.G_ema)
        return self.G_ema

    # ------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        return {
            "config": {"model": self.model_cfg.to_dict(), "train": asdict(self.cfg)},
            "epoch": self.epoch,
            "steps": self.steps,
            "ema_steps": self.ema_steps,
            "train_seconds": self.train_seconds,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "rng": {"train": self.rng.get_state(), "torch": torch.get_rng_state()},
        }

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint atomically (a temporary file renamed into place)."""
        with atomic_path(path) as tmp:
            torch.save(self.state(), tmp)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, cfg: TrainConfig) -> "Trainer":
        """Resume from ``path``; refuse a checkpoint whose settings differ from ``cfg``."""
        ckpt = read_checkpoint(path)
        if "opt_G" not in ckpt:
            raise ValueError(f"{path} is an exported model (no optimiser state): use it to complete or with init_from, not to resume")
        saved = TrainConfig.from_dict(ckpt["config"]["train"])
        diff = {k: (getattr(saved, k), getattr(cfg, k)) for k in RESUME_KEYS if getattr(saved, k) != getattr(cfg, k)}
        if diff:
            detail = ", ".join(f"{k}: checkpoint {a!r} vs asked {b!r}" for k, (a, b) in diff.items())
            raise ValueError(f"cannot resume {path}: its settings differ ({detail})")
        trainer = cls.create(cfg)
        check_model_config(ckpt, trainer.model_cfg, path)
        trainer.G.load_state_dict(ckpt["G"])
        trainer.D.load_state_dict(ckpt["D"])
        trainer.G_ema.load_state_dict(ckpt["G_ema"])
        trainer.opt_G.load_state_dict(ckpt["opt_G"])
        trainer.opt_D.load_state_dict(ckpt["opt_D"])
        trainer.rng.set_state(ckpt["rng"]["train"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        trainer.epoch = int(ckpt["epoch"])
        trainer.steps = int(ckpt.get("steps", 0))
        trainer.ema_steps = int(ckpt.get("ema_steps", trainer.steps))
        trainer.train_seconds = float(ckpt.get("train_seconds", 0.0))
        return trainer

    @classmethod
    def init_from(cls, path: str | Path, cfg: TrainConfig) -> "Trainer":
        """A new run (fresh optimisers, epoch 0) that starts from the weights of a trained model.

        The paper trains on XDoG sketches first and then fine-tunes on other styles with lr 1e-5.
        The EMA of G carries on at its full decay instead of warming up again.
        Explained in "Sketches with XDoG".
        """
        ckpt = read_checkpoint(path)
        trainer = cls.create(cfg)
        check_model_config(ckpt, trainer.model_cfg, path)
        trainer.G.load_state_dict(ckpt.get("G", ckpt.get("G_ema")))  # an exported model has one G
        trainer.D.load_state_dict(ckpt["D"])
        trainer.G_ema.load_state_dict(ckpt.get("G_ema", ckpt.get("G")))
        trainer.ema_steps = int(ckpt.get("ema_steps", ckpt.get("steps", 0)))
        return trainer


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint file (or the one in a run folder) safely, with ``weights_only=True``."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, wrong format, pickled code…
        raise ValueError(f"{path} is not a readable checkpoint (truncated or corrupt?): {type(e).__name__}: {e}") from None
    missing = [k for k in ("config", "epoch", "D") if not isinstance(ckpt, dict) or k not in ckpt]
    if not missing and "G" not in ckpt and "G_ema" not in ckpt:
        missing = ["G"]
    if missing:
        raise ValueError(f"{path} is not a cgan_minimal checkpoint: missing {', '.join(missing)}")
    check_saved_config(ckpt["config"], path)
    return ckpt


# Sane bounds for the network shapes a checkpoint may ask for (checked before any network is built).
MODEL_BOUNDS = {"size": (8, 512), "nz": (1, 4096), "ngf": (1, 1024), "ndf": (1, 1024), "channels": (1, 4), "mbstd": (0, 1024),
                "d_layers": (0, 8), "d_kernel": (1, 9)}


def _check_fields(section: dict, cls, where: str) -> None:
    """Every key of ``section`` is a field of dataclass ``cls`` and has the type of its default."""
    defaults = cls() if cls is not TrainConfig else TrainConfig(recipe="dcgan")
    names = {f.name for f in fields(cls)}
    for key, value in section.items():
        if key not in names:
            raise ValueError(f"{where}: unknown setting {key!r}")
        default = getattr(defaults, key)
        kind = (int, float) if isinstance(default, float) else type(default)
        if not isinstance(value, kind) or (isinstance(value, bool) and not isinstance(default, bool)):
            raise ValueError(f"{where}: {key} must be {type(default).__name__}, got {value!r}")


def check_saved_config(config, path) -> None:
    """Refuse a checkpoint's config that is malformed: sections, keys, types and sane bounds.

    A crafted or foreign file fails here with its path and the setting, before any network is built.
    """
    where = f"checkpoint {path}"
    if not isinstance(config, dict) or not all(isinstance(config.get(k), dict) for k in ("model", "train")):
        raise ValueError(f"{where}: its config needs a 'model' and a 'train' section")
    _check_fields(config["train"], TrainConfig, f"{where}, train config")
    if config["train"].get("model", "contextual") == "pix2pix":
        from .pix2pix import Pix2PixConfig as model_class
    else:
        model_class = ModelConfig
    _check_fields(config["model"], model_class, f"{where}, model config")
    for key, value in config["model"].items():
        low, high = MODEL_BOUNDS.get(key, (None, None))
        if low is not None and not low <= value <= high:
            raise ValueError(f"{where}, model config: {key} = {value} is outside [{low}, {high}]")
    try:
        model_class(**config["model"])
        TrainConfig.from_dict(config["train"]).validate()
    except (ValueError, TypeError) as e:
        raise ValueError(f"{where}: {e}") from None


def check_model_config(ckpt: dict, expected: ModelConfig, path) -> None:
    """Refuse a checkpoint whose network shapes differ from ``expected``."""
    saved = {**type(expected)().to_dict(), **ckpt["config"]["model"]}  # fields added later take their defaults
    diff = {k: (saved[k], v) for k, v in expected.to_dict().items() if saved[k] != v}
    if diff:
        detail = ", ".join(f"{k}: checkpoint {a} vs preset {b}" for k, (a, b) in diff.items())
        raise ValueError(f"checkpoint {path} does not match the preset ({detail})")


def load_models(path: str | Path, device="cpu", expected: ModelConfig | None = None):
    """Load a trained model for completion: ``(G, D, model_cfg, train_cfg)``, both nets in eval mode.

    G is the EMA generator when the run kept one. Explained in "Projection through back-propagation".
    """
    ckpt = read_checkpoint(path)
    if ckpt["config"]["train"].get("model", "contextual") != "contextual":
        raise ValueError(f"{path} is a {ckpt['config']['train']['model']} model, not Contextual GAN: load it with cgan_minimal.pix2pix.load")
    model_cfg = ModelConfig(**ckpt["config"]["model"])
    if expected is not None:
        check_model_config(ckpt, expected, path)
    train_cfg = TrainConfig.from_dict(ckpt["config"]["train"])
    G, D = Generator(model_cfg), Discriminator(model_cfg)
    try:
        G.load_state_dict(ckpt["G_ema"] if train_cfg.ema_decay and "G_ema" in ckpt else ckpt["G"])
        D.load_state_dict(ckpt["D"])
    except RuntimeError as e:
        raise ValueError(f"checkpoint {path}: weights do not fit its own config: {e}") from None
    G, D = G.to(device).eval(), D.to(device).eval()
    return G.requires_grad_(False), D.requires_grad_(False), model_cfg, train_cfg


def export(path: str | Path, out: str | Path, half: bool = True) -> Path:
    """Write the small model file that completion needs: config, D and the completion generator.

    The generator is the EMA one (its BN statistics already re-estimated) when the run kept an
    EMA. ``half`` stores the weights as float16 (about 4.7 MB at the cpu preset instead of 34 MB
    for a full checkpoint); they are loaded back as float32. The file works with
    :func:`load_models` and ``init_from``, not with ``resume``. Explained in "Training the GAN".
    """
    source, out = Path(path) / CHECKPOINT if Path(path).is_dir() else Path(path), Path(out)
    if out.exists() and out.resolve() == source.resolve():
        raise ValueError(f"export --out {out} is the checkpoint being exported: write the model to another file")
    if out.is_file() and _resumable(out):
        raise ValueError(f"export --out {out} is a resumable training checkpoint: write the model to another file")
    check_output_file(out)
    ckpt = read_checkpoint(path)

    def small(state: dict) -> dict:
        return {k: v.half() if half and v.is_floating_point() else v for k, v in state.items()}

    g_key = "G_ema" if TrainConfig.from_dict(ckpt["config"]["train"]).ema_decay and "G_ema" in ckpt else "G"
    slim = {k: ckpt[k] for k in ("config", "epoch") if k in ckpt}
    slim.update({k: ckpt[k] for k in ("steps", "ema_steps", "train_seconds") if k in ckpt})
    slim.update({g_key: small(ckpt[g_key]), "D": small(ckpt["D"])})
    with atomic_path(out) as tmp:
        torch.save(slim, tmp)
    return Path(out)


def _resumable(path: Path) -> bool:
    """Whether ``path`` is a training checkpoint (with optimiser state) that resume needs."""
    try:
        return "opt_G" in read_checkpoint(path)
    except ValueError:
        return False


def pretrained(name: str = "faces_xdog") -> Path:
    """The path of a model shipped in ``cgan_minimal/pretrained/`` (see its README for how each was made)."""
    path = PRETRAINED / f"{name}.pt"
    if not path.is_file():
        have = ", ".join(sorted(p.stem for p in PRETRAINED.glob("*.pt"))) or "none"
        raise FileNotFoundError(f"no shipped model {name!r} (shipped: {have})")
    return path


def _write_losses(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, LOSS_FIELDS)
            w.writeheader()
            for r in rows:
                w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})


def read_losses(path: Path, upto_epoch: int) -> list[dict]:
    """The rows of a run's losses.csv up to ``upto_epoch`` (none if there is no file)."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        {k: (int(v) if k in ("epoch", "step") else float(v)) for k, v in r.items()} for r in rows if int(r["epoch"]) <= upto_epoch
    ]


def trainer_for(cfg: TrainConfig) -> type[Trainer]:
    """:class:`Trainer` for Contextual GAN, :class:`pix2pix.Pix2PixTrainer` for the baseline."""
    if cfg.model == "pix2pix":
        from .pix2pix import Pix2PixTrainer  # it subclasses Trainer, so it imports this module

        return Pix2PixTrainer
    return Trainer


RUN_FILES = (CHECKPOINT, "config.json", "losses.csv", "metrics.json")  # what train writes in a run folder, with samples/


def prepare_run_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to silently replace a run; with ``overwrite``, remove everything an earlier run wrote.

    Also removes the temporaries that a run killed while saving left behind.
    """
    check_output_folder(out)
    if out.is_dir():
        remove_stale_temporaries(out)
    if (out / CHECKPOINT).exists() and not (resume or overwrite):
        raise ValueError(f"{out} already holds a training run: pass --resume to continue it, or --overwrite to replace it")
    if overwrite and not resume:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        for png in (out / "samples").glob("epoch_*.png"):
            png.unlink()


def images_on_gpu(images: torch.Tensor, device: torch.device, memory_mapped: bool) -> torch.Tensor:
    """The uint8 training images on the GPU when they take under a quarter of its free memory
    (CelebA at 64×128: 4 GB); else in pinned memory, or memory-mapped, batch by batch."""
    free, _ = torch.cuda.mem_get_info(device)
    if images.numel() < free // 4:
        return images.to(device)
    return images if memory_mapped else images.pin_memory()  # a pinned copy, not of a cache that may not fit


def check_finite(trainer: "Trainer", losses: dict[str, torch.Tensor]) -> None:
    """Stop a diverging run: a loss or a weight that is not finite raises, before anything is saved."""
    bad = [k for k, v in losses.items() if not torch.isfinite(v).all()]
    bad += [f"{net}.{name}" for net, model in (("G", trainer.G), ("D", trainer.D))
            for name, w in model.named_parameters() if not torch.isfinite(w).all()][:3]
    if bad:
        kept = f"the last good checkpoint (epoch {trainer.epoch}) is kept" if trainer.epoch else "no checkpoint was written"
        raise FloatingPointError(
            f"training diverged at epoch {trainer.epoch + 1}, step {trainer.steps}: {', '.join(bad)} not finite; {kept}; try a lower --lr"
        )


def train(
    cfg: TrainConfig, out: str | Path, resume: bool = False, dataset: data_mod.JointData | None = None, progress: bool = True,
    eval_every: int = 0, classifier: str | Path | None = None, quality_samples: int = 1000, overwrite: bool = False,
) -> Trainer:
    """Train (or, with ``resume``, continue) a run in folder ``out``; returns the :class:`Trainer`.

    ``dataset`` overrides ``cfg.data`` (e.g. data already in memory). After the last epoch, and
    every ``eval_every`` epochs, the completion generator's sample quality
    (:func:`metrics.sample_quality`, ``quality_samples`` samples against as many real photos; read
    by ``classifier``, by default the shipped one for the embedded faces) is printed and written
    to ``out/metrics.json``; ``quality_samples=0`` skips it. A folder that already holds a run is
    refused unless ``resume`` (continue it) or ``overwrite`` (start over; the old files are
    removed). A loss or weight that stops being finite ends the run with ``FloatingPointError``,
    keeping the last good checkpoint. ``trainer.epochs_run`` is the number of epochs this call
    trained. Explained in "Training the GAN".

    Started by ``torchrun --nproc-per-node N``, each of the N processes trains on its share of
    every batch (``cfg.batch_size`` is the global batch) and only process 0 writes files and
    prints (distributed.py).
    """
    cfg.validate()
    if eval_every < 0 or quality_samples < 0 or quality_samples == 1:
        raise ValueError(f"eval_every must be >= 0 and quality_samples 0 or >= 2, got {eval_every}, {quality_samples}")
    out = Path(out)
    world = distributed.world_from_env()
    device = pick_device(cfg.device)  # a bad device name fails before the folder is touched
    if world.size > 1:
        distributed.check_batch(cfg.batch_size, world, cfg.mbstd if cfg.model == "contextual" else 0)
        distributed.start(world, device)
    try:
        return _train(cfg, out, resume, dataset, progress and world.main, eval_every, classifier, quality_samples, overwrite, world)
    finally:
        distributed.stop()


def _train(cfg, out, resume, dataset, progress, eval_every, classifier, quality_samples, overwrite, world) -> Trainer:
    """:func:`train` in one process of ``world``; only process 0 (``world.main``) writes."""
    ckpt_path = out / CHECKPOINT
    if world.main:
        prepare_run_folder(out, resume, overwrite)
    trainer_class = trainer_for(cfg)
    distributed.barrier()  # the folder is ready before any process reads it
    if resume and ckpt_path.exists():
        trainer = trainer_class.load(ckpt_path, cfg)
        if trainer.epoch >= cfg.epochs:
            if progress:
                print(f"{out} already has {trainer.epoch} epochs (--epochs {cfg.epochs}): nothing to train")
            return trainer  # config.json and the checkpoint stay as they are
    else:
        if resume and progress:
            print(f"no checkpoint in {out}; starting a new run")
        trainer = trainer_class.init_from(cfg.init_from, cfg) if cfg.init_from else trainer_class.create(cfg)
    trainer.cfg = cfg  # epochs may be raised on resume
    size = trainer.model_cfg.size
    dataset = dataset if dataset is not None else load_training_data(cfg, size)
    if dataset.size != size:
        raise ValueError(f"the data has {dataset.size}×{2 * dataset.size} joint images; preset {cfg.preset!r} needs {size}×{2 * size}")
    if len(dataset) < 2:
        raise ValueError(f"need at least 2 training images, got {len(dataset)} from {dataset.source or cfg.data}")
    if world.size > 1 and len(dataset) < cfg.batch_size:
        raise ValueError(f"{world.size} processes need at least --batch-size {cfg.batch_size} training images, got {len(dataset)}")
    trainer.distribute(world)
    measure = quality_samples and cfg.model == "contextual" and world.main
    if measure:  # fail before training, not after, on a bad classifier
        clf = attributes.load(classifier) if classifier else default_classifier(cfg)
        reference = reference_photos(cfg, size, quality_samples)
    images = torch.from_numpy(dataset.images)  # uint8, shared (a folder's cache stays memory-mapped): each batch becomes float alone
    if trainer.device.type == "cuda":
        images = images_on_gpu(images, trainer.device, memory_mapped=isinstance(dataset.images, np.memmap))
    if world.main:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "config.json") as tmp:
            tmp.write_text(to_json({"model": trainer.model_cfg.to_dict(), "train": asdict(cfg)}))
        rows = read_losses(out / "losses.csv", trainer.epoch)
        quality = read_quality(out / "metrics.json", trainer.epoch)
    start, first_epoch = time.perf_counter(), trainer.epoch
    for _ in range(trainer.epoch, cfg.epochs):
        t_epoch = time.perf_counter()
        epoch_rows = trainer.run_epoch(images, progress)
        trainer.train_seconds += time.perf_counter() - t_epoch
        if not world.main:  # the other processes only train
            trainer.epochs_run = trainer.epoch - first_epoch
            continue
        rows += epoch_rows
        G = trainer.completion_generator()
        samples = data_mod.to_image(trainer.samples(G, images))
        save_png(grid(samples, ncol=8), out / "samples" / f"epoch_{trainer.epoch:03d}.png", scale=2)
        _write_losses(out / "losses.csv", rows)
        trainer.save(ckpt_path)
        mean = {k: np.mean([r[k] for r in epoch_rows]) for k in LOSS_FIELDS[2:]}
        if progress:
            tqdm.write(
                f"epoch {trainer.epoch}/{cfg.epochs}  "
                + "  ".join(f"{k} {v:.3f}" for k, v in mean.items())
                + f"  ({time.perf_counter() - start:.0f} s)"
            )
        if measure and (trainer.epoch == cfg.epochs or (eval_every and trainer.epoch % eval_every == 0)):
            q = metrics.sample_quality(generated_photos(G, quality_samples), reference, clf)
            quality.append({"epoch": trainer.epoch, **q})
            with atomic_path(out / "metrics.json") as tmp:
                tmp.write_text(to_json({"sample_quality": quality}))
            if progress:
                tqdm.write(quality_line(q))
        trainer.epochs_run = trainer.epoch - first_epoch
    return trainer


def read_quality(path: Path, upto_epoch: int) -> list[dict]:
    """The sample-quality records of a run's metrics.json up to ``upto_epoch`` (none if no file)."""
    if not path.exists():
        return []
    return [q for q in json.loads(path.read_text()).get("sample_quality", []) if q["epoch"] <= upto_epoch]
