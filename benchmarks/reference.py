"""The training step against a reference loop, both as a fraction of this CPU's matmul peak,
measured side by side in one run.

**The reference** is a DCGAN training loop written here the way pytorch/examples' dcgan/main.py
writes it: ``netD.zero_grad()``, D on the real batch (BCE with label 1, backward), G(z), D on
the detached fakes (label 0, backward), ``optimizerD.step()``; ``netG.zero_grad()``, D on the
fakes with label 1, backward, ``optimizerG.step()``; the ``.item()`` of D(x) and D(G(z)) read
every step for the log, and plain ``optim.Adam``. It runs the same networks (the library's G and
D, freshly initialised from one seed), the same optimiser settings (Adam 2e-4, β (0.5, 0.999))
and the same batch (64 images of the embedded faces); D gives logits, so its BCE is
``BCEWithLogitsLoss`` where the example uses a sigmoid and ``BCELoss``.

Two comparisons, like with like:

- ``dcgan``: the library's :meth:`train.Trainer.step` in ``--recipe dcgan`` (which also moves
  the EMA of G, as ``train`` does) against the plain reference loop;
- ``r1_mbstd`` (the default recipe): the library's step against the reference loop with the
  same extras written plainly: D with its minibatch-std layer, the lazy R1 penalty
  (``torch.autograd.grad`` on the real batch, every 16th step, times 16) and the EMA of G (a
  loop over the weights).

FLOPs are counted with the formulas of ``torch.utils.flop_counter`` (convolutions and matrix
products, forward and backward; elementwise work, BatchNorm and Adam are not counted), for a
step with the R1 penalty and one without, weighted 1:15. The peak is the fastest fp32
``torch.mm`` of two 2048×2048 matrices on the same threads, one taken before every turn of the
two loops and ten at the start. A step's time is the fastest of --steps steps
(R1 steps and the others apart), the two loops taking turns step by step: on a machine shared
with other work the fastest step is the one least disturbed, for the peak as for the loops.
``--clock cpu`` times by the CPU seconds of this process instead of the wall clock: with one
thread (OMP_NUM_THREADS=1) they count the work done, not the time other processes held the core.

    python benchmarks/reference.py [--preset cpu] [--steps 48] [--recipes dcgan,r1_mbstd] [--clock wall]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from cgan_minimal import data, train
from cgan_minimal.models import sample_z


class MatmulPeak:
    """FLOP/s of the fastest fp32 n×n matrix product on torch's threads, over every :meth:`measure`."""

    def __init__(self, n: int = 2048):
        self.a, self.b, self.c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
        torch.mm(self.a, self.b, out=self.c)  # warm-up
        self.flops, self.best = 2 * n**3, float("inf")

    def measure(self, repeat: int = 1) -> float:
        for _ in range(repeat):
            self.best = min(self.best, _timed(lambda: torch.mm(self.a, self.b, out=self.c)))
        return self.peak

    @property
    def peak(self) -> float:
        return self.flops / self.best


def matmul_peak(n: int = 2048, repeat: int = 10) -> float:
    """FLOP/s of the best of ``repeat`` fp32 n×n matrix products on torch's threads."""
    return MatmulPeak(n).measure(repeat)


class CountFlops(TorchDispatchMode):
    """FLOPs of the operators run inside it, by FlopCounterMode's formulas (its registry).

    FlopCounterMode itself tracks modules with hooks that ``torch.autograd.grad`` (R1) refuses.
    """

    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **kwargs, out_val=out)
        return out


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}  # cpu: this process's CPU seconds, all threads
clock = CLOCKS["wall"]


def _timed(fn) -> float:
    t0 = clock()
    fn()
    return clock() - t0


class Reference:
    """pytorch/examples dcgan/main.py's loop, on the library's networks (optionally with R1 and EMA)."""

    def __init__(self, netG, netD, nz: int, r1_gamma: float = 0.0, r1_every: int = 16, ema_decay: float = 0.0, seed: int = 0):
        self.netG, self.netD, self.nz = netG, netD, nz
        self.r1_gamma, self.r1_every, self.ema_decay = r1_gamma, r1_every, ema_decay
        self.G_ema = copy.deepcopy(netG).eval().requires_grad_(False) if ema_decay else None
        self.criterion = nn.BCEWithLogitsLoss()
        self.optimizerD = optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optimizerG = optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.gen = torch.Generator().manual_seed(seed)
        self.i = 0
        self.log = []

    def step(self, real_cpu: torch.Tensor) -> None:
        netG, netD, criterion = self.netG, self.netD, self.criterion
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), 1.0, dtype=real_cpu.dtype)
        r1 = self.r1_gamma > 0 and self.i % self.r1_every == 0
        if r1:
            real_cpu = real_cpu.detach().requires_grad_(True)
        output = netD(real_cpu)
        errD_real = criterion(output, label)
        if r1:  # (γ/2) E‖∇ₓD(x)‖², times r1_every (lazy regularisation)
            (grad,) = torch.autograd.grad(output.sum(), real_cpu, create_graph=True)
            errD_real = errD_real + self.r1_every * 0.5 * self.r1_gamma * grad.pow(2).flatten(1).sum(1).mean()
        errD_real.backward()
        D_x = output.mean().item()
        noise = sample_z(batch_size, self.nz, self.gen)
        fake = netG(noise)
        label.fill_(0.0)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        self.optimizerD.step()
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(1.0)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        self.optimizerG.step()
        if self.G_ema is not None:
            with torch.no_grad():
                for e, p in zip(self.G_ema.parameters(), netG.parameters()):
                    e.mul_(self.ema_decay).add_(p, alpha=1 - self.ema_decay)
        self.log.append((errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))
        self.i += 1


