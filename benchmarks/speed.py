"""Side-by-side speed measurements, each printed as a ratio measured in this one run.

1. Completion: 64 sketches optimised together in one batch vs the same 64 one at a time
   (same model, same starting z, same number of steps; the results agree, see the check).
2. Training: the G step with D's weights frozen (requires_grad False) vs not frozen.
3. The embedded dataset: seconds to render 10,000 faces with their sketches.

    python benchmarks/speed.py [--preset cpu] [--iters 50] [--n 64] [--checkpoint RUN]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from cgan_minimal import data, project, train
from cgan_minimal.models import Discriminator, Generator, preset, sample_z


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def completion(G, D, y, iters: int) -> None:
    z0 = sample_z(len(y), G.cfg.nz, torch.Generator().manual_seed(0))
    cfg = project.ProjectConfig(iters=iters)
    batched = {}

    def together():
        r = project.complete(G, D, y, cfg, z0=z0)
        batched["batch"] = (r.z, r.history["contextual"][-1])

    def one_by_one():
        rs = [project.complete(G, D, y[i : i + 1], cfg, z0=z0[i : i + 1]) for i in range(len(y))]
        batched["single"] = (torch.cat([r.z for r in rs]), torch.cat([r.history["contextual"][-1] for r in rs]))

    project.complete(G, D, y[:2], cfg, z0=z0[:2])  # warm-up
    t_batch, t_single = timed(together, 2), timed(one_by_one, 1)
    (z_b, loss_b), (z_s, loss_s) = batched["batch"], batched["single"]
    print(f"completion of {len(y)} sketches, {iters} steps each ({G.cfg.ngf=}):")
    print(f"  one batch    {t_batch:7.2f} s")
    print(f"  one at a time {t_single:6.2f} s")
    print(f"  ratio        {t_single / t_batch:7.1f}x faster batched")
    print(f"  final contextual loss {loss_b.mean():.4f} batched vs {loss_s.mean():.4f} alone "
          f"(max |Δẑ| {(z_b - z_s).abs().max():.1e}: float round-off only)")


def g_step(G, D, opt, freeze: bool, batch: int = 64, steps: int = 10) -> float:
    z = sample_z(batch, G.cfg.nz, torch.Generator().manual_seed(0))
    ones = torch.ones(batch)

    def run():
        for _ in range(steps):
            D.requires_grad_(not freeze)
            opt.zero_grad(set_to_none=True)
            D.zero_grad(set_to_none=True)
            F.binary_cross_entropy_with_logits(D(G(z)), ones).backward()
            opt.step()

    run()  # warm-up
    return timed(run, 3) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--checkpoint", default=None, help="a trained run (default: freshly initialised nets)")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--iters", type=int, default=50)
    a = ap.parse_args()
    torch.manual_seed(0)
    if a.checkpoint:
        G, D, cfg, _ = train.load_models(a.checkpoint)
    else:
        cfg = preset(a.preset)
        G, D = Generator(cfg).eval(), Discriminator(cfg).eval()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, preset size {cfg.size}, width {cfg.ngf}")
    y = data.to_tensor(data.faces_dataset(a.n, size=cfg.size, start=data.HELD_OUT_START).images)
    completion(G, D, y, a.iters)

    G, D = Generator(cfg).train(), Discriminator(cfg).train()
    opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    t_free, t_frozen = g_step(G, D, opt, freeze=False), g_step(G, D, opt, freeze=True)
    print("G step (batch 64):")
    print(f"  D trainable  {t_free * 1000:7.1f} ms")
    print(f"  D frozen     {t_frozen * 1000:7.1f} ms")
    print(f"  ratio        {t_free / t_frozen:7.2f}x faster frozen")
    t_faces = timed(lambda: data.faces_dataset(10000, size=cfg.size))
    print(f"embedded dataset: 10,000 joint faces in {t_faces:.1f} s")


if __name__ == "__main__":
    main()
