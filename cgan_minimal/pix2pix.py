"""The baseline: pix2pix (Isola et al., CVPR 2017), trained on the same joint images (chapter
"Contextual GAN vs pix2pix").

pix2pix learns a direct map G: sketch → photo from the pairs. A conditional discriminator D
sees a sketch together with a photo and says, patch by patch, whether the pair is real:

    G* = arg min_G max_D  L_cGAN(G, D) + λ_L1 · L_L1(G)                  (Isola et al., Eq. 4)

    L_cGAN(G, D) = E_{s,p}[log D(s, p)] + E_s[log(1 − D(s, G(s)))]        (Eq. 1)
    L_L1(G)      = E_{s,p}[ |p − G(s)|₁ ]                                  (Eq. 3), λ_L1 = 100

Here s is the sketch half and p the photo half of a joint image. D's loss is halved, as in
the authors' code, which slows D relative to G. Adam with lr 2e-4, β1 0.5.

Contextual GAN's claim is that this strong, pixel-aligned conditioning makes pix2pix follow a
badly drawn sketch too faithfully, while completion treats the sketch as a weak constraint.

Networks, sized for the project's presets (shapes for ``cpu``, s = 32, width f = 32):

- **U-Net generator**: log2(s) stride-2 4×4 convolutions down to 1 × 1 (channels f, 2f, 4f,
  8f, 8f; LeakyReLU 0.2, normalisation on all but the first and the innermost), then as many
  4×4 transposed convolutions up, each fed the matching encoder output through a skip
  connection; dropout 0.5 on the two decoder layers after the innermost; tanh output.
  Normalisation is InstanceNorm, which is what pix2pix's BatchNorm at batch size 1 computes;
  it keeps no running statistics, so the EMA of G's weights is the whole generator.
- **PatchGAN discriminator**: the 70 × 70 design (stride-2 convolutions, then two stride-1
  ones, one logit per patch) scaled to the image size: pix2pix's 70-pixel receptive field is
  27 % of a 256-pixel image; here one stride-2 layer with 4×4 kernels sees 16 px of 64 (25 %)
  for the paper preset, and with 3×3 kernels 11 px of 32 (34 %) for the CPU presets.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import data
from .models import init_weights
from .train import Trainer, TrainConfig, check_model_config, read_checkpoint


@dataclass(frozen=True)
class Pix2PixConfig:
    """Shapes of the U-Net G and the PatchGAN D; ``PRESETS`` matches the Contextual GAN presets' sizes."""

    size: int = 64  # s: side of the sketch and of the photo (joint images s × 2s)
    ngf: int = 64  # f for G: channels of the first encoder layer; deeper ones have up to 8f (pix2pix: 64)
    ndf: int = 64  # f for D: channels of its first layer (pix2pix: 64)
    d_layers: int = 1  # stride-2 layers of D (pix2pix's 70×70 PatchGAN at 256 px: 3)
    d_kernel: int = 4  # kernel of D's convolutions (pix2pix: 4)
    channels: int = 3  # RGB

    def __post_init__(self):
        if self.size < 8 or self.size & (self.size - 1):
            raise ValueError(f"Pix2PixConfig.size must be a power of two >= 8 (the U-Net goes down to 1×1), got {self.size}")

    @property
    def depth(self) -> int:
        """Number of stride-2 levels of the U-Net: log2(s)."""
        return int(math.log2(self.size))

    @property
    def receptive_field(self) -> int:
        """Side in pixels of the input patch each of D's logits sees."""
        rf = 1
        for stride in reversed([2] * self.d_layers + [1, 1]):
            rf = (rf - 1) * stride + self.d_kernel
        return rf

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Pix2PixConfig] = {
    "paper": Pix2PixConfig(size=64, ngf=64, ndf=64, d_layers=1, d_kernel=4),  # 64 px, D sees 16×16 patches
    "cpu": Pix2PixConfig(size=32, ngf=32, ndf=32, d_layers=1, d_kernel=3),  # 32 px, D sees 11×11 patches
    "tiny": Pix2PixConfig(size=32, ngf=16, ndf=16, d_layers=1, d_kernel=3),  # for tests
}


def preset(name: str) -> Pix2PixConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def _norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=True)


class UNet(nn.Module):
    """G(s): sketches (B, 3, s, s) in [-1, 1] → photos (B, 3, s, s) in [-1, 1]. Shapes for the cpu preset."""

    def __init__(self, cfg: Pix2PixConfig = PRESETS["cpu"]):
        super().__init__()
        self.cfg = cfg
        depth = cfg.depth
        ch = [cfg.ngf * min(2**i, 8) for i in range(depth)]  # cpu: 32, 64, 128, 256, 256
        self.down = nn.ModuleList()  # (B, 32, 16, 16) → (B, 64, 8, 8) → (B, 128, 4, 4) → (B, 256, 2, 2) → (B, 256, 1, 1)
        for i in range(depth):
            layers = [nn.LeakyReLU(0.2, True)] if i else []
            layers.append(nn.Conv2d(ch[i - 1] if i else cfg.channels, ch[i], 4, 2, 1))
            if 0 < i < depth - 1:
                layers.append(_norm(ch[i]))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()  # (B, 256, 2, 2) → (B, 128, 4, 4) → (B, 64, 8, 8) → (B, 32, 16, 16) → (B, 3, 32, 32)
        for k, i in enumerate(reversed(range(depth))):
            cin = ch[i] if k == 0 else 2 * ch[i]  # after the innermost, the input is [decoder | skip]
            layers = [nn.ReLU(True), nn.ConvTranspose2d(cin, ch[i - 1] if i else cfg.channels, 4, 2, 1)]
            if i == 0:
                layers.append(nn.Tanh())
            else:
                layers.append(_norm(ch[i - 1]))
                if k in (1, 2):
                    layers.append(nn.Dropout(0.5))
            self.up.append(nn.Sequential(*layers))
        self.apply(init_weights)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        skips = []
        x = s
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = self.up[0](skips.pop())
        for layer in self.up[1:]:
            x = layer(torch.cat([x, skips.pop()], 1))
        return x


