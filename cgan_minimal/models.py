"""DCGAN generator G and discriminator D on joint images (SPEC §4; chapter "Training the GAN").

Contextual GAN's networks are a plain DCGAN (Radford et al., 2016) whose images happen to be
joint images ``[sketch | photo]`` of height ``s`` and width ``2s`` (paper: s = 64).

Generator, with ``f`` the width (paper 64) and ``z ~ U(-1, 1)^100``:

    z → Linear → (8f, s/16, s/8) → BN → ReLU
      → [ConvT 5×5 stride 2 → BN → ReLU] × 3      (4f, 2f, f channels; each doubles H and W)
      → ConvT 5×5 stride 2 → tanh                 (3 channels, s × 2s)

Discriminator (LeakyReLU slope 0.2, BN on layers 2–4, no BN on the input layer):

    x → [Conv 5×5 stride 2] × 4  (f, 2f, 4f, 8f channels; s × 2s → s/16 × s/8)
      → Linear(8f · s/16 · s/8 → 1)               (a logit; D(x) = sigmoid(logit))

Two options of D, off in the paper's DCGAN and used by the training recipes of ``train.py``
(chapter "Training the GAN", where they are measured against mode collapse):

- ``d_norm``: ``"bn"`` (the paper), ``"sn"`` — spectral normalisation of every weight
  (Miyato et al. 2018: each W is divided by its largest singular value σ(W), estimated by one
  power iteration per step, so D is 1-Lipschitz per layer) and no BN —, ``"sn+bn"`` or ``"none"``;
- ``mbstd``: a minibatch standard-deviation layer before the last layer (Karras et al. 2018,
  "Progressive growing of GANs", §3): in groups of ``mbstd`` images, the standard deviation of
  every feature over the group, averaged to one number and appended as an extra channel,

      σ = mean_{c,h,w} sqrt(Var_group(x_{c,h,w}) + 1e-8),

  so D can see that a batch of fakes looks alike, which G then has to avoid.

The paper's text says "five up-sampling layers"; four stride-2 layers are what take 4 × 8 to
64 × 128, and what the authors' code uses. All weights start from N(0, 0.02) (BN scales from
N(1, 0.02)), as in DCGAN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


D_NORMS = ("bn", "sn", "sn+bn", "none")


@dataclass(frozen=True)
class ModelConfig:
    """Shapes of G and D. ``PRESETS`` holds the paper's values and two small CPU variants."""

    size: int = 64  # s: side of one half; joint images are s × 2s (paper: 64 × 128)
    nz: int = 100  # dimension of z ~ U(-1, 1)^nz (paper: 100)
    ngf: int = 64  # f for G: channels of its last hidden layer; the first has 8f (paper: 64)
    ndf: int = 64  # f for D: channels of its first layer; the last has 8f (paper: 64)
    channels: int = 3  # RGB
    d_norm: str = "bn"  # D's normalisation: bn (paper), sn (spectral norm, no BN), sn+bn, none
    mbstd: int = 0  # group size of D's minibatch standard-deviation layer; 0 = none (paper)

    def __post_init__(self):
        if self.size % 16 or self.size < 16:
            raise ValueError(f"ModelConfig.size must be a multiple of 16 (four stride-2 layers), got {self.size}")
        if self.d_norm not in D_NORMS:
            raise ValueError(f"ModelConfig.d_norm must be one of {', '.join(D_NORMS)}, got {self.d_norm!r}")
        if self.mbstd < 0 or self.mbstd == 1:
            raise ValueError(f"ModelConfig.mbstd is a group size >= 2, or 0 for none; got {self.mbstd}")

    @property
    def joint_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one joint image."""
        return (self.channels, self.size, 2 * self.size)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, ModelConfig] = {
    "paper": ModelConfig(size=64, ngf=64, ndf=64),  # SPEC §4: 64×128 joint images, width 64
    "cpu": ModelConfig(size=32, ngf=32, ndf=32),  # 32×64, width 32: trains in minutes on a laptop
    "tiny": ModelConfig(size=32, ngf=16, ndf=16),  # 32×64, width 16: for tests
}


def preset(name: str) -> ModelConfig:
    """The :class:`ModelConfig` of a preset name, with a clear error for an unknown one."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv/linear weights ~ N(0, 0.02), BN scale ~ N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def up(cin: int, cout: int) -> nn.ConvTranspose2d:
    """5×5 transposed convolution, stride 2: exactly doubles H and W."""
    return nn.ConvTranspose2d(cin, cout, 5, stride=2, padding=2, output_padding=1, bias=False)


