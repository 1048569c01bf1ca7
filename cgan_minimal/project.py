"""Completion stage: projection through back-propagation (SPEC §2–3; chapters "The loss terms",
"Projection through back-propagation", "The initialization ablation", "Bidirectional generation").

Given a joint image ``y`` of which only the half marked by the mask M is known (the sketch, for
sketch → photo), find the latent ``z`` whose generated joint image agrees with ``y`` there and
looks real, with G and D frozen:

    ẑ = argmin_z  L_c(z) + λ · L_p(z)                                     (paper, Eq. 2)

    L_c(z) = D_KL(M⊙y ‖ M⊙G(z))   contextual loss                         (Eq. 0)
    L_p(z) = log(1 − D(G(z)))      perceptual loss                         (Eq. 1)

For the KL every pixel is a Bernoulli probability ``p = (v + 1) / 2`` (sketches are nearly
binary: ink or paper), squeezed into [ε, 1 − ε] so that all-black or all-white pixels stay finite:

    D_KL(p ‖ q) = p log(p / q) + (1 − p) log((1 − p) / (1 − q)),   averaged over the known pixels,

so λ means the same thing at every resolution. ``contextual="distribution"`` is the reading of
the authors' code: the ink of the known half, plus ε, normalised into one distribution over
the known pixel values, P from y and Q from G(z), and

    D_KL(P ‖ Q) = Σ_i P_i log(P_i / Q_i),   summed over the known values (it cares where the ink is),

(the authors' code scales it by 100 and, while optimising, uses the other direction KL(Q ‖ P)).
``contextual="l1"`` uses mean |M⊙(G(z) − y)| instead (Yeh et al.'s contextual loss), ``perceptual="nonsat"`` uses −log D(G(z)), the form in
the authors' code. Only z is updated, by SGD with momentum 0.9 (Nesterov optional) or Adam, and
clipped to [-1, 1] after every step, since z ~ U(-1, 1). The answer pastes the known half back:

    x = M⊙y + (1 − M)⊙G(ẑ)                                               (Eq. 3)

Initialization: instead of one random z, draw N candidates and start from the one whose known
half has the **lowest** contextual loss (argmin; paper N = 10).

Early stopping (off by default): the paper runs a fixed number of steps, though most sketches
settle long before. With ``early_stop_tol`` > 0 each sketch b keeps its best total loss L*_b;
a step improves on it when L_b < L*_b − tol · |L*_b|, and after ``early_stop_patience`` steps in
a row without an improvement its ẑ stops where it is and leaves the batch, so that the steps
left are cheaper. ``Completion.steps`` says how many steps each ẑ took.

All sketches of a batch are optimised at once. G and D run in eval mode (BatchNorm uses its
running statistics), so no sample influences another: each z follows the gradient of its own
loss, exactly as if it were optimised alone, only faster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from . import data
from .models import Discriminator, Generator, sample_z


CONTEXTUAL_LOSSES = ("kl", "distribution", "l1")


@dataclass(frozen=True)
class ProjectConfig:
    """Completion settings; defaults follow the paper where it gives a value."""

    lam: float = 0.01  # λ: weight of the perceptual loss (paper: 0.01)
    iters: int = 500  # gradient steps on z (paper: ~500, stable after ~100)
    optimizer: str = "sgd"  # "sgd" with momentum (paper) or "adam"
    lr: float = 0.1  # step size on z (authors: 0.001–0.01 on a summed loss; ours is a per-pixel mean). Adam: ~0.01
    momentum: float = 0.9  # SGD momentum (paper: 0.9)
    nesterov: bool = True  # Nesterov momentum (authors' code)
    contextual: str = "kl"  # "kl" (per-pixel Bernoulli), "distribution" (authors' normalised ink) or "l1"
    perceptual: str = "paper"  # "paper": log(1 − D(G(z))); "nonsat": −log D(G(z)) (authors' code)
    init_candidates: int = 10  # N of best-of-N initialization (paper: 10; authors: 30); 1 = random z
    known: str = "sketch"  # known half: "sketch" (sketch → photo) or "photo" (photo → sketch)
    eps: float = 1e-3  # KL: probabilities squeezed into [eps, 1 − eps], finite for pure black/white
    keep_z: bool = False  # also record z at every step, history["z"]: (iters + 1, B, nz), for plots
    early_stop_tol: float = 0.0  # per-sketch early stopping: a relative improvement smaller than this does not count; 0 = off
    early_stop_patience: int = 20  # a ẑ stops after this many steps in a row without such an improvement

    def validate(self) -> "ProjectConfig":
        problems = []
        if self.iters < 1:
            problems.append(f"iters must be >= 1, got {self.iters}")
        if not (self.lam >= 0 and math.isfinite(self.lam)):
            problems.append(f"lam (λ) must be a finite number >= 0, got {self.lam}")
        if not self.lr > 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if self.init_candidates < 1:
            problems.append(f"init_candidates must be >= 1, got {self.init_candidates}")
        if not 0 < self.eps < 0.5:
            problems.append(f"eps must be in (0, 0.5), got {self.eps}")
        if not (isinstance(self.early_stop_tol, (int, float)) and 0 <= self.early_stop_tol < 1):
            problems.append(f"early_stop_tol (--early-stop) must be a number in [0, 1), 0 = off, got {self.early_stop_tol}")
        if not (isinstance(self.early_stop_patience, int) and not isinstance(self.early_stop_patience, bool) and self.early_stop_patience >= 1):
            problems.append(f"early_stop_patience (--early-stop-patience) must be a whole number >= 1, got {self.early_stop_patience}")
        for name, allowed in (("optimizer", ("sgd", "adam")), ("contextual", CONTEXTUAL_LOSSES),
                              ("perceptual", ("paper", "nonsat")), ("known", ("sketch", "photo"))):
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if problems:
            raise ValueError("invalid completion settings: " + "; ".join(problems))
        return self


# ---------------------------------------------------------------- the two loss terms
def kl_bernoulli(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Elementwise D_KL(Bernoulli(p) ‖ Bernoulli(q)) for p, q in (0, 1). ≥ 0, and 0 where p = q."""
    return p * (p.log() - q.log()) + (1 - p) * (torch.log1p(-p) - torch.log1p(-q))