class PatchGAN(nn.Module):
    """D(s, p): a sketch and a photo (B, 3, s, s) each → patch logits (B, 1, h, w). Shapes for the cpu preset."""

    def __init__(self, cfg: Pix2PixConfig = PRESETS["cpu"]):
        super().__init__()
        self.cfg = cfg
        f, k, pad = cfg.ndf, cfg.d_kernel, 1
        layers = [nn.Conv2d(2 * cfg.channels, f, k, 2, pad), nn.LeakyReLU(0.2, True)]  # (B, 32, 16, 16)
        c = f
        for _ in range(1, cfg.d_layers):
            layers += [nn.Conv2d(c, 2 * c, k, 2, pad, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, True)]
            c *= 2
        layers += [nn.Conv2d(c, 2 * c, k, 1, pad, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, True)]  # (B, 64, 16, 16)
        layers.append(nn.Conv2d(2 * c, 1, k, 1, pad))  # (B, 1, 16, 16): one logit per 11×11 patch
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, s: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([s, p], 1))


class Pix2PixTrainer(Trainer):
    """:class:`train.Trainer` with pix2pix's networks and step; checkpoints, EMA and resume are shared."""

    @staticmethod
    def networks(cfg: TrainConfig) -> tuple[Pix2PixConfig, UNet, PatchGAN]:
        model_cfg = preset(cfg.preset)
        return model_cfg, UNet(model_cfg), PatchGAN(model_cfg)

    def step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One update of D then G on a batch of real joint images (B, 3, s, 2s) in [-1, 1]."""
        G, D = self.G_train, self.D_train  # DDP-wrapped with several processes
        s, p = data.split(real)
        fake = G(s)

        # (1) Update D: maximise log D(s, p) + log(1 − D(s, G(s))), the loss halved
        D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        logit_real, logit_fake = D(s, p), D(s, fake.detach())
        loss_D = 0.5 * (F.binary_cross_entropy_with_logits(logit_real, torch.full_like(logit_real, self.cfg.real_label))
                        + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))
        loss_D.backward()
        self.opt_D.step()

        # (2) Update G: maximise log D(s, G(s)) and minimise λ_L1 · |p − G(s)|₁
        D.requires_grad_(False)
        for k in range(self.cfg.g_steps):
            if k:
                fake = G(s)
            self.opt_G.zero_grad(set_to_none=True)
            logit_gen = self.D(s, fake)  # D itself: no gradients of D to average
            loss_G = F.binary_cross_entropy_with_logits(logit_gen, torch.ones_like(logit_gen)) + self.cfg.l1_weight * (fake - p).abs().mean()
            loss_G.backward()
            self.opt_G.step()
        return self.end_step(loss_D, loss_G, logit_real, logit_fake)

    def completion_generator(self) -> UNet:
        """The EMA generator (nothing to re-estimate: InstanceNorm keeps no statistics), or G."""
        return self.G_ema if self.cfg.ema_decay else self.G

    def samples(self, G: UNet, images: torch.Tensor) -> torch.Tensor:
        """Joint images [sketch | G(sketch)] of the first 64 training images, for samples/epoch_NNN.png."""
        s = data.split(images[:64].to(self.device).permute(0, 3, 1, 2).float().div(127.5).sub(1))[0]
        with torch.no_grad():
            return data.join(s, G.eval()(s))


def load(path, device="cpu", expected: Pix2PixConfig | None = None) -> tuple[UNet, Pix2PixConfig, TrainConfig]:
    """Load a trained pix2pix generator (the EMA one when kept) in eval mode: ``(G, model_cfg, train_cfg)``."""
    ckpt = read_checkpoint(path)
    train_cfg = TrainConfig.from_dict(ckpt["config"]["train"])
    if train_cfg.model != "pix2pix":
        raise ValueError(f"{path} is a {train_cfg.model!r} model, not a pix2pix baseline (train one with --model pix2pix)")
    model_cfg = Pix2PixConfig(**ckpt["config"]["model"])
    if expected is not None:
        check_model_config(ckpt, expected, path)
    G = UNet(model_cfg)
    try:
        G.load_state_dict(ckpt["G_ema"] if train_cfg.ema_decay and "G_ema" in ckpt else ckpt["G"])
    except RuntimeError as e:
        raise ValueError(f"checkpoint {path}: weights do not fit its own config: {e}") from None
    return G.to(device).eval().requires_grad_(False), model_cfg, train_cfg


@torch.no_grad()
def translate(G: UNet, sketches: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """G(s) for sketches (B, 3, s, s) in [-1, 1], in eval mode (no dropout): photos (B, 3, s, s).

    Explained in "Contextual GAN vs pix2pix".
    """
    shape = (G.cfg.channels, G.cfg.size, G.cfg.size)
    if sketches.ndim != 4 or tuple(sketches.shape[1:]) != shape:
        raise ValueError(f"translate: sketches must be (B, {shape[0]}, {shape[1]}, {shape[2]}) for this model, got {tuple(sketches.shape)}")
    G.eval()
    return torch.cat([G(sketches[i : i + batch_size]) for i in range(0, len(sketches), batch_size)])