def library(recipe: str, preset: str, seed: int = 0) -> train.Trainer:
    cfg = train.TrainConfig(preset=preset, recipe=recipe, batch_size=64, device="cpu", seed=seed)
    return train.Trainer.create(cfg)


def step_times(loops: dict, real: torch.Tensor, steps: int, peak: MatmulPeak) -> dict[str, dict[bool, float]]:
    """Per loop, the fastest step with and without the R1 penalty, over ``steps`` steps each; the
    loops and a matrix product for the peak take turns, so that load from elsewhere falls on all alike."""
    best = {name: {False: float("inf"), True: float("inf")} for name in loops}
    for _ in range(steps):
        peak.measure()
        for name, (step, is_r1) in loops.items():
            r1 = is_r1()
            best[name][r1] = min(best[name][r1], _timed(lambda: step(real)))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="cpu", help="model preset (default %(default)s)")
    ap.add_argument("--recipes", default="dcgan,r1_mbstd", help="library recipes to compare (default %(default)s)")
    ap.add_argument("--steps", type=int, default=48, help="steps timed per loop (default %(default)s; 16 hold one R1 step)")
    ap.add_argument("--clock", choices=list(CLOCKS), default="wall",
                    help="wall seconds, or the CPU seconds of this process (less disturbed by other work on the machine; with 1 thread) (default %(default)s)")
    a = ap.parse_args()
    global clock
    clock = CLOCKS[a.clock]
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, preset {a.preset}, batch 64, {a.clock} clock")
    matmul = MatmulPeak()
    matmul.measure(10)
    for recipe in a.recipes.split(","):
        lib = library(recipe, a.preset)
        cfg = lib.cfg
        real = data.to_tensor(data.faces_dataset(64, size=lib.model_cfg.size).images)
        netG, netD = copy.deepcopy(lib.G), copy.deepcopy(lib.D)  # the same initial weights
        ref = Reference(netG, netD, lib.model_cfg.nz, r1_gamma=cfg.r1_gamma, r1_every=cfg.r1_every, ema_decay=0.0 if recipe == "dcgan" else cfg.ema_decay)
        lib.G.train(), lib.D.train(), netG.train(), netD.train()
        r1 = cfg.r1_gamma > 0
        if r1 and a.steps < cfg.r1_every:
            raise SystemExit(f"--steps {a.steps}: recipe {recipe} needs at least {cfg.r1_every} to time one R1 step")
        loops = {"library": (lib.step, lambda: r1 and lib.steps % cfg.r1_every == 0),
                 "reference": (ref.step, lambda: r1 and ref.i % ref.r1_every == 0)}
        flops = {}
        for name, (step, is_r1) in loops.items():
            counted = {}
            while len(counted) < (2 if r1 else 1):  # a step of each kind
                kind = is_r1()
                with CountFlops() as count:
                    step(real)
                counted.setdefault(kind, count.flops)
            flops[name] = counted
        best = step_times(loops, real, a.steps, matmul)
        peak = matmul.peak
        k = cfg.r1_every
        mix = {False: (k - 1) / k, True: 1 / k} if r1 else {False: 1.0}  # lazy R1: one step in k

        def per_step(d):
            return sum(w * d[k] for k, w in mix.items())

        print(f"matmul peak (fp32 2048×2048 torch.mm, the fastest of all so far): {peak / 1e9:.0f} GFLOP/s")
        extras = "the plain loop" if recipe == "dcgan" else "the loop + minibatch-std D, lazy R1 every 16, EMA of G"
        print(f"recipe {recipe} against {extras}; per step, the fastest of {a.steps}"
              + (f" (R1 steps and the others apart, weighted 1:{k - 1})" if r1 else "") + ":")
        t, f = {}, {}
        for name in loops:
            t[name], f[name] = per_step(best[name]), per_step(flops[name])
            print(f"  {name:9s} {t[name] * 1000:7.1f} ms  {f[name] / 1e9:6.2f} GFLOP  {f[name] / t[name] / 1e9:6.1f} GFLOP/s  "
                  f"{f[name] / t[name] / peak:5.1%} of the matmul peak")
        print(f"  ratio     {t['reference'] / t['library']:7.2f}x faster than the reference "
              f"(the reference's time for the library's FLOPs: {f['library'] / t['reference'] / peak:.1%} of the peak)")


if __name__ == "__main__":
    main()