def down(cin: int, cout: int) -> nn.Conv2d:
    """5×5 convolution, stride 2: exactly halves H and W."""
    return nn.Conv2d(cin, cout, 5, stride=2, padding=2, bias=False)


class Generator(nn.Module):
    """G(z): (B, nz) in [-1, 1] → joint images (B, 3, s, 2s) in [-1, 1]. Shapes for the paper preset."""

    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        f, h, w = cfg.ngf, cfg.size // 16, cfg.size // 8
        self.project = nn.Linear(cfg.nz, 8 * f * h * w)  # (B, 100) → (B, 512·4·8)
        self.start_shape = (8 * f, h, w)
        self.net = nn.Sequential(
            nn.BatchNorm2d(8 * f), nn.ReLU(True),  # (B, 512, 4, 8)
            up(8 * f, 4 * f), nn.BatchNorm2d(4 * f), nn.ReLU(True),  # (B, 256, 8, 16)
            up(4 * f, 2 * f), nn.BatchNorm2d(2 * f), nn.ReLU(True),  # (B, 128, 16, 32)
            up(2 * f, f), nn.BatchNorm2d(f), nn.ReLU(True),  # (B, 64, 32, 64)
            nn.ConvTranspose2d(f, cfg.channels, 5, 2, 2, output_padding=1),  # (B, 3, 64, 128)
            nn.Tanh(),
        )
        self.apply(init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z).view(-1, *self.start_shape))


class MinibatchStd(nn.Module):
    """Append the minibatch standard deviation as one extra channel (Karras et al. 2018, §3).

    (B, C, H, W) → (B, C + 1, H, W). The batch is split into groups of ``group`` images (the
    whole batch if it does not divide); each image gets its group's σ.
    """

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = self.group if b % self.group == 0 else b
        y = x.view(g, b // g, c, h, w)  # group j: images j, j + B/g, j + 2B/g, …
        sigma = (y.var(0, unbiased=False) + 1e-8).sqrt().mean((1, 2, 3))  # (B/g,)
        sigma = sigma.repeat(g).view(b, 1, 1, 1).expand(b, 1, h, w)  # (B, 1, H, W)
        return torch.cat([x, sigma], 1)


class Discriminator(nn.Module):
    """D(x): joint images (B, 3, s, 2s) → logits (B,); D(x) = sigmoid(logit). Shapes for the paper preset."""

    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        f = cfg.ndf

        def norm(c):
            return nn.BatchNorm2d(c) if cfg.d_norm in ("bn", "sn+bn") else nn.Identity()

        extra = 1 if cfg.mbstd else 0
        self.net = nn.Sequential(
            nn.Conv2d(cfg.channels, f, 5, 2, 2), nn.LeakyReLU(0.2, True),  # (B, 64, 32, 64)
            down(f, 2 * f), norm(2 * f), nn.LeakyReLU(0.2, True),  # (B, 128, 16, 32)
            down(2 * f, 4 * f), norm(4 * f), nn.LeakyReLU(0.2, True),  # (B, 256, 8, 16)
            down(4 * f, 8 * f), norm(8 * f), nn.LeakyReLU(0.2, True),  # (B, 512, 4, 8)
            *([MinibatchStd(cfg.mbstd)] if cfg.mbstd else []),  # (B, 512 + 1, 4, 8) with mbstd
            nn.Flatten(),  # (B, 512·4·8), or (B, 513·4·8)
            nn.Linear((8 * f + extra) * (cfg.size // 16) * (cfg.size // 8), 1),  # (B, 1)
        )
        self.apply(init_weights)
        if cfg.d_norm in ("sn", "sn+bn"):  # W → W / σ(W) for every conv and the linear layer
            for m in self.net:
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def sample_z(n: int, nz: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """z ~ U(-1, 1)^nz, shape (n, nz). Explained in "Training the GAN"."""
    z = torch.rand(n, nz, generator=generator, device=generator.device if generator else device)
    return z.mul_(2).sub_(1).to(device)