def to_probability(v: torch.Tensor, eps: float) -> torch.Tensor:
    """Pixels in [-1, 1] → probabilities in [eps, 1 − eps] (an affine squeeze: gradients survive)."""
    return eps + (1 - 2 * eps) * (v.clamp(-1, 1) + 1) / 2


def ink_distribution(v: torch.Tensor, M: torch.Tensor, eps: float) -> torch.Tensor:
    """The ink (1 − v) / 2 + ε of the known values of ``v`` (B, 3, H, W), normalised to sum to 1
    per sample: (B, 3·H·W), 0 off the known half. Explained in "The loss terms"."""
    known = M.expand_as(v).flatten(1)
    ink = ((1 - v.clamp(-1, 1)) / 2 + eps).flatten(1) * known
    return ink / ink.sum(1, keepdim=True)


def kl_distribution(G_z: torch.Tensor, y: torch.Tensor, M: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """D_KL(P ‖ Q) per sample, (B,): P the ink distribution of ``y``, Q that of ``G_z``, on M.

    The authors' reading of "sketches as distributions". Explained in "The loss terms".
    """
    P, Q = ink_distribution(y, M, eps), ink_distribution(G_z, M, eps)
    known = M.expand_as(y).flatten(1).bool()
    return torch.where(known, P * (P.clamp_min(1e-30).log() - Q.clamp_min(1e-30).log()), 0.0).sum(1)


def contextual_loss(G_z: torch.Tensor, y: torch.Tensor, M: torch.Tensor, kind: str = "kl", eps: float = 1e-3) -> torch.Tensor:
    """L_c per sample, shape (B,): KL (or L1) between ``y`` and ``G(z)`` on the known half M.

    ``G_z`` and ``y`` are (B, 3, H, W) in [-1, 1]; M is (1, 1, H, W). ``kind``: "kl" (per-pixel
    Bernoulli, averaged), "distribution" (:func:`kl_distribution`) or "l1". Explained in "The
    loss terms".
    """
    if kind == "distribution":
        return kl_distribution(G_z, y, M, eps)
    if kind == "kl":
        per_pixel = kl_bernoulli(to_probability(y, eps), to_probability(G_z, eps))
    elif kind == "l1":
        per_pixel = (G_z - y).abs()
    else:
        raise ValueError(f"contextual loss must be one of {CONTEXTUAL_LOSSES}, got {kind!r}")
    M = M.expand_as(per_pixel)
    return (per_pixel * M).flatten(1).sum(1) / M.flatten(1).sum(1)


def perceptual_loss(logits: torch.Tensor, kind: str = "paper") -> torch.Tensor:
    """L_p per sample from D's logits l (D = sigmoid(l)).

    ``"paper"``: log(1 − D(G(z))) = −softplus(l); ``"nonsat"``: −log D(G(z)) = softplus(−l).
    Both fall as D finds G(z) more real. Explained in "The loss terms".
    """
    if kind == "paper":
        return -F.softplus(logits)
    if kind == "nonsat":
        return F.softplus(-logits)
    raise ValueError(f"perceptual loss must be 'paper' or 'nonsat', got {kind!r}")


def blend(y: torch.Tensor, G_z: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """x = M⊙y + (1 − M)⊙G(ẑ): the known half exactly as given, the rest generated (Eq. 3)."""
    return torch.where(M.bool(), y, G_z)


# ---------------------------------------------------------------- initialization
@torch.no_grad()
def best_of_n(
    G: Generator, y: torch.Tensor, M: torch.Tensor, n: int, cfg: ProjectConfig = ProjectConfig(),
    generator: torch.Generator | None = None, chunk: int = 1024,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best-of-N initialization: for each of the B targets draw N candidate z and keep the one
    whose G(z) has the lowest contextual loss on the known half.

    Returns ``(z0, loss0)``: (B, nz) and (B,). Explained in "The initialization ablation".
    """
    B, nz = y.shape[0], G.cfg.nz
    device = y.device
    candidates = sample_z(B * n, nz, generator).to(device).view(B, n, nz)
    flat_z = candidates.view(B * n, nz)
    flat_y = y.repeat_interleave(n, dim=0)
    losses = torch.cat([
        contextual_loss(G(flat_z[i : i + chunk]), flat_y[i : i + chunk], M, cfg.contextual, cfg.eps)
        for i in range(0, B * n, chunk)
    ]).view(B, n)
    best = losses.argmin(dim=1)  # the LOWEST loss: argmax would pick the worst start
    rows = torch.arange(B, device=device)
    return candidates[rows, best], losses[rows, best]


# ---------------------------------------------------------------- projection
@dataclass
class Completion:
    """Result of :func:`complete` for a batch of B targets."""

    x: torch.Tensor  # (B, 3, H, W) the blend M⊙y + (1 − M)⊙G(ẑ)
    G_z: torch.Tensor  # (B, 3, H, W) the raw generated joint image G(ẑ)
    z: torch.Tensor  # (B, nz) ẑ, in [-1, 1]
    history: dict[str, torch.Tensor]  # "contextual", "perceptual", "total": (T + 1, B) per step; "z" with keep_z (T + 1, B, nz)
    init_loss: torch.Tensor  # (B,) contextual loss of the starting z
    steps: torch.Tensor  # (B,) steps each ẑ took: iters, or fewer where early stopping ended it; T = steps.max()

    @property
    def photo(self) -> torch.Tensor:
        """The photo half of the blend (the answer for sketch → photo)."""
        return data.split(self.x)[1]

    @property
    def sketch(self) -> torch.Tensor:
        """The sketch half of the blend (the answer for photo → sketch)."""
        return data.split(self.x)[0]


def _check_inputs(G: Generator, y: torch.Tensor, z0: torch.Tensor | None) -> None:
    shape = G.cfg.joint_shape
    if y.ndim != 4 or tuple(y.shape[1:]) != shape:
        raise ValueError(f"complete: targets must be (B, {shape[0]}, {shape[1]}, {shape[2]}) joint images for this model, got {tuple(y.shape)}")
    if not torch.isfinite(y).all() or y.min() < -1 - 1e-5 or y.max() > 1 + 1e-5:
        raise ValueError("complete: targets must be finite and in [-1, 1] (use data.to_tensor)")
    if z0 is not None:
        if tuple(z0.shape) != (y.shape[0], G.cfg.nz):
            raise ValueError(f"complete: z0 must have shape ({y.shape[0]}, {G.cfg.nz}), got {tuple(z0.shape)}")
        if not torch.isfinite(z0).all():
            raise ValueError("complete: z0 contains NaN or inf")


def _losses(G, D, z, y, M, cfg):
    G_z = G(z)
    l_c = contextual_loss(G_z, y, M, cfg.contextual, cfg.eps)
    l_p = perceptual_loss(D(G_z), cfg.perceptual) if cfg.lam > 0 else torch.zeros_like(l_c)
    return G_z, l_c, l_p


def complete(
    G: Generator, D: Discriminator, y: torch.Tensor, cfg: ProjectConfig = ProjectConfig(),
    z0: torch.Tensor | None = None, generator: torch.Generator | None = None, **overrides,
) -> Completion:
    """Complete a batch of joint images ``y`` (B, 3, s, 2s) in [-1, 1] whose ``cfg.known`` half is given.

    Only that half of ``y`` is read. ``z0`` replaces the best-of-N start; keyword ``overrides``
    change single settings, e.g. ``complete(G, D, y, lam=0.1, known="photo")``. G and D are put
    in eval mode and left frozen. With early stopping a sketch's ẑ stops at its current z
    (as the fixed schedule's is its last), and its rows of ``history`` after that step repeat
    its final values, so that ``history[...][-1]`` is every sketch's final loss.
    Explained in "Projection through back-propagation".
    """
    cfg = replace(cfg, **overrides).validate()
    _check_inputs(G, y, z0)
    G.eval(), D.eval()
    flags = [p.requires_grad for p in (*G.parameters(), *D.parameters())]
    for p in (*G.parameters(), *D.parameters()):
        p.requires_grad_(False)
    try:
        M = data.mask(cfg.known, y.shape[2], y.shape[3], device=y.device)
        if z0 is None:
            z0, init_loss = best_of_n(G, y, M, cfg.init_candidates, cfg, generator)
        else:
            with torch.no_grad():
                init_loss = contextual_loss(G(z0), y, M, cfg.contextual, cfg.eps)
        z = z0.detach().clone().clamp_(-1, 1).requires_grad_(True)
        if cfg.optimizer == "sgd":
            opt = torch.optim.SGD([z], lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
        else:
            opt = torch.optim.Adam([z], lr=cfg.lr)
        B = y.shape[0]
        active = torch.arange(B, device=y.device)  # the sketches still optimised: the rows of z, y_active and opt's state
        y_active, z_hat, G_hat = y, torch.empty_like(z0), torch.empty_like(y)  # ẑ and G(ẑ), filled in as sketches stop
        steps = torch.full((B,), cfg.iters, dtype=torch.long, device=y.device)
        hist = {"contextual": [], "perceptual": [], **({"z": []} if cfg.keep_z else {})}

        def record(**values):  # one row of (B, …) per history entry; a stopped sketch keeps its last value
            for name, v in values.items():
                row = hist[name][-1].clone() if hist[name] else v.new_zeros((B, *v.shape[1:]))
                row[active] = v.detach()
                hist[name].append(row)

        for step in range(cfg.iters):
            G_z, l_c, l_p = _losses(G, D, z, y_active, M, cfg)
            total = l_c + cfg.lam * l_p
            record(contextual=l_c, perceptual=l_p, **({"z": z} if cfg.keep_z else {}))
            opt.zero_grad(set_to_none=True)
            total.sum().backward()  # a sum of per-sample losses: each z_b gets its own gradient
            if cfg.early_stop_tol:
                loss = total.detach()
                if step == 0:
                    best, since = loss, torch.zeros_like(active)  # each sketch's best loss, and steps since it
                else:
                    better = loss < best - cfg.early_stop_tol * best.abs()
                    best, since = torch.where(better, loss, best), torch.where(better, 0, since + 1)
                done = since >= cfg.early_stop_patience
                if done.any():  # these stop here, at their current z, and leave the batch
                    z_hat[active[done]], G_hat[active[done]], steps[active[done]] = z.detach()[done], G_z.detach()[done], step
                    keep = ~done
                    active, y_active, best, since = active[keep], y_active[keep], best[keep], since[keep]
                    if not len(active):
                        break
                    z, opt = _keep_rows(opt, z, keep)
            opt.step()
            with torch.no_grad():
                z.clamp_(-1, 1)
        if len(active):  # the sketches that took every step: their loss at the last z
            with torch.no_grad():
                G_z, l_c, l_p = _losses(G, D, z, y_active, M, cfg)
            record(contextual=l_c, perceptual=l_p, **({"z": z} if cfg.keep_z else {}))
            z_hat[active], G_hat[active] = z.detach(), G_z
        if not torch.isfinite(hist["contextual"][-1]).all() or not torch.isfinite(z_hat).all():
            raise FloatingPointError("complete: the loss or z became NaN/inf; lower lr or check the model")
    finally:
        for p, flag in zip((*G.parameters(), *D.parameters()), flags):
            p.requires_grad_(flag)
    contextual, perceptual = torch.stack(hist["contextual"]), torch.stack(hist["perceptual"])
    history = {"contextual": contextual, "perceptual": perceptual, "total": contextual + cfg.lam * perceptual}
    if cfg.keep_z:
        history["z"] = torch.stack(hist["z"])
    return Completion(x=blend(y, G_hat, M), G_z=G_hat, z=z_hat, history=history, init_loss=init_loss, steps=steps)


def _keep_rows(opt: torch.optim.Optimizer, z: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.optim.Optimizer]:
    """z[keep] as a new leaf with those rows of z's gradient, and an optimiser of the same kind whose
    state (momentum; Adam's moments) is that of those rows: each row's update depends on its own only."""
    rows = z.detach()[keep].clone().requires_grad_(True)
    rows.grad = z.grad[keep]
    new = type(opt)([rows], **opt.defaults)
    new.state[rows] = {k: v[keep].clone() if torch.is_tensor(v) and v.ndim else v for k, v in opt.state[z].items()}
    return rows, new


def complete_images(
    G: Generator, D: Discriminator, images, cfg: ProjectConfig = ProjectConfig(), seed: int = 0, batch_size: int = 64, device=None,
    with_steps: bool = False,
) -> tuple[np.ndarray, torch.Tensor]:
    """:func:`complete` for any number of uint8 joint images (N, s, 2s, 3), ``batch_size`` at a time.

    Returns the completed joint images (uint8, the known half as given) and the contextual loss
    at the first and the last step, (2, N); ``with_steps`` adds the steps each ẑ took, (N,).
    The initial z come from one generator seeded with ``seed``, so the result depends only on
    the images, ``cfg`` and ``seed``.
    """
    device = device if device is not None else next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    done, losses, steps = [], [], []
    for i in range(0, len(images), batch_size):
        result = complete(G, D, data.to_tensor(images[i : i + batch_size], device=device), cfg, generator=gen)
        done.append(data.to_image(result.x))
        losses.append(result.history["contextual"][[0, -1]].cpu())
        steps.append(result.steps.cpu())
    out = np.concatenate(done), torch.cat(losses, dim=1)
    return (*out, torch.cat(steps)) if with_steps else out
